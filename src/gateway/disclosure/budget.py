"""The time and the withdrawal a query grants its disclosure control.

Disclosure control runs after the query, inside the query's own time budget, and stops as soon
as the caller withdraws the query (its HTTP client went away): :func:`protect` calls
:meth:`Budget.check` between cells (and cell suppression between steps of its search), so a
request that is cancelled or out of time stops costing CPU within one cell's work.

Example:
    >>> Budget().check()                                  # no deadline, never withdrawn
    >>> Budget(deadline=0.0).check()
    Traceback (most recent call last):
    ...
    gateway.errors.QueryTimeout: disclosure control ran out of the query's time budget; ...
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.errors import QueryCancelled, QueryTimeout

__all__ = ["Budget"]


def _never() -> bool:
    return False


@dataclass(frozen=True)
class Budget:
    """When disclosure control must stop.

    Attributes:
        deadline: a :func:`time.monotonic` time (the query's own deadline); ``inf``: none.
        cancelled: true once the caller withdrew the query.
    """

    deadline: float = math.inf
    cancelled: Callable[[], bool] = _never

    @classmethod
    def within(cls, seconds: float, cancelled: Callable[[], bool] = _never) -> Budget:
        """A budget of ``seconds`` from now."""
        return cls(deadline=time.monotonic() + seconds, cancelled=cancelled)

    def check(self) -> None:
        """Raise if the query was withdrawn or its time is up.

        Raises:
            QueryCancelled: the caller withdrew the query.
            QueryTimeout: the query's time budget is spent.
        """
        if self.cancelled():
            raise QueryCancelled("the query was withdrawn during disclosure control")
        if time.monotonic() > self.deadline:
            raise QueryTimeout(
                "disclosure control ran out of the query's time budget; "
                "group more coarsely or filter"
            )
