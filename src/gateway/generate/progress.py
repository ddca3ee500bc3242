"""Progress reporting for long generation runs: a rich progress bar, or nothing.

Example:
    >>> with progress_reporter(enabled=False, total=3) as report:
    ...     report("crimes")
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Reporter", "progress_reporter"]

Reporter = Callable[[str], None]
"""Called once per finished step with a short label of the step that follows."""


@contextmanager
def progress_reporter(*, enabled: bool, total: int) -> Iterator[Reporter]:
    """A reporter that advances a bar of ``total`` steps on stderr (or does nothing)."""
    if not enabled:
        yield lambda _label: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(file=sys.stderr)) as bar:
        task = bar.add_task("generating", total=total)

        def report(label: str) -> None:
            bar.update(task, advance=1, description=label)

        yield report
