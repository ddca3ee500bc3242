"""Print the versions that differ from the lock (requirements/constraints.txt).

``python .ci/lock_diff.py LOCK`` compares what this interpreter has installed with LOCK (used
by ``.ci/newest``); ``python .ci/lock_diff.py OLD --against NEW`` compares two locks (used by
``.ci/upgrade-lock``). One line per package that differs; always exits 0, the tests decide.

Example:
    $ python .ci/lock_diff.py requirements/constraints.txt
    duckdb: locked 2.0.1, installed 2.0.2
"""

from __future__ import annotations

import argparse
import re
from importlib.metadata import distributions
from pathlib import Path

#: Installed in every venv, or the project itself: never in the lock.
_NOT_LOCKED = {"pip", "setuptools", "wheel", "partnership-gateway"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s*(;.*)?$")


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def read_lock(path: Path) -> dict[str, list[str]]:
    """Package → its pins: ``2.0.1``, or one per Python range (``2.4.6 ; python_full_version < '3.12'``)."""
    pins: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := _PIN.match(line):
            pins.setdefault(_name(match[1]), []).append(f"{match[2]} {match[3] or ''}".strip())
    return pins


def installed() -> dict[str, str]:
    """Package → version, for everything this interpreter can import from."""
    return {_name(d.metadata["Name"]): d.version for d in distributions()}


def against_installed(lock: dict[str, list[str]], versions: dict[str, str]) -> list[str]:
    """Installed versions no pin of their package allows, and packages the lock lacks."""
    lines = []
    for name in sorted(lock.keys() | versions.keys()):
        pins, version = lock.get(name, []), versions.get(name)
        if name in _NOT_LOCKED or (version is None and all(";" in p for p in pins)):
            continue  # a package only some platforms or Pythons need
        if version is None or version not in {p.split(" ", 1)[0] for p in pins}:
            lines.append(f"{name}: locked {' | '.join(pins) or '-'}, installed {version or '-'}")
    return lines


def against_lock(old: dict[str, list[str]], new: dict[str, list[str]]) -> list[str]:
    """Packages whose pins changed between two locks."""
    return [
        f"{name}: was {' | '.join(old.get(name, [])) or '-'}, now {' | '.join(new.get(name, [])) or '-'}"
        for name in sorted(old.keys() | new.keys())
        if old.get(name) != new.get(name)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lock", type=Path)
    parser.add_argument("--against", type=Path, help="another lock file instead of this venv")
    args = parser.parse_args()
    lock = read_lock(args.lock)
    if args.against is None:
        lines = against_installed(lock, installed())
        title = f"versions installed here that differ from {args.lock}"
    else:
        lines = against_lock(lock, read_lock(args.against))
        title = f"{args.against}: what changed"
    print(f"{title}: {len(lines) or 'none'}")
    for line in lines:
        print(f"  {line}")


if __name__ == "__main__":
    main()
