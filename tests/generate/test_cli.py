"""The real ``gateway generate`` command, run as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_process import run_gateway


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    assert "│" not in result.stderr
    for word in words:
        assert word in lines[0]


def test_generate_then_keep(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = run_gateway(
        "generate", "--data-dir", str(data), "--years", "1", "--scale", "0.01", "--seed", "5"
    )
    assert first.returncode == 0, first.stderr
    assert "Generated synthetic warehouse" in first.stdout
    assert "seed 5, 1 year to 2026-10" in first.stdout
    assert sorted(p.name for p in data.iterdir()) == ["basemaps.gpkg", "warehouse.duckdb"]
    again = run_gateway(
        "generate", "--data-dir", str(data), "--years", "1", "--scale", "0.01", "--seed", "5"
    )
    assert again.returncode == 0
    assert "Kept existing" in again.stdout
    other = run_gateway(
        "generate", "--data-dir", str(data), "--years", "1", "--scale", "0.01", "--seed", "6"
    )
    assert_one_line_error(other, "seed 5", "--force")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--bogus"], ["--bogus"]),
        (["--scale", "0"], ["scale"]),
        (["--scale", "-2"], ["scale"]),
        (["--scale", "lots"], ["--scale"]),
        (["--years", "0"], ["years"]),
        (["--end-month", "2026-13"], ["end month"]),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, args: list[str], words: list[str]
) -> None:
    data = tmp_path / "data"
    assert_one_line_error(run_gateway("generate", "--data-dir", str(data), *args), *words)
    assert not data.exists()


def test_missing_data_dir_option() -> None:
    assert_one_line_error(run_gateway("generate"), "--data-dir")


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    assert_one_line_error(
        run_gateway("generate", "--data-dir", str(target)), str(target), "is a file"
    )
    assert target.read_text() == "keep me"


def test_unwritable_directory(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        target = Path("/proc/gateway-generate-cli-test")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        target = locked / "data"
    assert_one_line_error(run_gateway("generate", "--data-dir", str(target)), str(target))


def test_interrupted_run_leaves_nothing_behind(tmp_path: Path) -> None:
    data = tmp_path / "data"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway",
            "generate",
            "--data-dir",
            str(data),
            "--years",
            "2",
            "--scale",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while (
        not list(data.glob(".warehouse.tmp-*"))
        and time.monotonic() < deadline
        and process.poll() is None
    ):
        time.sleep(0.05)
    assert process.poll() is None, "finished before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "Traceback" not in stderr
    assert list(data.iterdir()) == []
