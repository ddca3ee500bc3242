"""Release control over real HTTP and the command line (policy 198 appendix 2: no data removed
unless a senior analyst authorises it), under the default policy: a record-level export by any
user is held for *their designated* senior analyst or a deputy; nobody approves or downloads
their own held file; another senior analyst cannot decide it; a decision needs a comment;
aggregates under disclosure control pass; a large record-level query answer is refused."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from gateway.cli.demo import JAG_PURPOSE, SA_PURPOSE
from tests.exports.helpers import PER_LSOA_SQL
from tests.gateway_server import REPO, UNDESIGNATED_SENIOR, LiveGateway

RECORDS_SQL = "SELECT crime_id, recorded_at, police_uk_category FROM crime ORDER BY crime_id"


def _export(gateway: LiveGateway, user: str, sql: str, purpose: str, **more: Any) -> Any:
    body = {"sql": sql, "purpose": purpose, "format": "csv", **more}
    with gateway.client(user) as http:
        answer = http.post("/v1/exports", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _post(gateway: LiveGateway, user: str, path: str, body: dict[str, Any]) -> Any:
    with gateway.client(user) as http:
        return http.post(path, json=body)


def _get(gateway: LiveGateway, user: str, path: str) -> Any:
    with gateway.client(user) as http:
        return http.get(path)


def _events(gateway: LiveGateway, kind: str, export_id: str) -> list[dict[str, Any]]:
    with gateway.client("s.patel") as http:
        answer = http.get("/v1/audit/events", params={"kind": kind, "limit": 1000})
    assert answer.status_code == 200, answer.text
    return [e for e in answer.json()["events"] if e["details"].get("query_id") == export_id]


def test_an_enhanced_record_level_export_waits_for_the_designated_senior_analyst(
    release_gateway: LiveGateway,
) -> None:
    held = _export(release_gateway, "e.okafor", f"{RECORDS_SQL} LIMIT 20", JAG_PURPOSE)
    export_id = held["export_id"]
    assert (held["data_class"], held["approval"]) == ("record", "pending")
    assert held["authorisers"] == ["s.patel", "m.hughes"]
    file = f"/v1/exports/{export_id}/file"
    # the analyst cannot take it out, nor approve it
    refused = _get(release_gateway, "e.okafor", file)
    assert refused.status_code == 403
    assert "awaiting authorisation by 's.patel'" in refused.json()["error"]["message"]
    own = _post(release_gateway, "e.okafor", f"/v1/exports/{export_id}/approve", {"comment": "x"})
    assert own.status_code == 403
    # another senior analyst — neither designated nor deputy — can neither decide nor open it
    other = _post(
        release_gateway, UNDESIGNATED_SENIOR, f"/v1/exports/{export_id}/approve", {"comment": "ok"}
    )
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "wrong_role"
    assert "not the designated senior analyst" in other.json()["error"]["message"]
    assert _get(release_gateway, UNDESIGNATED_SENIOR, file).status_code == 403
    # the designated senior analyst may check the file, and decides with a comment
    assert _get(release_gateway, "s.patel", file).status_code == 200
    bare = _post(release_gateway, "s.patel", f"/v1/exports/{export_id}/approve", {})
    assert bare.status_code == 400
    assert bare.json()["error"]["code"] == "comment_required"
    approved = _post(
        release_gateway,
        "s.patel",
        f"/v1/exports/{export_id}/approve",
        {"comment": "JAG-2026-07: twenty crimes for the problem profile"},
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["approval"], approved.json()["decided_by"]) == ("approved", "s.patel")
    released = _get(release_gateway, "e.okafor", file)
    assert released.status_code == 200
    assert hashlib.sha256(released.content).hexdigest() == held["sha256"]
    (decision,) = _events(release_gateway, "export.approved", export_id)
    assert decision["actor"] == "s.patel"
    assert decision["details"]["comment"].startswith("JAG-2026-07")


def test_a_senior_analyst_never_approves_or_downloads_their_own_held_export(
    release_gateway: LiveGateway,
) -> None:
    held = _export(release_gateway, "s.patel", f"{RECORDS_SQL} LIMIT 5", SA_PURPOSE)
    export_id = held["export_id"]
    assert (held["approval"], held["authorisers"]) == ("pending", ["m.hughes"])
    own = _post(release_gateway, "s.patel", f"/v1/exports/{export_id}/approve", {"comment": "ok"})
    assert own.status_code == 403
    assert own.json()["error"]["code"] == "self_approval"
    assert _get(release_gateway, "s.patel", f"/v1/exports/{export_id}/file").status_code == 403
    decided = _post(
        release_gateway, "m.hughes", f"/v1/exports/{export_id}/reject", {"comment": "use counts"}
    )
    assert decided.json()["approval"] == "rejected"
    assert _get(release_gateway, "s.patel", f"/v1/exports/{export_id}/file").status_code == 403


def test_aggregates_under_disclosure_control_pass_without_approval(
    release_gateway: LiveGateway,
) -> None:
    done = _export(release_gateway, "a.khan", PER_LSOA_SQL, SA_PURPOSE, disclosure="policy")
    assert (done["data_class"], done["approval"], done["authorisers"]) == (
        "aggregate",
        "not_required",
        [],
    )
    answer = _get(release_gateway, "a.khan", f"/v1/exports/{done['export_id']}/file")
    assert answer.status_code == 200


def test_a_large_record_level_query_answer_must_be_requested_as_an_export(
    release_gateway: LiveGateway,
) -> None:
    for user, purpose in (("a.khan", SA_PURPOSE), ("e.okafor", JAG_PURPOSE)):
        for fmt in ("csv", "parquet", "arrow", "json"):
            body = {"sql": RECORDS_SQL, "purpose": purpose, "format": fmt}
            refused = _post(release_gateway, user, "/v1/query", body)
            assert refused.status_code == 403, (user, fmt, refused.status_code)
            error = refused.json()["error"]
            assert error["code"] == "export_required"
            assert "request it as an export" in error["message"]
    # its completed audit record says so, and nothing of it was kept
    with release_gateway.client("s.patel") as http:
        events = http.get(
            "/v1/audit/events",
            params={"kind": "query.completed", "actor": "e.okafor", "limit": 1000},
        ).json()["events"]
    refused_ids = {
        e["details"]["query_id"] for e in events if e["details"].get("outcome") == "export_required"
    }
    assert error["query_id"] in refused_ids
    # a look at a few records, and any aggregate, still come straight back
    small = {"sql": f"{RECORDS_SQL} LIMIT 50", "purpose": SA_PURPOSE, "format": "csv"}
    assert _post(release_gateway, "a.khan", "/v1/query", small).status_code == 200
    counts = {
        "sql": "SELECT crime_id % 7 AS k, count(*) AS n FROM crime GROUP BY 1",
        "purpose": SA_PURPOSE,
    }
    assert _post(release_gateway, "a.khan", "/v1/query", counts).status_code == 200


def _cli(
    gateway: LiveGateway, user: str, *args: str, tmp: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GATEWAY_URL": gateway.url,
        "GATEWAY_TOKEN": gateway.token(user),
        "GATEWAY_CONFIG": str(tmp / f"{user}.toml"),
    }
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def test_approval_from_the_command_line(release_gateway: LiveGateway, tmp_path: Path) -> None:
    target = tmp_path / "crimes.csv"
    made = _cli(
        release_gateway, "h.lee", "export", "query", f"{RECORDS_SQL} LIMIT 8",
        "--purpose", SA_PURPOSE, "-o", str(target), tmp=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "held for authorisation by s.patel or m.hughes" in made.stderr
    assert not target.exists()
    export_id = re.search(r"export (q\S+) is held", made.stderr).group(1)  # type: ignore[union-attr]
    wrong = _cli(
        release_gateway, UNDESIGNATED_SENIOR, "export", "approve", export_id, "--comment", "ok",
        tmp=tmp_path,
    )  # fmt: skip
    assert wrong.returncode != 0
    assert "not the designated senior analyst" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    bare = _cli(release_gateway, "m.hughes", "export", "approve", export_id, tmp=tmp_path)
    assert bare.returncode != 0
    assert "needs a comment" in bare.stderr
    approved = _cli(
        release_gateway, "m.hughes", "export", "approve", export_id,
        "--comment", "eight ids for the JAG map", tmp=tmp_path,
    )  # fmt: skip
    assert approved.returncode == 0, approved.stderr
    assert f"export {export_id} by h.lee: approved" in approved.stdout
    saved = _cli(
        release_gateway, "h.lee", "export", "download", export_id, "-o", str(target),
        tmp=tmp_path,
    )  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    assert target.read_text("utf-8").count("\n") >= 8
