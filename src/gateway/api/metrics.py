"""Prometheus metrics, in the text exposition format, without a client library.

    gateway_http_requests_total{route,method,status}       counter
    gateway_http_request_duration_seconds{route}           histogram (until the last byte is sent)
    gateway_errors_total{code}                             counter, every error answer
    gateway_denials_total{code}                            counter, 401/403/429 answers
    gateway_engine_workers / _workers_alive / _running     gauges from the engine
    gateway_engine_worker_restarts_total                   counter from the engine
    gateway_engine_queue_depth                             gauge from the engine
    gateway_engine_queries_total{outcome}                  counter from the engine
                                                           (completed, failed, cancelled)

A query withdrawn because its client disconnected shows as outcome ``cancelled`` and as
error code ``cancelled`` (status 409, answered to nobody).

Labels are route templates (``/v1/audit/reports/{name}``), never raw paths or usernames, so
the series stay few. :class:`MetricsMiddleware` records every request, including the ones
refused before routing (body too large) as route ``unmatched``.

Example:
    >>> m = Metrics()
    >>> m.observe("/v1/query", "POST", 200, 0.012)
    >>> 'gateway_http_requests_total{route="/v1/query",method="POST",status="200"} 1' in m.render()
    True
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import Counter
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.engines.base import EngineStats

__all__ = ["DENIAL_STATUSES", "LATENCY_BUCKETS", "Metrics", "MetricsMiddleware"]

#: Upper bounds (seconds) of the latency histogram's buckets.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Answers counted as denials.
DENIAL_STATUSES = frozenset({401, 403, 429})


def _labels(**labels: str) -> str:
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels.items()
    )
    return "{" + inner + "}"


class Metrics:
    """Thread-safe counters and histograms for one gateway process."""

    def __init__(self, buckets: Iterable[float] = LATENCY_BUCKETS) -> None:
        self.buckets = tuple(sorted(buckets))
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str, str]] = Counter()
        self._hist: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}
        self._errors: Counter[str] = Counter()
        self._denials: Counter[str] = Counter()

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        with self._lock:
            self._requests[(route, method, str(status))] += 1
            counts = self._hist.setdefault(route, [0] * (len(self.buckets) + 1))
            counts[bisect.bisect_left(self.buckets, seconds)] += 1
            self._sums[route] = self._sums.get(route, 0.0) + seconds

    def error(self, code: str, status: int) -> None:
        """Record one error answer by its code."""
        with self._lock:
            self._errors[code] += 1
            if status in DENIAL_STATUSES:
                self._denials[code] += 1

    def render(self, engine: EngineStats | None = None) -> str:
        """All metrics in the Prometheus text format (version 0.0.4)."""
        with self._lock:
            lines = [
                "# HELP gateway_http_requests_total HTTP requests answered.",
                "# TYPE gateway_http_requests_total counter",
            ]
            for (route, method, status), n in sorted(self._requests.items()):
                labels = _labels(route=route, method=method, status=status)
                lines.append(f"gateway_http_requests_total{labels} {n}")
            lines += [
                "# HELP gateway_http_request_duration_seconds Time to answer, last byte sent.",
                "# TYPE gateway_http_request_duration_seconds histogram",
            ]
            for route, counts in sorted(self._hist.items()):
                cumulative = 0
                for bound, n in zip((*self.buckets, float("inf")), counts, strict=True):
                    cumulative += n
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    lines.append(
                        "gateway_http_request_duration_seconds_bucket"
                        f"{_labels(route=route, le=le)} {cumulative}"
                    )
                lines.append(
                    f"gateway_http_request_duration_seconds_sum{_labels(route=route)} "
                    f"{self._sums[route]:.6f}"
                )
                lines.append(
                    f"gateway_http_request_duration_seconds_count{_labels(route=route)} {cumulative}"
                )
            for name, help_text, counter in (
                ("gateway_errors_total", "Error answers by code.", self._errors),
                ("gateway_denials_total", "Refusals (401, 403, 429) by code.", self._denials),
            ):
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
                lines += [f"{name}{_labels(code=c)} {n}" for c, n in sorted(counter.items())]
        if engine is not None:
            lines += _engine_lines(engine)
        return "\n".join(lines) + "\n"


def _engine_lines(stats: EngineStats) -> list[str]:
    out: list[str] = []
    for name, kind, help_text, value in (
        ("gateway_engine_workers", "gauge", "Configured engine workers.", stats.workers),
        ("gateway_engine_workers_alive", "gauge", "Engine workers alive.", stats.workers_alive),
        ("gateway_engine_running", "gauge", "Queries executing now.", stats.running),
        ("gateway_engine_queue_depth", "gauge", "Callers waiting for a worker.", stats.queue_depth),
        (
            "gateway_engine_worker_restarts_total",
            "counter",
            "Engine workers replaced (killed or died).",
            stats.restarts,
        ),
    ):
        out += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value}"]
    out += [
        "# HELP gateway_engine_queries_total Queries the engine finished, by outcome.",
        "# TYPE gateway_engine_queries_total counter",
        f'gateway_engine_queries_total{{outcome="completed"}} {stats.completed}',
        f'gateway_engine_queries_total{{outcome="failed"}} {stats.failed}',
        f'gateway_engine_queries_total{{outcome="cancelled"}} {stats.cancelled}',
    ]
    return out


class MetricsMiddleware:
    """Pure ASGI middleware: time every HTTP request until its last byte and count it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(
                str(template), str(scope.get("method", "")), status, time.perf_counter() - began
            )
