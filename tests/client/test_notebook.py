"""The example notebook runs top to bottom against a live demo server (executed with nbclient),
connecting from the saved login profile alone, and shows every result it computes."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import nbformat
from nbclient import NotebookClient

from gateway.client.profile import ClientConfig, save_config

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "analyst_quickstart.ipynb"


def _shown(cell: nbformat.NotebookNode) -> str:
    """What a code cell put on the page (printed text and its displayed value)."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def test_quickstart_notebook_runs_from_the_saved_login(live_gateway, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    config = tmp_path / "config.toml"
    save_config(ClientConfig(live_gateway.url, live_gateway.token("h.lee"), "SA-2026"), config)
    for name in ("GATEWAY_URL", "GATEWAY_TOKEN", "GATEWAY_PURPOSE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GATEWAY_CONFIG", str(config))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    code = [c for c in notebook.cells if c.cell_type == "code"]
    text = "\n".join(_shown(c) for c in code)
    assert "h.lee (Hartlepool Borough Council): level general" in text
    assert "refused (table_not_permitted, query q" in text
    # every cell that computes something shows it (the last one only closes the connection)
    silent = [c.source.splitlines()[0] for c in code[:-1] if not _shown(c).strip()]
    assert not silent, silent

    # the rate is annual: the 12 months to the last month with data, as the raw warehouse says
    (rates,) = [c for c in code if "crimes_per_1000_a_year" in c.source]
    with duckdb.connect(str(live_gateway.data_dir / "warehouse.duckdb"), read_only=True) as raw:
        last = raw.execute("SELECT date_trunc('month', max(recorded_at)) FROM crime").fetchone()
        assert last is not None
        last_month: date = last[0]
        first_month = date(
            last_month.year - (last_month.month < 12), (last_month.month % 12) + 1, 1
        )
        row = raw.execute(
            "SELECT count(*), any_value(la.population) FROM crime c "
            "JOIN local_authority la USING (local_authority_code) "
            "WHERE la.name = 'Hartlepool' AND recorded_at >= $first "
            "AND recorded_at < $last + INTERVAL 1 MONTH",
            {"first": first_month, "last": last_month},
        ).fetchone()
    assert row is not None
    crimes, population = row
    shown = _shown(rates)
    assert f"12 months: {first_month:%B %Y} to {last_month:%B %Y}" in shown
    assert f"{round(1000 * crimes / population, 1)}" in shown, (crimes, population, shown)
    assert json.dumps(notebook.metadata)  # still a notebook nbformat can write
