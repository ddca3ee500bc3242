"""The example notebook runs top to bottom against a live demo server (executed with nbclient)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "analyst_quickstart.ipynb"


def test_quickstart_notebook_runs(live_gateway, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GATEWAY_URL", live_gateway.url)
    monkeypatch.setenv("GATEWAY_TOKEN", live_gateway.token("h.lee"))
    monkeypatch.delenv("GATEWAY_PURPOSE", raising=False)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    outputs = [
        o.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
    ]
    text = "\n".join(outputs)
    assert "h.lee (Hartlepool Borough Council): level general" in text
    assert "refused (table_not_permitted, query q" in text
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
