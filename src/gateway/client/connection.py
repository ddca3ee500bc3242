"""A connection to a gateway: queries as polars DataFrames or Arrow tables, over HTTP.

Results travel as an Arrow IPC stream and are read batch by batch as they arrive; the client
checks the stream against the ``X-Result-Sha256`` header (the audit record's fingerprint).

Example:
    >>> with connect("http://127.0.0.1:8000", token, purpose="SA-2026") as gw:  # doctest: +SKIP
    ...     gw.query("SELECT police_uk_category, count(*) AS n FROM crime GROUP BY 1")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

import gateway
from gateway.client import templates as template_client
from gateway.client.access import AccessClient
from gateway.client.errors import (
    ClientError,
    ConnectionFailed,
    RequestTimedOut,
    UnexpectedResponse,
    error_from_answer,
)
from gateway.client.exports import ExportResult, ProgressEvent, download_export, run_export
from gateway.client.http import HttpClient, Response, TransportFailed, TransportTimedOut
from gateway.client.profile import resolve_profile
from gateway.client.stream import ArrowResult
from gateway.client.templates import TemplateResult
from gateway.errors import ConfigurationError, GatewayError, InputError
from gateway.lifetime import ClosesOnExit

__all__ = ["Connection", "connect"]

ParamValue = str | int | float | bool | date | datetime | None | list[Any] | tuple[Any, ...]
#: Disclosure control asked of a query or export: a mode name or a request object.
Disclosure = str | Mapping[str, Any] | None
_ARROW = "application/vnd.apache.arrow.stream"
#: An Arrow answer of a known size up to this is read in one go and its batches read in
#: place; a larger one (or one of unknown size) batch by batch as it arrives.
_READ_AT_ONCE = 1 << 20


def _plain(value: ParamValue) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class Connection(ClosesOnExit):
    """A session with one gateway, as one user (their token).

    Args:
        url: the gateway's base URL, e.g. ``http://127.0.0.1:8000``.
        token: your API token (``pgw_…``).
        purpose: default purpose for queries that do not name one.
        timeout: seconds to wait for an answer (a long query needs a long timeout).
        connect_timeout: seconds to wait for a connection.

    HTTP goes through :mod:`gateway.client.http` (the standard library's ``http.client``):
    connections kept alive, TLS verified against the system's certificates, proxies from
    ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY``.

    Attributes:
        last_query_id: the audit id of the last query answered (also on errors that have one).
        last_disclosure: the disclosure control the server applied to the last query's result,
            in a line (None when none was asked for).
        last_marking: the protective marking of the last query's result
            (``X-Protective-Marking``: the policy's for the data read), e.g.
            ``OFFICIAL-SENSITIVE``; also in a :meth:`query_arrow` table's schema metadata
            (``gateway:marking``) and on :class:`ArrowResult` (``marking``).
        last_product: the record of the last product built when it was held for quality
            assurance (None when it came back at once).
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        purpose: str | None = None,
        timeout: float = 300.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.purpose = purpose
        self.last_query_id: str | None = None
        self.last_disclosure: str | None = None
        self.last_marking: str | None = None
        self.last_product: dict[str, Any] | None = None
        headers = {
            "Authorization": f"Bearer {token}",
            "User-Agent": f"partnership-gateway-client/{gateway.__version__}",
        }
        try:
            self._http = HttpClient(
                self.url, headers, timeout=timeout, connect_timeout=connect_timeout
            )
        except (ValueError, TransportFailed) as exc:
            raise ClientError(f"cannot use {url!r}: {exc}") from None

    # --- plumbing ------------------------------------------------------------------------

    @contextmanager
    def _request(self, method: str, path: str, **kwargs: Any) -> Iterator[Response]:
        """Send a request and yield the (streaming) response; raise the server's error."""
        with self._transport_errors(), self._http.stream(method, path, **kwargs) as response:
            if response.status_code >= 400:
                response.read()
                raise self._error(response)
            yield response

    @contextmanager
    def _transport_errors(self) -> Iterator[None]:
        """Failures to get (or finish reading) an answer, as the client's errors."""
        try:
            yield
        except TransportTimedOut as exc:
            raise RequestTimedOut(f"no answer from {self.url} in time: {exc}") from exc
        except TransportFailed as exc:
            raise ConnectionFailed(f"cannot reach the gateway at {self.url}: {exc}") from exc

    def _body(self, response: Response) -> Iterator[bytes]:
        """The response's bytes as they arrive (a failure mid-way is the client's error)."""
        with self._transport_errors():
            yield from response.iter_bytes()

    def _whole_body(self, response: Response) -> bytes:
        """The response's bytes in one read (a failure is the client's error)."""
        with self._transport_errors():
            return response.read()

    def _error(self, response: Response) -> GatewayError:
        try:
            body = response.json()
        except ValueError:
            body = None
        exc = error_from_answer(response.status_code, body)
        if isinstance(exc, UnexpectedResponse):
            exc = UnexpectedResponse(
                f"the server at {self.url} answered {response.status_code} "
                f"{response.reason_phrase} without a gateway error document"
            )
        if exc.query_id:
            self.last_query_id = exc.query_id
        return exc

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        with self._request(method, path, **kwargs) as response:
            response.read()
            try:
                return response.json()
            except ValueError as exc:
                raise UnexpectedResponse(f"{path} did not answer with JSON") from exc

    def _query_body(
        self,
        sql: str,
        purpose: str | None,
        params: Mapping[str, ParamValue] | None,
        fmt: str,
        disclosure: Disclosure = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"sql": sql, "purpose": purpose or self.purpose or "", "format": fmt}
        if params:
            body["params"] = {str(k): _plain(v) for k, v in params.items()}
        if disclosure is not None:
            body["disclosure"] = disclosure if isinstance(disclosure, str) else dict(disclosure)
        return body

    def _answered(self, response: Response) -> None:
        self.last_query_id = response.headers.get("x-query-id")
        self.last_disclosure = response.headers.get("x-disclosure")
        self.last_marking = response.headers.get("x-protective-marking")

    # --- queries -------------------------------------------------------------------------

    def query_arrow(
        self,
        sql: str,
        *,
        purpose: str | None = None,
        params: Mapping[str, ParamValue] | None = None,
        disclosure: Disclosure = None,
    ) -> pa.Table:
        """Run a query; the result as a :class:`pyarrow.Table` (its protective marking in the
        schema metadata ``gateway:marking``, and in :attr:`last_marking`).

        Args:
            sql: one SELECT; parameters are written ``$name``.
            purpose: an approved purpose code (default: the connection's).
            params: values for the parameters (dates are sent as ISO text).
            disclosure: disclosure control on an aggregate result: ``"policy"`` (your level's
                rules), ``"publication"`` or ``{"mode": …, "counts": […], "dimensions": […],
                "strata": […], "totals": {…}}``. Small counts come back null with a
                ``<column>_suppressed`` flag; record-level queries are refused
                (:class:`~gateway.errors.NotAggregate`).

        Raises:
            GatewayError: the server's refusal or failure (its own class), or a ClientError.
        """
        with self.query_stream(
            sql, purpose=purpose, params=params, disclosure=disclosure
        ) as result:
            table = result.read_all()
        if result.marking is None:
            return table
        metadata = {**(table.schema.metadata or {}), b"gateway:marking": result.marking.encode()}
        return table.replace_schema_metadata(metadata)

    @contextmanager
    def query_stream(
        self,
        sql: str,
        *,
        purpose: str | None = None,
        params: Mapping[str, ParamValue] | None = None,
        disclosure: Disclosure = None,
    ) -> Iterator[ArrowResult]:
        """Run a query; its result read batch by batch while the block lasts (the DB-API
        cursor's way in: :mod:`gateway.client.dbapi`). Arguments as for :meth:`query_arrow`.

        Example:
            >>> with gw.query_stream("SELECT crime_id FROM crime") as result:  # doctest: +SKIP
            ...     first = result.next_batch()
        """
        body = self._query_body(sql, purpose, params, "arrow", disclosure)
        with self._request("POST", "/v1/query", json=body) as response:
            self._answered(response)
            if response.headers.get("content-type", "").split(";")[0] != _ARROW:
                raise UnexpectedResponse("the query answer is not an Arrow stream")
            rows = response.headers.get("x-row-count", "")
            size = response.headers.get("content-length", "")
            small = size.isdigit() and int(size) <= _READ_AT_ONCE
            yield ArrowResult(
                self._whole_body(response) if small else self._body(response),
                query_id=self.last_query_id,
                marking=self.last_marking,
                row_count=int(rows) if rows.isdigit() else None,
                expected_sha256=response.headers.get("x-result-sha256"),
            )

    def query(
        self,
        sql: str,
        *,
        purpose: str | None = None,
        params: Mapping[str, ParamValue] | None = None,
        disclosure: Disclosure = None,
    ) -> pl.DataFrame:
        """Run a query; the result as a polars DataFrame (``.to_pandas()`` for pandas); its
        protective marking is :attr:`last_marking`.
        ``disclosure`` as for :meth:`query_arrow`. Interrupting it (Ctrl-C, a notebook's stop
        button) closes the connection: the server stops the query and audits it as cancelled.

        Example:
            >>> gw.query("SELECT count(*) AS n FROM crime WHERE recorded_at >= $since",
            ...          purpose="SA-2026", params={"since": "2024-01-01"})  # doctest: +SKIP
            >>> gw.query("SELECT ward_code, count(*) AS crimes FROM crime GROUP BY 1",
            ...          disclosure="publication")                          # doctest: +SKIP
        """
        table = self.query_arrow(sql, purpose=purpose, params=params, disclosure=disclosure)
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def query_bytes(
        self,
        sql: str,
        *,
        purpose: str | None = None,
        params: Mapping[str, ParamValue] | None = None,
        format: str = "csv",
        disclosure: Disclosure = None,
        formula_guard: bool = True,
    ) -> Iterator[bytes]:
        """Run a query and yield the answer's bytes in ``format`` (csv, parquet, arrow, json),
        e.g. to write them to a file without holding them in memory. ``disclosure`` as for
        :meth:`query_arrow`; ``formula_guard=False`` writes CSV text cells that start with
        ``=``, ``+``, ``-``, ``@`` without the protective leading apostrophe."""
        body = self._query_body(sql, purpose, params, format, disclosure)
        if not formula_guard:
            body["formula_guard"] = False
        with self._request("POST", "/v1/query", json=body) as response:
            self._answered(response)
            yield from response.iter_bytes()

    # --- exports (gateway.client.exports) --------------------------------------------------

    def export(
        self,
        sql: str,
        *,
        format: str,
        output: str | os.PathLike[str] | None = None,
        purpose: str | None = None,
        params: Mapping[str, ParamValue] | None = None,
        options: Mapping[str, str | int | float | bool] | None = None,
        progress: Callable[[ProgressEvent], None] | None = None,
        disclosure: Disclosure = None,
    ) -> ExportResult:
        """Export a query's result as a file (csv, xlsx, gpkg, tab, mif, shp, fgb …), saved at
        ``output`` when released at once (``crime.tab``: the MapInfo files ``crime.*`` side by
        side, layer ``crime``; ``crime.zip``: zipped; see :mod:`gateway.client.deliver`);
        ``progress`` receives the server's progress reports; ``disclosure`` as for
        :meth:`query_arrow`.

        Example:
            >>> gw.export("SELECT lsoa_code, count(*) AS n FROM crime GROUP BY 1",
            ...           format="tab", output="crime.tab")                  # doctest: +SKIP
        """
        return run_export(
            self,
            sql,
            format=format,
            output=output,
            purpose=purpose,
            params=params,
            options=options,
            progress=progress,
            disclosure=disclosure,
        )

    def download_export(self, export_id: str, output: str | os.PathLike[str]) -> Path:
        """Save a released (or approved) export, checked against its registered hash."""
        return download_export(self, export_id, output)

    def exports(self, *, pending: bool = False) -> list[dict[str, Any]]:
        """Your exports (senior analysts: everyone's), newest first."""
        params = {"pending": "true"} if pending else None
        answer: dict[str, Any] = self._json("GET", "/v1/exports", params=params)
        return list(answer["exports"])

    def decide_export(self, export_id: str, decision: str, *, comment: str = "") -> dict[str, Any]:
        """Senior analysts: ``approve`` or ``reject`` a held export."""
        if decision not in ("approve", "reject"):
            raise InputError("decision must be 'approve' or 'reject'")
        path = f"/v1/exports/{export_id}/{decision}"
        answer: dict[str, Any] = self._json("POST", path, json={"comment": comment})
        return answer

    def sign_off_publication(self, extract_id: str, *, comment: str) -> dict[str, Any]:
        """Administrators: sign off a police.uk extract another administrator prepared, for
        publication (``comment``: what was checked). Its record comes back."""
        path = f"/v1/publish/police-uk/{extract_id}/sign-off"
        answer: dict[str, Any] = self._json("POST", path, json={"comment": comment})
        return answer

    # --- templates and products (gateway.client.templates) ----------------------------------

    def templates(self) -> list[dict[str, Any]]:
        """The template library: each template's name, title, parameters and ``available``."""
        return template_client.list_templates(self)

    def template(
        self,
        name: str,
        params: Mapping[str, ParamValue] | None = None,
        *,
        purpose: str | None = None,
        disclosure: str = "policy",
    ) -> pl.DataFrame:
        """Run a library template; the (disclosure-controlled) result as a DataFrame.

        Example:
            >>> gw.template("crime-rates", {"year": 2025})                  # doctest: +SKIP
        """
        result = self.template_result(name, params, purpose=purpose, disclosure=disclosure)
        frame = pl.from_arrow(result.table)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def template_result(
        self,
        name: str,
        params: Mapping[str, ParamValue] | None = None,
        *,
        purpose: str | None = None,
        disclosure: str = "policy",
    ) -> TemplateResult:
        """Run a library template; the Arrow table with its provenance."""
        return template_client.run_template(
            self, name, params, purpose=purpose, disclosure=disclosure
        )

    def template_export(
        self,
        name: str,
        *,
        format: str,
        output: str | os.PathLike[str] | None = None,
        params: Mapping[str, ParamValue] | None = None,
        purpose: str | None = None,
        disclosure: str = "policy",
        options: Mapping[str, str | int | float | bool] | None = None,
    ) -> ExportResult:
        """Run a template and export its result as a governed file (saved to ``output``)."""
        return template_client.export_template(
            self,
            name,
            format=format,
            output=output,
            params=params,
            purpose=purpose,
            disclosure=disclosure,
            options=options,
        )

    def strategic_assessment(
        self,
        area: str,
        year: int,
        output_dir: str | os.PathLike[str],
        *,
        purpose: str | None = None,
        marking: str | None = None,
        publication: bool = False,
    ) -> list[Path]:
        """Build the strategic assessment pack and save its files in ``output_dir``."""
        return template_client.strategic_assessment(
            self,
            area,
            year,
            output_dir,
            purpose=purpose,
            marking=marking,
            publication=publication,
        )

    def products(self, *, pending: bool = False) -> list[dict[str, Any]]:
        """Your products (senior analysts: everyone's); ``pending``: the QA queue."""
        params = {"pending": "true"} if pending else None
        answer: dict[str, Any] = self._json("GET", "/v1/products", params=params)
        return list(answer["products"])

    def download_product(self, product_id: str, output_dir: str | os.PathLike[str]) -> list[Path]:
        """Save a released product's files (report, workbook, manifest) in ``output_dir``."""
        return template_client.download_product(self, product_id, output_dir)

    def decide_product(self, product_id: str, decision: str, *, comment: str) -> dict[str, Any]:
        """Your analyst's senior analyst (or a deputy): ``pass`` or ``return`` a product held
        for quality assurance, with a comment."""
        if decision not in ("pass", "return"):
            raise InputError("decision must be 'pass' or 'return'")
        path = f"/v1/products/{product_id}/{decision}"
        answer: dict[str, Any] = self._json("POST", path, json={"comment": comment})
        return answer

    # --- access governance, as this connection's user (gateway.client.access) ---------------

    @property
    def access(self) -> AccessClient:
        """Access requests, approvals, oversight and the register — always as yourself."""
        return AccessClient(self)

    # --- about me and my data -------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        """Your level, areas, approved purposes, roles and grants."""
        answer: dict[str, Any] = self._json("GET", "/v1/me")
        return answer

    def catalog(self, purpose: str | None = None) -> dict[str, Any]:
        """The tables and columns you may query for ``purpose``, with each column's mask."""
        params = {"purpose": purpose or self.purpose} if (purpose or self.purpose) else None
        answer: dict[str, Any] = self._json("GET", "/v1/catalog", params=params)
        return answer

    def tables(self, purpose: str | None = None) -> pl.DataFrame:
        """The catalog as one row per visible column: table, column, type, mask."""
        rows = [
            {"table": t["name"], "column": c["name"], "type": c["type"], "mask": c["mask"]}
            for t in self.catalog(purpose)["tables"]
            for c in t["columns"]
        ]
        return pl.DataFrame(
            rows,
            schema={"table": pl.String, "column": pl.String, "type": pl.String, "mask": pl.String},
        )

    def health(self) -> dict[str, Any]:
        """The server's health (no token needed)."""
        answer: dict[str, Any] = self._json("GET", "/healthz")
        return answer

    # --- audit review (senior analysts, auditors) -----------------------------------------

    def audit_events(
        self,
        *,
        kinds: list[str] | None = None,
        actor: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        """A page of audit events: ``{"events": [...], "next_after_seq": …}``."""
        params: dict[str, Any] = {"after_seq": after_seq, "limit": limit}
        if kinds:
            params["kind"] = kinds
        for key, value in (("actor", actor), ("since", since), ("until", until)):
            if value is not None:
                params[key] = value.isoformat() if isinstance(value, datetime) else value
        answer: dict[str, Any] = self._json("GET", "/v1/audit/events", params=params)
        return answer

    def audit_report(
        self,
        name: str,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        min_rows: int | None = None,
        months: int | None = None,
        work_start: time | str | None = None,
        work_end: time | str | None = None,
        timezone: str | None = None,
        users: Sequence[str] = (),
    ) -> pl.DataFrame:
        """A review report (activity, person-lookups, denied …) as a DataFrame; the parameters
        are those of ``gateway audit report`` (``users``: the dormant report's users)."""
        params: dict[str, Any] = {
            k: v.isoformat() if isinstance(v, datetime | time) else v
            for k, v in (
                ("since", since),
                ("until", until),
                ("min_rows", min_rows),
                ("months", months),
                ("work_start", work_start),
                ("work_end", work_end),
                ("timezone", timezone),
            )
            if v is not None
        }
        if users:
            params["user"] = list(users)
        answer = self._json("GET", f"/v1/audit/reports/{name}", params=params)
        names = [c["name"] for c in answer["columns"]]
        return pl.DataFrame(answer["rows"], schema=names, orient="row")

    def audit_verify(self) -> dict[str, Any]:
        """Verify the audit chain on the server: ``{"ok", "summary", …}``."""
        answer: dict[str, Any] = self._json("GET", "/v1/audit/verify")
        return answer

    # --- audit duties ----------------------------------------------------------------------

    def audit_plan(self) -> list[dict[str, Any]]:
        """The audit plan: each duty, when last done, when due (``GET /v1/audit/plan``)."""
        duties: list[dict[str, Any]] = self._json("GET", "/v1/audit/plan")["duties"]
        return duties

    def record_audit(
        self,
        duty: str,
        findings: str,
        *,
        period_start: str | None = None,
        period_end: str | None = None,
    ) -> dict[str, Any]:
        """Record an audit done under the plan's ``duty`` (``POST /v1/audit/audits``)."""
        body = {
            "duty": duty,
            "findings": findings,
            "period_start": period_start,
            "period_end": period_end,
        }
        done: dict[str, Any] = self._json("POST", "/v1/audit/audits", json=body)
        return done

    def report_incident(
        self, kind: str, discovered_at: str, summary: str, *, lost: str | None = None
    ) -> dict[str, Any]:
        """Report a security incident or data loss (``POST /v1/audit/incidents``)."""
        body = {"kind": kind, "discovered_at": discovered_at, "summary": summary, "lost": lost}
        incident: dict[str, Any] = self._json("POST", "/v1/audit/incidents", json=body)
        return incident

    def close_incident(self, incident_id: str, actions: str) -> dict[str, Any]:
        """Close an incident with the actions taken (``POST /v1/audit/incidents/{id}/close``)."""
        closed: dict[str, Any] = self._json(
            "POST",
            f"/v1/audit/incidents/{incident_id}/close",
            json={"actions": actions},
        )
        return closed

    def incidents(self) -> list[dict[str, Any]]:
        """The incident register, late reports flagged (``GET /v1/audit/incidents``)."""
        found: list[dict[str, Any]] = self._json("GET", "/v1/audit/incidents")["incidents"]
        return found

    # --- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __repr__(self) -> str:
        return f"<gateway.client.Connection {self.url}>"


def connect(
    url: str | None = None,
    token: str | None = None,
    *,
    purpose: str | None = None,
    timeout: float = 300.0,
) -> Connection:
    """Connect to a gateway with the values given, else ``GATEWAY_URL`` / ``GATEWAY_TOKEN``,
    else the profile ``gateway login`` saved (URL, token and purpose: the same one every
    ``gateway`` command reads; see :mod:`gateway.client.profile`).

    Example:
        >>> gw = connect("http://127.0.0.1:8000", "pgw_…", purpose="SA-2026")  # doctest: +SKIP
        >>> gw = connect()                 # after `gateway login`            # doctest: +SKIP
        >>> gw.me()["level"]                                                   # doctest: +SKIP
        'general'

    Raises:
        ClientError: no token given, in the environment or saved for that URL.
    """
    try:
        profile = resolve_profile(url, token, purpose)
    except ConfigurationError as exc:
        raise ClientError(exc.message) from exc
    return Connection(profile.url, profile.token, purpose=profile.purpose, timeout=timeout)
