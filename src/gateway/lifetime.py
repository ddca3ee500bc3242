"""``with`` support for the gateway's long-lived resources: leaving the block closes them.

The audit log and its store, the engines and the query service are all used as
``with X.open(…) as x:``; each says how it closes, and :class:`ClosesOnExit` says once that
leaving the block — normally or by an exception — calls :meth:`~ClosesOnExit.close`.

Example:
    >>> class Door(ClosesOnExit):
    ...     def close(self) -> None:
    ...         print("closed")
    >>> with Door() as door:
    ...     print(type(door).__name__)
    Door
    closed
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self

__all__ = ["ClosesOnExit"]


class ClosesOnExit(abc.ABC):
    """Mixin: ``with x:`` gives ``x`` and calls ``x.close()`` on the way out (never swallows)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release what the object holds."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
