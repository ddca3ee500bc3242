"""Governed exports: policy applies, the audit log registers the file's hash, record-level
exports by general and enhanced users wait for the analyst's designated senior analyst (or a
deputy), and nothing leaves unapproved."""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pyogrio
import pytest

from gateway.audit import audit_tables
from gateway.audit.kinds import EventKind
from gateway.datadir import DataDir
from gateway.errors import (
    AccessDenied,
    CommentRequired,
    Conflict,
    GatewayError,
    InputError,
    NotFound,
    SelfApproval,
    StepOutOfOrder,
    WrongRole,
)
from gateway.exports import (
    approve_export,
    export_base_layer,
    export_query,
    export_record,
    list_exports,
    open_export,
    reject_export,
)
from gateway.exports.writers import sha256_file
from gateway.service import QueryService
from tests.exports.helpers import (
    ANALYST,
    DEPUTY,
    ENHANCED,
    MIDDLESBROUGH,
    OTHER_SENIOR,
    PER_LSOA_SQL,
    POINTS_SQL,
    SENIOR,
    UNDESIGNATED_SENIOR,
)

ADDRESS_TYPES = ("dwelling", "commercial", "licensed_premises", "education", "transport")


def _warehouse(export_dir: DataDir, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(export_dir.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_general_point_export_holds_no_exact_location(
    service: QueryService, export_dir: DataDir
) -> None:
    exported = export_query(
        service, ANALYST, "SELECT * FROM location", "SA-2026", format="gpkg", data_dir=export_dir
    )
    frame = pyogrio.read_dataframe(exported.path)
    assert len(frame) > 100
    exported_xy = set(zip(frame.geometry.x.round(3), frame.geometry.y.round(3), strict=True))
    points = {
        (round(x, 3), round(y, 3))
        for x, y in _warehouse(export_dir, "SELECT easting, northing FROM map_point")
    }
    exact = {
        (round(x, 3), round(y, 3))
        for x, y in _warehouse(
            export_dir,
            "SELECT easting, northing FROM location WHERE local_authority_code = "
            f"'{MIDDLESBROUGH}' AND location_type IN {ADDRESS_TYPES}",
        )
    }
    assert exported_xy <= points  # every point is an anonymous map point …
    assert exported_xy & (exact - points) == set()  # … and no address's own position
    assert len(exact - points) > 100  # (there were plenty to leak)
    # The attribute columns are masked the same way: no full postcode, no dwelling address.
    dwellings = frame[frame["location_type"] == "dwelling"]
    assert dwellings["address"].str.startswith("On or near ").all()
    assert frame["postcode"].dropna().str.fullmatch(r"[A-Z]{1,2}\d[A-Z\d]? \d").all()
    assert set(frame["local_authority_code"]) == {MIDDLESBROUGH}


def test_general_export_carries_no_field_the_policy_hides(
    service: QueryService, export_dir: DataDir
) -> None:
    exported = export_query(
        service,
        ANALYST,
        "SELECT * FROM crime",
        "SA-2026",
        format="csv",
        data_dir=export_dir,
        options={"csv_comment": False},
    )
    frame = pyogrio.read_dataframe(exported.path)
    hidden_text = {str(v) for (v,) in _warehouse(export_dir, "SELECT modus_operandi FROM crime")}
    assert frame["modus_operandi"].replace("", None).isna().all()
    assert not (set(frame.astype(str).to_numpy().ravel()) & hidden_text)
    refs = frame["crime_ref"].astype(str)
    assert refs.str.match(r"^\*+.{4}$").all()  # last four characters only
    assert set(frame["local_authority_code"]) == {MIDDLESBROUGH}


def test_export_is_registered_with_the_file_hash(
    service: QueryService, export_dir: DataDir
) -> None:
    exported = export_query(
        service, ANALYST, PER_LSOA_SQL, "SA-2026", format="tab", data_dir=export_dir
    )
    events = [
        e
        for e in service.audit.events(kinds=[EventKind.EXPORT_REGISTERED])
        if e.details["query_id"] == exported.export_id
    ]
    assert len(events) == 1
    (event,) = events
    assert event.actor == ANALYST.username
    assert event.organisation == ANALYST.organisation
    assert event.details["file_sha256"] == sha256_file(exported.path) == exported.sha256
    assert event.details["bytes"] == exported.path.stat().st_size
    assert event.details["format"] == "tab"
    assert event.details["file_name"] == f"export_{exported.export_id}.zip"  # names its query
    assert event.details["marking"] == "OFFICIAL-SENSITIVE"
    assert event.details["approval"] == "not_required"
    # The query itself went through the audited path, with the same id.
    (query,) = [q for q in service.audit.queries() if q.query_id == exported.export_id]
    assert query.status == "completed"
    assert query.request["user"] == ANALYST.username
    assert query.request["purpose"] == "SA-2026"


def test_record_level_export_waits_for_a_senior_analyst(
    service: QueryService, export_dir: DataDir
) -> None:
    exported = export_query(
        service, ANALYST, POINTS_SQL, "SA-2026", format="gpkg", data_dir=export_dir
    )
    assert exported.data_class == "record"
    assert exported.approval == "pending"
    assert exported.authorisers == ("s.patel", "m.hughes")
    assert exported.provenance.approval == "pending"
    with pytest.raises(AccessDenied, match=re.escape("awaiting authorisation by 's.patel'")):
        open_export(service, export_dir, ANALYST, exported.export_id)
    with pytest.raises(WrongRole):
        approve_export(service, ANALYST, exported.export_id, comment="mine")
    assert exported.export_id in {
        r.export_id for r in list_exports(service, SENIOR, pending_only=True)
    }
    # The reviewer may open it to check it before deciding.
    assert open_export(service, export_dir, SENIOR, exported.export_id).sha256 == exported.sha256
    record = approve_export(service, SENIOR, exported.export_id, comment="checked: JAG map")
    assert record.approval == "approved"
    assert record.decided_by == SENIOR.username
    assert export_record(service, exported.export_id).approval == "approved"
    released = open_export(service, export_dir, ANALYST, exported.export_id)
    assert released.path == exported.path
    assert released.approval == "approved"
    with pytest.raises(StepOutOfOrder):
        reject_export(service, DEPUTY, exported.export_id, comment="too late")
    kinds = [
        (e.kind, e.actor)
        for e in service.audit.events(kinds=["export.approved", "export.downloaded"])
        if e.details["query_id"] == exported.export_id
    ]
    assert kinds == [
        ("export.downloaded", SENIOR.username),
        ("export.approved", SENIOR.username),
        ("export.downloaded", ANALYST.username),
    ]
    # The audit exports table shows the current state, not just the state at registration.
    (row,) = [
        r
        for r in audit_tables(service.audit.events()).exports.to_pylist()
        if r["query_id"] == exported.export_id
    ]
    assert (row["registered_approval"], row["approval"]) == ("pending", "approved")
    assert (row["decided_by"], row["decision_comment"]) == (SENIOR.username, "checked: JAG map")
    assert row["decided_at"] is not None
    assert (row["downloads"], row["last_downloaded_by"]) == (2, ANALYST.username)


def test_rejected_export_is_never_released(service: QueryService, export_dir: DataDir) -> None:
    exported = export_query(
        service,
        ANALYST,
        "SELECT crime_id, recorded_at FROM crime",
        "SA-2026",
        format="xlsx",
        data_dir=export_dir,
    )
    assert exported.approval == "pending"
    reject_export(service, SENIOR, exported.export_id, comment="not needed at record level")
    with pytest.raises(AccessDenied, match="rejected"):
        open_export(service, export_dir, ANALYST, exported.export_id)
    with pytest.raises(StepOutOfOrder):
        approve_export(service, DEPUTY, exported.export_id, comment="second opinion")


def test_senior_analyst_cannot_approve_their_own_export(
    service: QueryService, export_dir: DataDir
) -> None:
    exported = export_query(
        service,
        SENIOR,
        "SELECT crime_id FROM crime LIMIT 5",
        "SA-2026",
        format="csv",
        data_dir=export_dir,
    )
    assert exported.approval == "pending"
    with pytest.raises(SelfApproval):
        approve_export(service, SENIOR, exported.export_id, comment="my own")
    with pytest.raises(AccessDenied, match="awaiting"):  # nor download it while held
        open_export(service, export_dir, SENIOR, exported.export_id)
    approve_export(service, OTHER_SENIOR, exported.export_id, comment="checked the five ids")
    assert open_export(service, export_dir, SENIOR, exported.export_id).approval == "approved"


def test_only_the_designated_senior_analyst_or_a_deputy_decides(
    service: QueryService, export_dir: DataDir
) -> None:
    exported = export_query(
        service, ANALYST, POINTS_SQL, "SA-2026", format="csv", data_dir=export_dir
    )
    with pytest.raises(WrongRole, match="not the designated senior analyst"):
        approve_export(service, UNDESIGNATED_SENIOR, exported.export_id, comment="looks fine")
    with pytest.raises(AccessDenied, match=re.escape("only 's.patel' or a deputy")):
        open_export(service, export_dir, UNDESIGNATED_SENIOR, exported.export_id)
    with pytest.raises(CommentRequired, match="needs a comment"):
        approve_export(service, DEPUTY, exported.export_id, comment="  ")
    assert export_record(service, exported.export_id).approval == "pending"
    record = approve_export(service, DEPUTY, exported.export_id, comment="deputising: checked")
    assert (record.approval, record.decided_by) == ("approved", DEPUTY.username)
    # once released, oversight may open it
    open_export(service, export_dir, UNDESIGNATED_SENIOR, exported.export_id)
    decisions = [
        e.actor
        for e in service.audit.events(kinds=[EventKind.EXPORT_APPROVED])
        if e.details["query_id"] == exported.export_id
    ]
    assert decisions == [DEPUTY.username]


def test_aggregates_and_reference_layers_pass_straight_through(
    service: QueryService, export_dir: DataDir
) -> None:
    aggregate = export_query(
        service, ANALYST, PER_LSOA_SQL, "SA-2026", format="xlsx", data_dir=export_dir
    )
    assert (aggregate.data_class, aggregate.approval) == ("aggregate", "not_required")
    assert open_export(service, export_dir, ANALYST, aggregate.export_id).sha256 == aggregate.sha256
    layer = export_base_layer(
        service, ANALYST, "map_point", "SA-2026", format="mif", data_dir=export_dir
    )
    assert (layer.data_class, layer.approval) == ("reference", "not_required")
    open_export(service, export_dir, ANALYST, layer.export_id)


def test_enhanced_exports_are_held_too_and_stay_in_their_grant(
    service: QueryService, export_dir: DataDir
) -> None:
    exported = export_query(
        service, ENHANCED, POINTS_SQL, "JAG-2026", format="fgb", data_dir=export_dir
    )
    assert (exported.data_class, exported.approval) == ("record", "pending")
    with pytest.raises(AccessDenied, match=re.escape("awaiting authorisation by 's.patel'")):
        open_export(service, export_dir, ENHANCED, exported.export_id)
    with pytest.raises(WrongRole):
        approve_export(service, OTHER_SENIOR, exported.export_id, comment="not theirs")
    approve_export(service, SENIOR, exported.export_id, comment="JAG map: grant G-1")
    open_export(service, export_dir, ENHANCED, exported.export_id)
    frame = pyogrio.read_dataframe(exported.path)
    exact = set(
        _warehouse(
            export_dir,
            "SELECT c.crime_id, l.easting FROM crime c JOIN location l USING (location_id) "
            f"WHERE c.local_authority_code = '{MIDDLESBROUGH}'",
        )
    )
    got = set(zip(frame["crime_id"].astype(int), np.round(frame.geometry.x, 6), strict=True))
    assert got == {(i, round(x, 6)) for i, x in exact}  # the grant unmasks exact coordinates


def test_others_cannot_see_or_download_an_export(
    service: QueryService, export_dir: DataDir
) -> None:
    exported = export_query(
        service, SENIOR, PER_LSOA_SQL, "SA-2026", format="csv", data_dir=export_dir
    )
    with pytest.raises(NotFound):
        open_export(service, export_dir, ANALYST, exported.export_id)
    assert exported.export_id not in {r.export_id for r in list_exports(service, ANALYST)}
    with pytest.raises(NotFound):
        open_export(service, export_dir, ANALYST, "q-no-such-export")


def test_a_changed_file_is_not_handed_out(service: QueryService, export_dir: DataDir) -> None:
    exported = export_query(
        service, ANALYST, PER_LSOA_SQL, "SA-2026", format="geojson", data_dir=export_dir
    )
    exported.path.write_bytes(exported.path.read_bytes().replace(b"OFFICIAL", b"UNMARKED"))
    with pytest.raises(Conflict, match="no longer matches"):
        open_export(service, export_dir, ANALYST, exported.export_id)


def test_refused_query_writes_no_file(service: QueryService, export_dir: DataDir) -> None:
    before = set(export_dir.exports.iterdir())
    with pytest.raises(GatewayError) as caught:
        export_query(
            service,
            ANALYST,
            "SELECT * FROM intelligence_report",
            "SA-2026",
            format="gpkg",
            data_dir=export_dir,
        )
    assert caught.value.query_id
    assert set(export_dir.exports.iterdir()) == before


@pytest.mark.parametrize(
    ("fmt", "options", "message"),
    [
        ("dwg", None, "unknown export format"),
        ("gpkg", {"colour": "red"}, "unknown export option"),
        ("gpkg", {"crs": 3857}, "EPSG:3857 is not offered"),
        ("csv", {"geometry": "points"}, "carries no geometry"),
        ("kml", {"crs": 27700}, "always EPSG:4326"),
        ("gpkg", {"geometry": "grid", "cell_size": 5}, "cell_size"),
        ("gpkg", {"name": "../../etc/passwd"}, "export option name"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(
    service: QueryService,
    export_dir: DataDir,
    fmt: str,
    options: dict[str, object] | None,
    message: str,
) -> None:
    before = sum(1 for _ in service.audit.events())
    with pytest.raises(InputError, match=message):
        export_query(
            service,
            ANALYST,
            PER_LSOA_SQL,
            "SA-2026",
            format=fmt,
            options=options,
            data_dir=export_dir,
        )
    assert sum(1 for _ in service.audit.events()) == before
