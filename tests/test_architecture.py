"""The architecture contract (``[tool.importlinter]`` in pyproject.toml, listed in README.md's
Layout section).

import-linter checks the layers and that no two subpackages import each other, counting
function-local imports. The second test shows the check has teeth: a copy of the package with
one upward import (the policy importing the CLI) must fail it, naming that import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "gateway"


def lint_imports(source: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter with the repository's contract on the package under ``source``."""
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))"
    )
    env = {**os.environ, "PYTHONPATH": str(source)}
    return subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=source,
        timeout=120,
        check=False,
    )


def test_the_layers_hold_and_no_subpackages_import_each_other() -> None:
    run = lint_imports(PACKAGE.parent)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Layers (top to bottom) KEPT" in run.stdout
    assert "No import cycles between the subpackages of gateway KEPT" in run.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    copy = tmp_path / "src" / "gateway"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    model = copy / "policy" / "model.py"
    text = model.read_text(encoding="utf-8")
    model.write_text(text.replace("\nfrom gateway.", "\nimport gateway.cli\nfrom gateway.", 1))
    run = lint_imports(copy.parent)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Layers (top to bottom) BROKEN" in run.stdout
    assert "gateway.policy is not allowed to import gateway.cli" in run.stdout
    assert "gateway.policy.model -> gateway.cli" in run.stdout
    # the CLI imports the policy (through the deployment), so this is a cycle as well
    assert "No import cycles between the subpackages of gateway BROKEN" in run.stdout


def readme_layers() -> list[str]:
    """The layers as README.md's Layout section lists them (the unindented lines of its first
    code block, up to the first run of two spaces)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("\n## Layout\n", 1)[1].split("```", 2)[1]
    return [line.split("  ", 1)[0].strip() for line in block.splitlines()[1:] if line[:1].strip()]


def test_the_readme_lists_the_layers_of_the_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    [layers] = [
        c["layers"] for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"
    ]
    assert readme_layers() == [layer for layer in layers if layer != "__main__"]
