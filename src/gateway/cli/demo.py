"""``gateway demo``: a synthetic warehouse, demo users and their tokens, and a running gateway.

    gateway demo                                   ./demo-data, then serve on 127.0.0.1:8000
    gateway demo --simple                          UNGOVERNED: access from users.toml only
    gateway demo --data-dir DIR --no-serve         prepare only (tests outside the repo use it)
    gateway demo --years 1 --scale 0.2 --seed 7    a smaller, faster warehouse

It writes into the data directory:

- ``warehouse.duckdb`` (and base maps) through :func:`gateway.generate.ensure` — kept when it
  is already there with the same parameters;
- ``policy.toml``: the packaged default policy, if there is none;
- ``governance.sqlite``: the demo users' access granted through the governance register
  (requests, endorsements, vetting, declarations, training, authorisation — each audited);
  ``--simple`` skips it and serves UNGOVERNED access from ``users.toml`` (loudly labelled);
- ``users.toml``: the demo users (below), if there is none — an existing file is kept as it is
  (an administrator may have edited it) and its users get the tokens;
- ``demo-tokens.json``: ``{"<username>": {"token", "password", "level", "roles",
  "organisation", "areas", "purposes"}}`` for every user, tokens issued (and audited) through
  the token store; tokens still valid from an earlier run are kept, so re-running is quick and
  changes nothing. ``password`` is the web sign-in's initial password (set and audited through
  :class:`~gateway.auth.signin.SignIn`, kept when the account exists): the policy makes its
  owner change it at the first sign-in in a browser. Scripts use the token, which needs no
  password change; a script that drives the web pages signs in as a person does (``POST
  /login``, then ``/password`` the first time, then ``/syops``).

Demo users: one general analyst per local authority, an enhanced analyst with a dated grant
(``intelligence_report`` and a few unmasked columns, for one JAG purpose), a senior analyst
(audit review, all four areas; every analyst's designated senior analyst, who authorises their
record-level releases and QAs their products), her deputy (who may act for her, and authorises
her own releases) and an administrator.

Example:
    >>> users = demo_users(date(2026, 5, 1))
    >>> sorted(u.username for u in users)[:3]
    ['a.khan', 'e.okafor', 'gw.admin']
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gateway.cli import app
from gateway.clock import utc_now
from gateway.principal import AccessGrant, Principal

if TYPE_CHECKING:
    from gateway.datadir import DataDir

__all__ = ["DemoSetup", "demo_users", "examples_text", "prepare_demo", "users_toml"]

DEFAULT_DATA_DIR = Path("demo-data")
DEMO_TOKEN_DAYS = 365
_AUTHORITIES = (
    ("h.lee", "E06000001", "Hartlepool Borough Council", "HPL"),
    ("a.khan", "E06000002", "Middlesbrough Council", "MBR"),
    ("r.wilson", "E06000003", "Redcar and Cleveland Borough Council", "RCL"),
    ("j.taylor", "E06000004", "Stockton-on-Tees Borough Council", "STK"),
)
ALL_AREAS = tuple(code for _, code, _, _ in _AUTHORITIES)
SA_PURPOSE = "SA-2026"
JAG_PURPOSE = "JAG-2026-07"
FORCE = ("CLE", "Cleveland Police")
#: The demo analysts' designated senior analyst (authorises their releases, QAs products),
#: and the deputy who may act for her (and is her own designated senior analyst).
SENIOR_ANALYST = "s.patel"
DEPUTY_SENIOR_ANALYST = "m.hughes"


def demo_users(today: date) -> list[Principal]:
    """The demo's principals; the enhanced grant runs from a month ago to eleven months ahead."""
    users = [
        Principal(
            username=name,
            organisation=org,
            level="general",
            areas=(code,),
            purposes=(SA_PURPOSE, f"JAG-2026-{short}"),
            roles=frozenset({"analyst"}),
            senior_analysts=(SENIOR_ANALYST, DEPUTY_SENIOR_ANALYST),
        )
        for name, code, org, short in _AUTHORITIES
    ]
    users.append(
        Principal(
            username="e.okafor",
            organisation="Stockton-on-Tees Borough Council",
            level="enhanced",
            areas=("E06000004",),
            purposes=(SA_PURPOSE, JAG_PURPOSE),
            roles=frozenset({"analyst"}),
            senior_analysts=(SENIOR_ANALYST, DEPUTY_SENIOR_ANALYST),
            grants=(
                AccessGrant(
                    grant_id="G-2026-001",
                    purposes=(JAG_PURPOSE,),
                    starts=today - timedelta(days=30),
                    ends=today + timedelta(days=335),
                    tables=("intelligence_report",),
                    unmask=("crime.modus_operandi", "incident.narrative", "person.surname"),
                    reason="JAG problem profile: serious acquisitive crime, Stockton town centre",
                ),
            ),
        )
    )
    users.append(
        Principal(
            username=SENIOR_ANALYST,
            organisation="Cleveland Police",
            level="general",
            areas=ALL_AREAS,
            purposes=(SA_PURPOSE, "AUDIT-2026"),
            roles=frozenset({"senior_analyst"}),
            senior_analysts=(DEPUTY_SENIOR_ANALYST,),
        )
    )
    users.append(
        Principal(
            username=DEPUTY_SENIOR_ANALYST,
            organisation="Cleveland Police",
            level="general",
            areas=ALL_AREAS,
            purposes=(SA_PURPOSE, "AUDIT-2026"),
            roles=frozenset({"senior_analyst"}),
            senior_analysts=(SENIOR_ANALYST,),
        )
    )
    users.append(
        Principal(
            username="gw.admin",
            organisation="Cleveland Police",
            level="none",
            roles=frozenset({"admin"}),
        )
    )
    return users


def _strings(values: Any) -> str:
    return json.dumps(list(values))


def users_toml(users: list[Principal]) -> str:
    """``users.toml`` text for ``users`` (see :mod:`gateway.users` for the format)."""
    lines = ["# Demo users written by `gateway demo` (synthetic people, synthetic data).", ""]
    for p in users:
        lines += [
            f"[users.{json.dumps(p.username)}]",
            f"organisation = {json.dumps(p.organisation)}",
            f"level = {json.dumps(p.level)}",
            f"areas = {_strings(p.areas)}",
            f"purposes = {_strings(p.purposes)}",
            f"roles = {_strings(sorted(p.roles))}",
        ]
        if p.senior_analysts:
            lines.append(f"senior_analyst = {json.dumps(p.senior_analysts[0])}")
        if p.senior_analysts[1:]:
            lines.append(f"deputies = {_strings(p.senior_analysts[1:])}")
        for g in p.grants:
            lines += [
                "",
                f"[[users.{json.dumps(p.username)}.grants]]",
                f"grant_id = {json.dumps(g.grant_id)}",
                f"purposes = {_strings(g.purposes)}",
                f"starts = {g.starts.isoformat()}",
                *([f"ends = {g.ends.isoformat()}"] if g.ends else []),
                f"tables = {_strings(g.tables)}",
                f"unmask = {_strings(g.unmask)}",
                f"areas = {_strings(g.areas)}",
                f"reason = {json.dumps(g.reason)}",
            ]
        lines.append("")
    return "\n".join(lines)


@dataclass(frozen=True)
class DemoSetup:
    """What :func:`prepare_demo` left in the data directory."""

    data_dir: Path
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _install_policy(data_dir: Path) -> str | None:
    from gateway.datadir import DataDir

    target = DataDir(data_dir).policy
    if target.exists():
        return None
    source = resources.files("gateway.policy").joinpath("default_policy.toml")
    with resources.as_file(source) as path:
        shutil.copyfile(path, target)
    return f"wrote the default policy to {target}"


def _previous(path: Path, key: str) -> dict[str, str]:
    """``key`` (token, password) of each user in an earlier ``demo-tokens.json``."""
    try:
        raw = json.loads(path.read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {
        name: entry[key]
        for name, entry in raw.items()
        if isinstance(entry, dict) and isinstance(entry.get(key), str)
    }


def _seed_governance(dd: DataDir, today: date) -> list[str]:
    """Give the demo users their access through the governance process (once)."""
    from gateway.deployment import Deployment
    from gateway.governance.demo import DemoOrganisation, seed_register
    from gateway.governance.directory import has_register

    if has_register(dd):
        return [f"kept the existing governance register {dd.governance}"]
    organisations = [
        DemoOrganisation(FORCE[0], FORCE[1], "force", ALL_AREAS),
        *(
            DemoOrganisation(short, org, "local_authority", (code,))
            for _, code, org, short in _AUTHORITIES
        ),
    ]
    with Deployment.open(dd, engine=False) as deployment:
        done = seed_register(deployment.governance, demo_users(today), organisations)
    return [f"governance register {dd.governance}: " + line for line in done]


def grant_demo_access(
    data_dir: Path, *, today: date | None = None, governed: bool = False
) -> DemoSetup:
    """Policy, users and tokens for an existing warehouse (the demo minus generation).

    With ``governed``, the demo users' access is granted through the governance register
    (requests, endorsements, reviews, authorisation — every step audited) instead of
    ``users.toml``, which then keeps only the bootstrap administrator's entry in use.
    """
    from gateway.auth import issue_token
    from gateway.datadir import DataDir
    from gateway.deployment import Deployment

    dd = DataDir(data_dir)
    notes = [n for n in [_install_policy(data_dir)] if n]
    now = utc_now()
    if not dd.users.exists():
        _write_private(dd.users, users_toml(demo_users(today or now.date())))
        notes.append(f"wrote the demo users to {dd.users}")
    else:
        notes.append(f"kept the existing {dd.users}")
    if governed:
        notes += _seed_governance(dd, today or now.date())
    previous = _previous(dd.demo_tokens, "token")
    passwords = _previous(dd.demo_tokens, "password")
    tokens: dict[str, dict[str, Any]] = {}
    with Deployment.open(dd, engine=False) as deployment:  # after seeding: the register decides
        directory, store, audit = deployment.directory, deployment.tokens, deployment.audit
        for name in directory.usernames():
            principal = directory.principal(name, now)
            if principal is None:
                continue
            token = previous.get(name)
            record = store.find(token) if token else None
            if record is None or record.username != name or record.state(now) != "active":
                token = issue_token(
                    store,
                    audit,
                    name,
                    issued_by="gateway-demo",
                    organisation="Cleveland Police",
                    label="demo",
                    expires_in=min(
                        timedelta(days=DEMO_TOKEN_DAYS), deployment.policy.tokens.max_lifetime
                    ),
                    max_lifetime=deployment.policy.tokens.max_lifetime,
                ).token
            if deployment.signin.accounts.get(name) is None:  # an existing one is kept
                passwords[name] = deployment.signin.set_password(name, None, by="gateway-demo")
            tokens[name] = {
                "token": token,
                "password": passwords.get(name, ""),
                "level": principal.level,
                "roles": sorted(principal.roles),
                "organisation": principal.organisation,
                "areas": list(principal.areas),
                "purposes": list(principal.purposes),
            }
    _write_private(dd.demo_tokens, json.dumps(tokens, indent=2) + "\n")
    notes.append(f"wrote {len(tokens)} demo tokens to {dd.demo_tokens}")
    return DemoSetup(data_dir, tokens, tuple(notes))


def prepare_demo(
    data_dir: Path,
    *,
    years: int = 3,
    scale: float = 1.0,
    seed: int = 2026,
    force: bool = False,
    governed: bool = True,
) -> DemoSetup:
    """Generate (or keep) the warehouse, then :func:`grant_demo_access` (through the governance
    register unless ``governed`` is false).

    Raises:
        Conflict: a warehouse generated differently is there and ``force`` is not set.
    """
    from gateway import generate
    from gateway.datadir import DataDir

    DataDir(data_dir).make_private()
    if force:
        generate.build(data_dir, seed=seed, years=years, scale=scale, progress=True, force=True)
    else:
        generate.ensure(data_dir, seed=seed, years=years, scale=scale, progress=True)
    return grant_demo_access(data_dir, governed=governed)


def examples_text(setup: DemoSetup, url: str) -> str:
    """Ready-to-paste curl and Python examples with a real token."""
    from gateway.datadir import DataDir

    analyst = setup.tokens.get("h.lee") or next(iter(setup.tokens.values()), None)
    if analyst is None:
        return "no demo users: see users.toml"
    token, purpose = analyst["token"], (analyst["purposes"] or ["SA-2026"])[0]
    sql = "SELECT police_uk_category, count(*) AS crimes FROM crime GROUP BY 1 ORDER BY 2 DESC"
    body = json.dumps({"sql": sql, "purpose": purpose})
    users = "\n".join(
        f"  {name:<10} {t['level']:<9} {','.join(t['roles']):<15} "
        f"{','.join(t['areas']) or '-':<40} {t.get('password') or '(changed)'}"
        for name, t in setup.tokens.items()
    )
    return f"""
Web application: {url}/  (sign in with a username and its initial password below; you will
be asked to change it, then to accept the security operating procedures)

Demo users (tokens and initial passwords in {DataDir(setup.data_dir).demo_tokens}):
  {"user":<10} {"level":<9} {"roles":<15} {"areas":<40} initial password
{users}

Try it (as {analyst["organisation"]}'s analyst):

  curl -s -H "Authorization: Bearer {token}" -H "Content-Type: application/json" \\
       -d '{body}' \\
       {url}/v1/query

  curl -s -H "Authorization: Bearer {token}" {url}/v1/catalog

  python -c "from gateway.client import connect; \\
gw = connect('{url}', '{token}', purpose='{purpose}'); \\
print(gw.query('{sql}'))"

API documentation: {url}/docs
"""


@app.command("demo")
def demo_command(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Where to put the demo.", file_okay=False)
    ] = DEFAULT_DATA_DIR,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Run the gateway afterwards.")
    ] = True,
    years: Annotated[int, typer.Option(min=1, max=10, help="Years of records.")] = 3,
    scale: Annotated[float, typer.Option(min=0.001, max=10.0, help="Volume scale.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2026,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    force: Annotated[
        bool, typer.Option(help="Replace a warehouse generated with other parameters.")
    ] = False,
    governed: Annotated[
        bool,
        typer.Option(
            "--governed/--simple",
            help="--governed (the default): the demo users' access is granted through the "
            "governance register (requests, endorsements, vetting, declarations, training, "
            "authorisation). --simple: UNGOVERNED access straight from users.toml, without "
            "any of those checks (a bootstrap for trying the API; served with "
            "--allow-ungoverned).",
        ),
    ] = True,
) -> None:
    """Generate a synthetic warehouse with demo users and tokens, then serve it."""
    print(f"gateway demo: preparing {data_dir} …", file=sys.stderr, flush=True)
    if not governed:
        print(
            "gateway demo: WARNING: --simple: UNGOVERNED demo — access comes from users.toml "
            "with no vetting, declarations, training or origin checks",
            file=sys.stderr,
            flush=True,
        )
    setup = prepare_demo(
        data_dir, years=years, scale=scale, seed=seed, force=force, governed=governed
    )
    for note in setup.notes:
        print(f"  {note}", file=sys.stderr)
    url = f"http://{host}:{port}"
    print(examples_text(setup, url), flush=True)
    if serve_after:
        from gateway.cli.serve import serve

        serve(data_dir, host=host, port=port, allow_ungoverned=not governed)
