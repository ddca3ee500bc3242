"""Every ``gateway …`` command in README.md works as written.

Commands are taken from the README's ``bash`` blocks and its inline code. Each one's command
path and every ``--option`` it names must exist (checked on the CLI's own command tree). Each
complete command — no ``…`` or ``a|b`` — then runs as a real process against a live demo
server, from a folder holding the demo data as ``demo-data`` (as after ``gateway demo``), with
``DIR`` read as that folder and ``YYYY-MM`` as the last month of data; optional ``[…]`` parts
are kept when they hold no placeholder. The commands that start a server and run until
stopped (``gateway demo``, ``gateway serve``) are only checked, not started.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import typer

from gateway.cli import COMMAND_MODULES, app
from tests.gateway_server import LiveGateway

README = Path(__file__).resolve().parents[1] / "README.md"
INCOMPLETE = ("…", "|")
LONG_RUNNING = {("demo",), ("serve",)}
README_URL = "http://127.0.0.1:8000"


def readme_commands() -> list[str]:
    text = README.read_text("utf-8")
    found: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            found += [p for p in re.split(r"\s*&&\s*", line.strip()) if p.startswith("gateway")]
    prose = re.sub(r"```.*?```", "", text, flags=re.S).replace("\n", " ")
    found += [m.group(1) for m in re.finditer(r"`(gateway(?: [^`]*)?)`", prose)]
    return list(dict.fromkeys(" ".join(c.split()) for c in found))


COMMANDS = readme_commands()


def command_path(words: list[str]) -> tuple[Any, tuple[str, ...]]:
    """The CLI command the words name (sub-commands followed as far as they go)."""
    for module in COMMAND_MODULES:  # as `gateway` itself does, every command registered
        importlib.import_module(f"gateway.cli.{module}")
    command = typer.main.get_command(app)  # typer's own click: a group has ``commands``
    path: list[str] = []
    for word in words:
        if not hasattr(command, "commands") or word == "…":
            break
        for name in word.split("|"):  # `template list|show|run`: every one must exist
            assert name in command.commands, f"no command `gateway {' '.join([*path, name])}`"
        sub = command.commands[word.split("|")[0]]
        command, path = sub, [*path, word]
    return command, tuple(path)


def test_the_readme_names_commands() -> None:
    assert len(COMMANDS) >= 15
    assert "gateway product strategic-assessment --area E06000002 --year 2025" in COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_exists_with_its_options(command: str) -> None:
    words = shlex.split(command.replace("[", " ").replace("]", " "))[1:]
    target, _ = command_path([w for w in words if not w.startswith("-")])
    known = {o for p in target.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
    for word in words:
        if word.startswith("--"):
            assert word in known, f"`{command}`: {target.name} has no option {word}"


def runnable(command: str, month: str) -> list[str] | None:
    """The command's arguments as it runs here, or None when it cannot run as written."""
    if any(mark in command for mark in INCOMPLETE):
        return None
    text = re.sub(
        r"\[([^\]]*)\]", lambda m: m.group(1) if "FILE" not in m.group(1) else "", command
    )
    text = text.replace(README_URL, "{url}")
    words = [w.replace("DIR", "demo-data").replace("YYYY-MM", month) for w in shlex.split(text)]
    path = command_path([w for w in words[1:] if not w.startswith("-")])[1]
    if path[:1] and (path[0],) in LONG_RUNNING:
        return None
    return words[1:]


def test_every_complete_readme_command_runs(live_gateway: LiveGateway, tmp_path: Path) -> None:
    (tmp_path / "demo-data").symlink_to(live_gateway.data_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {
        "GATEWAY_URL": live_gateway.url,
        "GATEWAY_TOKEN": live_gateway.token("s.patel"),  # senior analyst, every area
        "GATEWAY_CONFIG": str(tmp_path / "config.toml"),
        "PYTHONPATH": os.pathsep.join(
            str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p
        ),
    }
    commands = {
        command: [a.replace("{url}", live_gateway.url) for a in args]
        for command in COMMANDS
        if (args := runnable(command, "2026-10")) is not None
    }

    def run(command: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "gateway", *commands[command]],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=tmp_path,
            env=env,
            check=False,
        )
        assert done.returncode == 0, f"`{command}` failed:\n{done.stderr}"
        assert "Traceback" not in done.stderr
        return command

    # `gateway login` first (it saves the purpose later commands default to), the rest at once.
    logins = [c for c in commands if commands[c][:1] == ["login"]]
    ran = [run(c) for c in logins]
    with ThreadPoolExecutor(max_workers=4) as pool:
        ran += pool.map(run, [c for c in commands if c not in logins])
    assert "gateway product strategic-assessment --area E06000002 --year 2025" in ran
    # Every product is held for QA by default (policy 198 3.2): the command writes nothing
    # until s.patel's designated senior analyst passes it (tests/products/test_product_qa.py).
    assert list(tmp_path.glob("strategic-assessment-*")) == []
    assert len(ran) >= 8
