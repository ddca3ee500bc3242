"""``GET /v1/catalog``: the tables and columns the caller may query, with each column's mask."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.api.deps import PrincipalDep, RuntimeDep
from gateway.api.routes.common import API_PREFIX, errors
from gateway.api.runtime import GatewayRuntime
from gateway.api.schemas import CatalogColumn, CatalogOut, CatalogTable
from gateway.principal import Principal

__all__ = ["catalog_for", "router"]

router = APIRouter(prefix=API_PREFIX, tags=["catalog"])


@router.get("/catalog", responses=errors(400, 401, 403, 429), summary="What you may query")
def catalog(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    purpose: Annotated[
        str | None,
        Query(max_length=200, description="Purpose code (default: your first approved one)."),
    ] = None,
) -> CatalogOut:
    """Visible tables and columns for a purpose (grants may differ between purposes)."""
    return catalog_for(runtime, principal, purpose)


def catalog_for(runtime: GatewayRuntime, principal: Principal, purpose: str | None) -> CatalogOut:
    """What ``principal`` may query for ``purpose`` (default: their first approved one), with
    each column's mask and the row filters (the web console's catalog browser shows this too).

    Raises:
        PurposeNotApproved: the purpose is not one of theirs.
    """
    chosen = purpose if purpose is not None else next(iter(principal.purposes), "")
    view = runtime.service.view(principal, chosen)
    declared = runtime.service.catalog
    types = view.sqlglot_schema()
    tables = [
        CatalogTable(
            name=table.name,
            description=declared.table(table.name).description,
            row_filter=" ".join(table.row_filter.split()) if table.row_filter else None,
            columns=[
                CatalogColumn(
                    name=c.name,
                    type=types[table.name][c.name],
                    mask=c.mask.label,
                    description=declared.table(table.name).column(c.name).description,
                )
                for c in table.columns
            ],
        )
        for table in view.tables.values()
    ]
    for schema in sorted(view.schemas):
        for name, columns in runtime.service.extra_schemas.get(schema, {}).items():
            tables.append(
                CatalogTable(
                    name=f"{schema}.{name}",
                    description=f"read-only {schema} table",
                    row_filter=None,
                    columns=[
                        CatalogColumn(name=c, type=t, mask="show", description="")
                        for c, t in columns.items()
                    ],
                )
            )
    return CatalogOut(
        purpose=view.purpose,
        level=view.level,
        policy_version=view.policy_version,
        grants=list(view.grants),
        tables=tables,
    )
