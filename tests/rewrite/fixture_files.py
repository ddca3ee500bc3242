"""Reading SQL-in/SQL-out fixture files (sqlglot-style).

A file holds blocks separated by blank lines. Each block: ``# key: value`` header lines
(``title`` required; ``as`` = principal, ``purpose``, ``max_rows``), one input line, one
expected line — the SQL the stage produces, ``OK``, or ``ERROR <code>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Case:
    file: str
    title: str
    headers: dict[str, str]
    sql: str
    expected: str

    @property
    def id(self) -> str:
        return f"{self.file}:{self.title}"


def read_cases(path: Path) -> list[Case]:
    cases = []
    for block in path.read_text("utf-8").strip().split("\n\n"):
        headers: dict[str, str] = {}
        body: list[str] = []
        for line in block.strip().splitlines():
            if line.startswith("# ") and ":" in line and not body:
                key, _, value = line[2:].partition(":")
                headers[key.strip()] = value.strip()
            else:
                body.append(line)
        if len(body) != 2 or "title" not in headers:
            raise ValueError(f"{path.name}: malformed block: {block[:80]!r}")
        cases.append(Case(path.stem, headers["title"], headers, body[0], body[1]))
    return cases
