"""Product QA (policy 198 3.2: a selection of products QA'd by the senior analyst) over real
HTTP and the command line: a product is held for the analyst's designated senior analyst (or a
deputy); a returned product is never downloadable, a passed one is; the sampling rate in the
policy decides which products are held, by the product id's hash, recorded; every product's
manifest and hashes are kept."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from gateway.audit.kinds import EventKind
from gateway.cli.demo import SA_PURPOSE, demo_users, users_toml
from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.products.release import needs_qa, product_records, qa_sample
from tests.gateway_server import REPO, UNDESIGNATED_SENIOR, LiveGateway

PACK = "/v1/products/strategic-assessment"


def _build(gateway: LiveGateway, user: str, area: str) -> Any:
    with gateway.client(user, timeout=300) as http:
        return http.post(PACK, json={"area": area, "year": 2025, "purpose": SA_PURPOSE})


def _post(gateway: LiveGateway, user: str, path: str, body: dict[str, Any]) -> Any:
    with gateway.client(user) as http:
        return http.post(path, json=body)


def _get(gateway: LiveGateway, user: str, path: str) -> Any:
    with gateway.client(user) as http:
        return http.get(path)


def test_a_returned_product_is_never_downloadable_a_passed_one_is(
    release_gateway: LiveGateway,
) -> None:
    built = _build(release_gateway, "a.khan", "E06000002")
    assert built.status_code == 202, built.text
    held = built.json()
    product_id = held["product_id"]
    assert (held["qa"], held["qa_sample_rate"]) == ("pending", 1.0)
    assert held["authorisers"] == ["s.patel", "m.hughes"]
    file = f"/v1/products/{product_id}/file"
    refused = _get(release_gateway, "a.khan", file)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "release_held")
    queue = _get(release_gateway, "s.patel", "/v1/products?pending=true").json()["products"]
    assert product_id in {p["product_id"] for p in queue}
    # not the owner, not another senior analyst, not without a comment
    for user, code in (("a.khan", "wrong_role"), (UNDESIGNATED_SENIOR, "wrong_role")):
        answer = _post(release_gateway, user, f"/v1/products/{product_id}/pass", {"comment": "ok"})
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, code)
    bare = _post(release_gateway, "s.patel", f"/v1/products/{product_id}/return", {})
    assert (bare.status_code, bare.json()["error"]["code"]) == (400, "comment_required")
    # the designated senior analyst opens it to QA it, and returns it
    assert _get(release_gateway, "s.patel", file).status_code == 200
    returned = _post(
        release_gateway,
        "s.patel",
        f"/v1/products/{product_id}/return",
        {"comment": "section 4: the rate table uses the wrong population"},
    )
    assert (returned.json()["qa"], returned.json()["decided_by"]) == ("returned", "s.patel")
    again = _get(release_gateway, "a.khan", file)
    assert (again.status_code, again.json()["error"]["code"]) == (403, "release_held")
    assert "returned by s.patel" in again.json()["error"]["message"]
    late = _post(release_gateway, "m.hughes", f"/v1/products/{product_id}/pass", {"comment": "x"})
    assert late.status_code == 409
    assert _get(release_gateway, UNDESIGNATED_SENIOR, file).status_code == 403

    # a second attempt, passed by the deputy, is released
    second = _build(release_gateway, "a.khan", "E06000002").json()["product_id"]
    passed = _post(
        release_gateway, "m.hughes", f"/v1/products/{second}/pass", {"comment": "figures checked"}
    )
    assert passed.json()["qa"] == "passed"
    released = _get(release_gateway, "a.khan", f"/v1/products/{second}/file")
    assert released.status_code == 200
    assert released.headers["x-product-qa"] == "passed"
    # the marking travels on the answer (the policy's for record data), held or released
    assert built.headers["x-protective-marking"] == "OFFICIAL-SENSITIVE"
    assert released.headers["x-protective-marking"] == "OFFICIAL-SENSITIVE"


def test_a_senior_analysts_own_product_goes_to_their_senior_analyst(
    release_gateway: LiveGateway,
) -> None:
    product_id = _build(release_gateway, "s.patel", "E06000001").json()["product_id"]
    own = _post(release_gateway, "s.patel", f"/v1/products/{product_id}/pass", {"comment": "ok"})
    assert (own.status_code, own.json()["error"]["code"]) == (403, "self_approval")
    refused = _get(release_gateway, "s.patel", f"/v1/products/{product_id}/file")
    assert refused.status_code == 403


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
        timeout=300,
        check=False,
    )


def test_qa_from_the_command_line(release_gateway: LiveGateway, tmp_path: Path) -> None:
    out = tmp_path / "pack"
    built = _cli(
        release_gateway, "j.taylor", "product", "strategic-assessment", "--area", "E06000004",
        "--year", "2025", "--purpose", SA_PURPOSE, "--output", str(out), tmp=tmp_path,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert "held for quality assurance by s.patel or m.hughes" in built.stderr
    assert not out.exists()
    product_id = re.search(r"product (p\S+) is held", built.stderr).group(1)  # type: ignore[union-attr]
    listed = _cli(release_gateway, "s.patel", "product", "list", "--pending", tmp=tmp_path)
    assert product_id in listed.stdout
    early = _cli(
        release_gateway, "j.taylor", "product", "download", product_id, "-o", str(out),
        tmp=tmp_path,
    )  # fmt: skip
    assert early.returncode != 0
    assert "awaits quality assurance" in early.stderr
    assert "Traceback" not in early.stderr
    passed = _cli(
        release_gateway, "s.patel", "product", "pass", product_id, "--comment", "checked",
        tmp=tmp_path,
    )  # fmt: skip
    assert passed.returncode == 0, passed.stderr
    assert f"product {product_id} by j.taylor: passed" in passed.stdout
    saved = _cli(
        release_gateway, "j.taylor", "product", "download", product_id, "-o", str(out),
        tmp=tmp_path,
    )  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    manifest = json.loads(next(out.glob("*.json")).read_text("utf-8"))
    for entry in manifest["files"]:
        digest = hashlib.sha256((out / entry["file_name"]).read_bytes()).hexdigest()
        assert digest == entry["sha256"]


def test_the_sample_is_the_id_hash_and_the_rate_is_honoured() -> None:
    ids = [f"p20260105T100000Z-{i:016x}" for i in range(20_000)]
    assert all(0.0 <= qa_sample(i) < 1.0 for i in ids)
    assert qa_sample(ids[0]) == qa_sample(ids[0])  # fixed by the id: anyone can re-check it
    for rate in (0.0, 0.1, 0.5, 1.0):
        held = sum(needs_qa(rate, i) for i in ids) / len(ids)
        assert abs(held - rate) < 0.02, (rate, held)


@pytest.fixture(scope="module")
def sampled_dir(small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    """A data directory whose policy samples no product for QA (qa_sample_rate = 0.0)."""
    root = tmp_path_factory.mktemp("products-sampled")
    shutil.copyfile(small_data_dir / "warehouse.duckdb", root / "warehouse.duckdb")
    policy = resources.files("gateway.policy").joinpath("default_policy.toml").read_text("utf-8")
    (root / "policy.toml").write_text(policy + "\n[products]\nqa_sample_rate = 0.0\n", "utf-8")
    from datetime import date

    (root / "users.toml").write_text(users_toml(demo_users(date.today())), "utf-8")
    return DataDir(root)


def test_rate_zero_releases_at_once_and_records_the_sampling(
    sampled_dir: DataDir, tmp_path: Path
) -> None:
    out = tmp_path / "pack"
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "product", "strategic-assessment", "--area",
         "E06000003", "--year", "2025", "--output", str(out), "--data-dir",
         str(sampled_dir.root), "--user", "r.wilson"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.suffix for p in out.iterdir()) == [".html", ".json", ".xlsx"]
    with Deployment.open(sampled_dir, engine=False) as deployment:
        events = list(deployment.audit.events(kinds=[EventKind.PRODUCT_REGISTERED]))
        (record,) = product_records(events).values()
        downloads = list(deployment.audit.events(kinds=[EventKind.PRODUCT_DOWNLOADED]))
    assert (record.qa, record.qa_sample_rate) == ("not_sampled", 0.0)
    assert record.qa_sample == qa_sample(record.product_id)
    assert [e.actor for e in downloads] == ["r.wilson"]
    # the manifest and hashes are kept apart from the files (which exports retention prunes)
    kept = sampled_dir.products / f"{record.product_id}.json"
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == record.manifest_sha256
    assert {name for name, *_ in record.files} == {p.name for p in out.iterdir()}
