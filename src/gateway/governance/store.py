"""Reading and writing governance records in ``DIR/governance.sqlite``.

:meth:`GovernanceStore.reading` gives a consistent snapshot (one read transaction);
:meth:`GovernanceStore.writing` takes SQLite's write lock up front (``BEGIN IMMEDIATE``), so
writers from every thread and process are serialised, and commits when the block ends — or
rolls back if anything in it raised. The service appends the audit event as the last thing in
the block, so a change whose audit record cannot be written is never committed.

Access requests also carry a ``version``: :meth:`Writer.update_request` only succeeds if the
stored version is the one the change was decided on, so two approvers who read the same
request and act at once cannot both succeed (the second gets :class:`~gateway.errors.Conflict`).

Example:
    >>> import tempfile, pathlib
    >>> from gateway.clock import utc_now
    >>> from gateway.governance.model import Organisation
    >>> store = GovernanceStore(pathlib.Path(tempfile.mkdtemp()) / "governance.sqlite")
    >>> with store.writing() as tx:
    ...     tx.add_organisation(Organisation("MBC", "Middlesbrough Council", "local_authority",
    ...                                      ("E06000002",)), at=utc_now())
    >>> with store.reading() as r:
    ...     r.organisation("MBC").areas
    ('E06000002',)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.clock import from_time, to_time, utc_now
from gateway.errors import ConfigurationError, Conflict, NotFound
from gateway.governance.codec import (
    decode_applicant,
    decode_form,
    encode_applicant,
    encode_form,
    from_day,
    from_json_list,
    to_day,
    to_json_list,
)
from gateway.governance.lifecycle import AccessReview, ReviewEntry
from gateway.governance.model import Grant, NetworkRange, Organisation, Person, Suspension
from gateway.governance.partnership import (
    OrganisationStop,
    OwnerAuthorisation,
    PartnershipRecords,
    SharingAgreement,
    Sponsorship,
    stop_in_force,
)
from gateway.governance.preconditions import (
    CodeOfConnection,
    Declaration,
    Memorandum,
    PreconditionRecords,
    Training,
    Vetting,
)
from gateway.governance.requests import AccessRequest, Transition
from gateway.governance.schema import NUMBERED_TABLES, SCHEMA_VERSION, connect
from gateway.governance.settings import GovernanceSettings
from gateway.governance.standing import Standing, standing
from gateway.register_store import RegisterConnection, is_shared, table_exists

__all__ = ["GovernanceStore", "Reader", "Writer"]

_SETTINGS_KEY = "settings"


def _day(text: str) -> Any:
    return from_day(text)


def _time(text: str) -> datetime:
    value = from_time(text)
    assert value is not None
    return value


class Reader:
    """Queries over one connection (inside a transaction opened by the store)."""

    def __init__(self, conn: RegisterConnection) -> None:
        self.conn = conn

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return list(self.conn.execute(sql, params).fetchall())

    # --- organisations and people -----------------------------------------------------------

    def networks(self, organisation: str) -> tuple[NetworkRange, ...]:
        rows = self._rows(
            "SELECT organisation, cidr, description FROM network_range WHERE organisation = ? "
            "ORDER BY cidr",
            (organisation,),
        )
        return tuple(NetworkRange(r[0], r[1], r[2]) for r in rows)

    def organisation(self, code: str) -> Organisation | None:
        rows = self._rows(
            "SELECT code, name, kind, areas FROM organisation WHERE code = ?", (code,)
        )
        if not rows:
            return None
        r = rows[0]
        return Organisation(r[0], r[1], r[2], from_json_list(r[3]), self.networks(r[0]))

    def require_organisation(self, code: str) -> Organisation:
        org = self.organisation(code)
        if org is None:
            raise NotFound(f"no organisation with code {code!r}")
        return org

    def organisations(self) -> list[Organisation]:
        codes = [r[0] for r in self._rows("SELECT code FROM organisation ORDER BY code")]
        return [self.require_organisation(c) for c in codes]

    _PERSON = (
        "SELECT username, full_name, organisation, role_title, email, phone, roles, "
        "line_manager, areas, workstations, left_on, senior_analyst, deputies, local_supervisor "
        "FROM person"
    )

    @staticmethod
    def _person(r: Any) -> Person:
        return Person(
            username=r[0],
            full_name=r[1],
            organisation=r[2],
            role_title=r[3],
            email=r[4],
            phone=r[5],
            roles=frozenset(from_json_list(r[6])),
            line_manager=r[7],
            areas=from_json_list(r[8]),
            workstations=from_json_list(r[9]),
            left_on=from_time(r[10]),
            senior_analyst=r[11],
            deputies=from_json_list(r[12]),
            local_supervisor=r[13],
        )

    def person(self, username: str) -> Person | None:
        rows = self._rows(f"{self._PERSON} WHERE username = ?", (username,))
        return self._person(rows[0]) if rows else None

    def require_person(self, username: str) -> Person:
        person = self.person(username)
        if person is None:
            raise NotFound(f"no user {username!r} in the governance register")
        return person

    def people(self, organisation: str | None = None) -> list[Person]:
        if organisation is None:
            rows = self._rows(f"{self._PERSON} ORDER BY username")
        else:
            rows = self._rows(
                f"{self._PERSON} WHERE organisation = ? ORDER BY username", (organisation,)
            )
        return [self._person(r) for r in rows]

    def usernames(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT username FROM person ORDER BY username")]

    def has_admin(self) -> bool:
        return any(p.has_role("admin") and p.left_on is None for p in self.people())

    # --- preconditions ------------------------------------------------------------------------

    def memoranda(self, organisation: str, username: str | None = None) -> tuple[Memorandum, ...]:
        """The organisation's memoranda (and, with ``username``, that person's own)."""
        rows = self._rows(
            "SELECT organisation, reference, signed, expires, username FROM memorandum "
            "WHERE organisation = ? AND (username IS NULL OR username = ?) ORDER BY signed",
            (organisation, username),
        )
        return tuple(Memorandum(r[0], r[1], _day(r[2]), from_day(r[3]), r[4]) for r in rows)

    def codes_of_connection(self, organisation: str) -> tuple[CodeOfConnection, ...]:
        rows = self._rows(
            "SELECT organisation, declared_by, declared_on, valid_until FROM code_of_connection "
            "WHERE organisation = ? ORDER BY declared_on",
            (organisation,),
        )
        return tuple(CodeOfConnection(r[0], r[1], _day(r[2]), _day(r[3])) for r in rows)

    # --- the organisation's agreements, authorisations and stops ------------------------------

    def sharing_agreements(self, organisation: str) -> tuple[SharingAgreement, ...]:
        rows = self._rows(
            "SELECT organisation, reference, signed, expires, copied_to FROM sharing_agreement "
            "WHERE organisation = ? ORDER BY signed, id",
            (organisation,),
        )
        return tuple(SharingAgreement(r[0], r[1], _day(r[2]), from_day(r[3]), r[4]) for r in rows)

    def partnership(self, organisation: Organisation) -> PartnershipRecords:
        """The organisation's ISAs, sponsorships and system-owner authorisations."""
        code = (organisation.code,)
        sponsorships = self._rows(
            "SELECT organisation, sponsor, sponsored_by, at, comment FROM sponsorship "
            "WHERE organisation = ? ORDER BY id",
            code,
        )
        authorisations = self._rows(
            "SELECT organisation, authorised_by, at, comment FROM owner_authorisation "
            "WHERE organisation = ? ORDER BY id",
            code,
        )
        return PartnershipRecords(
            organisation.kind,
            self.sharing_agreements(organisation.code),
            tuple(Sponsorship(r[0], r[1], r[2], _time(r[3]), r[4]) for r in sponsorships),
            tuple(OwnerAuthorisation(r[0], r[1], _time(r[2]), r[3]) for r in authorisations),
        )

    def organisation_stops(self, organisation: str) -> tuple[OrganisationStop, ...]:
        rows = self._rows(
            "SELECT id, organisation, kind, reason, stopped_by, stopped_at, lifted_by, lifted_at, "
            "lift_comment FROM organisation_stop WHERE organisation = ? ORDER BY id",
            (organisation,),
        )
        return tuple(
            OrganisationStop(
                int(r[0]), r[1], r[2], r[3], r[4], _time(r[5]), r[6], from_time(r[7]), r[8]
            )
            for r in rows
        )

    def organisation_stop(self, organisation: str, at: datetime) -> OrganisationStop | None:
        """The suspension or termination of ``organisation`` in force at ``at``."""
        return stop_in_force(self.organisation_stops(organisation), at)

    def _in_post_with(self, username: str | None, role: str, at: datetime) -> bool:
        found = self.person(username) if username else None
        return found is not None and found.in_post(at) and found.has_role(role)

    def senior_analysts(self, person: Person, at: datetime) -> tuple[str, ...]:
        """``person``'s designated senior analyst then that senior analyst's deputies, those
        in post holding the senior analyst role (empty when the designated one is not)."""
        if not self._in_post_with(person.senior_analyst, "senior_analyst", at):
            return ()
        designated = self.require_person(person.senior_analyst or "")
        deputies = tuple(
            d
            for d in designated.deputies
            if d != person.username and self._in_post_with(d, "senior_analyst", at)
        )
        return (designated.username, *deputies)

    def precondition_records(
        self, person: Person, at: datetime | None = None
    ) -> PreconditionRecords:
        """Everything on file for ``person`` (designations judged at ``at``, default now)."""
        at = at or utc_now()
        org = self.require_organisation(person.organisation)
        u = (person.username,)
        vetting = self._rows(
            "SELECT username, level, granted, expires, reference FROM vetting WHERE username = ? "
            "ORDER BY granted",
            u,
        )
        declarations = self._rows(
            "SELECT username, kind, signed FROM declaration WHERE username = ? ORDER BY signed", u
        )
        training = self._rows(
            "SELECT username, kind, completed FROM training WHERE username = ? ORDER BY completed",
            u,
        )
        return PreconditionRecords(
            organisation_kind=org.kind,
            vetting=tuple(Vetting(r[0], r[1], _day(r[2]), _day(r[3]), r[4]) for r in vetting),
            declarations=tuple(Declaration(r[0], r[1], _day(r[2])) for r in declarations),
            training=tuple(Training(r[0], r[1], _day(r[2])) for r in training),
            memoranda=self.memoranda(org.code, person.username),
            codes_of_connection=self.codes_of_connection(org.code),
            senior_analysts=self.senior_analysts(person, at),
            local_supervisor=person.local_supervisor
            if self._in_post_with(person.local_supervisor, "local_supervisor", at)
            else None,
            partnership=self.partnership(org),
        )

    # --- requests and grants ------------------------------------------------------------------

    def request(self, request_id: str) -> AccessRequest | None:
        rows = self._rows(
            "SELECT request_id, form, applicant_details, version FROM access_request "
            "WHERE request_id = ?",
            (request_id,),
        )
        if not rows:
            return None
        r = rows[0]
        history = tuple(
            Transition(t[0], t[1], t[2], _time(t[3]), t[4], t[5])
            for t in self._rows(
                "SELECT state, actor, role, at, comment, phone FROM request_transition "
                "WHERE request_id = ? ORDER BY seq",
                (request_id,),
            )
        )
        return AccessRequest(r[0], decode_form(r[1]), decode_applicant(r[2]), history, int(r[3]))

    def require_request(self, request_id: str) -> AccessRequest:
        request = self.request(request_id)
        if request is None:
            raise NotFound(f"no access request {request_id!r}")
        return request

    def requests(
        self, *, applicant: str | None = None, open_only: bool = False
    ) -> list[AccessRequest]:
        where, params = [], []
        if applicant is not None:
            where.append("applicant = ?")
            params.append(applicant)
        if open_only:
            where.append("state NOT IN ('authorised', 'refused', 'withdrawn')")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        ids = self._rows(
            f"SELECT request_id FROM access_request{clause} ORDER BY submitted_at", tuple(params)
        )
        return [self.require_request(r[0]) for r in ids]

    def grants(self, username: str | None = None) -> list[Grant]:
        sql = (
            "SELECT grant_id, request_id, username, level, purposes, areas, starts, ends, "
            "authorised_by, authorised_at, tables, unmask, reason, revoked_at, revoked_by, "
            "revoke_reason, extra_areas FROM access_grant"
        )
        rows = (
            self._rows(f"{sql} WHERE username = ? ORDER BY starts, grant_id", (username,))
            if username is not None
            else self._rows(f"{sql} ORDER BY username, starts, grant_id")
        )
        return [
            Grant(
                grant_id=r[0],
                request_id=r[1],
                username=r[2],
                level=r[3],
                purposes=from_json_list(r[4]),
                areas=from_json_list(r[5]),
                starts=_day(r[6]),
                ends=from_day(r[7]),
                authorised_by=r[8],
                authorised_at=_time(r[9]),
                tables=from_json_list(r[10]),
                unmask=from_json_list(r[11]),
                reason=r[12],
                revoked_at=from_time(r[13]),
                revoked_by=r[14],
                revoke_reason=r[15],
                extra_areas=from_json_list(r[16]),
            )
            for r in rows
        ]

    def suspensions(self, username: str) -> list[Suspension]:
        rows = self._rows(
            "SELECT id, username, kind, reason, suspended_by, suspended_at, lifted_by, lifted_at, "
            "lift_comment FROM suspension WHERE username = ? ORDER BY id",
            (username,),
        )
        return [
            Suspension(int(r[0]), r[1], r[2], r[3], r[4], _time(r[5]), r[6], from_time(r[7]), r[8])
            for r in rows
        ]

    def standing(self, person: Person, at: datetime) -> Standing:
        """``person``'s standing at ``at`` from their grants, suspensions and records."""
        return standing(
            person,
            self.require_organisation(person.organisation),
            self.grants(person.username),
            self.suspensions(person.username),
            self.precondition_records(person, at),
            at,
            self.settings().preconditions,
            organisation_stop=self.organisation_stop(person.organisation, at),
        )

    # --- reviews and settings ---------------------------------------------------------------

    def review(self, review_id: str) -> AccessReview | None:
        rows = self._rows(
            "SELECT review_id, organisation, opened_by, opened_at, due, closed_at "
            "FROM access_review WHERE review_id = ?",
            (review_id,),
        )
        if not rows:
            return None
        r = rows[0]
        entries = tuple(
            ReviewEntry(e[0], e[1], e[2], from_time(e[3]), e[4])
            for e in self._rows(
                "SELECT username, decision, decided_by, decided_at, comment "
                "FROM access_review_entry WHERE review_id = ? ORDER BY username",
                (review_id,),
            )
        )
        return AccessReview(r[0], r[1], r[2], _time(r[3]), _day(r[4]), entries, from_time(r[5]))

    def reviews(
        self, organisation: str | None = None, *, open_only: bool = False
    ) -> list[AccessReview]:
        where, params = [], []
        if organisation is not None:
            where.append("organisation = ?")
            params.append(organisation)
        if open_only:
            where.append("closed_at IS NULL")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        ids = self._rows(
            f"SELECT review_id FROM access_review{clause} ORDER BY opened_at", tuple(params)
        )
        out = []
        for row in ids:
            review = self.review(row[0])
            assert review is not None
            out.append(review)
        return out

    def settings(self) -> GovernanceSettings:
        rows = self._rows("SELECT value FROM governance_setting WHERE key = ?", (_SETTINGS_KEY,))
        return GovernanceSettings.from_json(rows[0][0]) if rows else GovernanceSettings()


class Writer(Reader):
    """Reads and writes inside one ``BEGIN IMMEDIATE`` transaction."""

    def _insert(self, table: str, values: dict[str, Any]) -> int:
        """Insert one row; its ``id`` when the table numbers its rows (else 0)."""
        columns = ", ".join(values)
        marks = ", ".join("?" * len(values))
        returning = " RETURNING id" if table in NUMBERED_TABLES else ""
        try:
            row = self.conn.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({marks}){returning}",
                tuple(values.values()),
            ).fetchone()
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"{table}: {exc}") from exc
        return int(row[0]) if returning and row else 0

    def add_organisation(self, org: Organisation, *, at: datetime) -> None:
        if self.organisation(org.code) is not None:
            raise Conflict(f"organisation {org.code!r} already exists")
        self._insert(
            "organisation",
            {
                "code": org.code,
                "name": org.name,
                "kind": org.kind,
                "areas": to_json_list(org.areas),
                "created_at": to_time(at),
            },
        )

    def add_network(self, network: NetworkRange, *, by: str, at: datetime) -> None:
        self.require_organisation(network.organisation)
        self._insert(
            "network_range",
            {
                "organisation": network.organisation,
                "cidr": network.cidr,
                "description": network.description,
                "added_by": by,
                "added_at": to_time(at),
            },
        )

    def remove_network(self, organisation: str, cidr: str) -> None:
        cursor = self.conn.execute(
            "DELETE FROM network_range WHERE organisation = ? AND cidr = ?", (organisation, cidr)
        )
        if cursor.rowcount == 0:
            raise NotFound(f"{organisation} has no registered range {cidr}")

    def put_person(self, person: Person, *, new: bool) -> None:
        """Insert a new person (``new``) or replace an existing person's record."""
        self.require_organisation(person.organisation)
        exists = self.person(person.username) is not None
        if new and exists:
            raise Conflict(f"user {person.username!r} already exists")
        if not new and not exists:
            raise NotFound(f"no user {person.username!r} in the governance register")
        values = {
            "username": person.username,
            "full_name": person.full_name,
            "organisation": person.organisation,
            "role_title": person.role_title,
            "email": person.email,
            "phone": person.phone,
            "roles": to_json_list(person.roles),
            "line_manager": person.line_manager,
            "areas": to_json_list(person.areas),
            "workstations": to_json_list(person.workstations),
            "left_on": to_time(person.left_on),
            "senior_analyst": person.senior_analyst,
            "deputies": to_json_list(person.deputies),
            "local_supervisor": person.local_supervisor,
        }
        if new:
            self._insert("person", values)
        else:
            sets = ", ".join(f"{k} = ?" for k in values if k != "username")
            self.conn.execute(
                f"UPDATE person SET {sets} WHERE username = ?",
                (*(v for k, v in values.items() if k != "username"), person.username),
            )

    def add_vetting(self, vetting: Vetting, *, by: str, at: datetime) -> None:
        self.require_person(vetting.username)
        self._insert(
            "vetting",
            {
                "username": vetting.username,
                "level": vetting.level,
                "granted": to_day(vetting.granted),
                "expires": to_day(vetting.expires),
                "reference": vetting.reference,
                "recorded_by": by,
                "recorded_at": to_time(at),
            },
        )

    def add_declaration(self, declaration: Declaration, *, by: str, at: datetime) -> None:
        self.require_person(declaration.username)
        self._insert(
            "declaration",
            {
                "username": declaration.username,
                "kind": declaration.kind,
                "signed": to_day(declaration.signed),
                "recorded_by": by,
                "recorded_at": to_time(at),
            },
        )

    def add_training(self, training: Training, *, by: str, at: datetime) -> None:
        self.require_person(training.username)
        self._insert(
            "training",
            {
                "username": training.username,
                "kind": training.kind,
                "completed": to_day(training.completed),
                "recorded_by": by,
                "recorded_at": to_time(at),
            },
        )

    def add_memorandum(self, memorandum: Memorandum, *, by: str, at: datetime) -> None:
        self.require_organisation(memorandum.organisation)
        self._insert(
            "memorandum",
            {
                "organisation": memorandum.organisation,
                "reference": memorandum.reference,
                "signed": to_day(memorandum.signed),
                "expires": to_day(memorandum.expires),
                "recorded_by": by,
                "recorded_at": to_time(at),
                "username": memorandum.username,
            },
        )

    def add_sharing_agreement(self, agreement: SharingAgreement, *, by: str, at: datetime) -> None:
        self.require_organisation(agreement.organisation)
        self._insert(
            "sharing_agreement",
            {
                "organisation": agreement.organisation,
                "reference": agreement.reference,
                "signed": to_day(agreement.signed),
                "expires": to_day(agreement.expires),
                "copied_to": agreement.copied_to,
                "recorded_by": by,
                "recorded_at": to_time(at),
            },
        )

    def add_sponsorship(self, sponsorship: Sponsorship) -> None:
        self._insert(
            "sponsorship",
            {
                "organisation": sponsorship.organisation,
                "sponsor": sponsorship.sponsor,
                "sponsored_by": sponsorship.sponsored_by,
                "at": to_time(sponsorship.at),
                "comment": sponsorship.comment,
            },
        )

    def add_owner_authorisation(self, authorisation: OwnerAuthorisation) -> None:
        self._insert(
            "owner_authorisation",
            {
                "organisation": authorisation.organisation,
                "authorised_by": authorisation.authorised_by,
                "at": to_time(authorisation.at),
                "comment": authorisation.comment,
            },
        )

    def add_organisation_stop(
        self, organisation: str, *, kind: str, reason: str, by: str, at: datetime
    ) -> int:
        return self._insert(
            "organisation_stop",
            {
                "organisation": organisation,
                "kind": kind,
                "reason": reason,
                "stopped_by": by,
                "stopped_at": to_time(at),
            },
        )

    def lift_organisation_stops(
        self, organisation: str, *, by: str, at: datetime, comment: str
    ) -> int:
        """Lift the organisation's suspensions in force (a termination is never lifted)."""
        cursor = self.conn.execute(
            "UPDATE organisation_stop SET lifted_by = ?, lifted_at = ?, lift_comment = ? "
            "WHERE organisation = ? AND kind = 'suspended' AND lifted_at IS NULL",
            (by, to_time(at), comment, organisation),
        )
        return int(cursor.rowcount)

    def add_code_of_connection(self, coc: CodeOfConnection) -> None:
        self.require_organisation(coc.organisation)
        self._insert(
            "code_of_connection",
            {
                "organisation": coc.organisation,
                "declared_by": coc.declared_by,
                "declared_on": to_day(coc.declared_on),
                "valid_until": to_day(coc.valid_until),
            },
        )

    def _insert_transitions(self, request: AccessRequest, first_seq: int) -> None:
        for seq, t in enumerate(request.history[first_seq:], start=first_seq):
            self._insert(
                "request_transition",
                {
                    "request_id": request.request_id,
                    "seq": seq,
                    "state": t.state,
                    "actor": t.actor,
                    "role": t.role,
                    "at": to_time(t.at),
                    "comment": t.comment,
                    "phone": t.phone,
                },
            )

    def insert_request(self, request: AccessRequest) -> None:
        self._insert(
            "access_request",
            {
                "request_id": request.request_id,
                "applicant": request.form.applicant,
                "organisation": request.applicant.organisation,
                "level": request.form.level,
                "state": request.state,
                "version": request.version,
                "submitted_at": to_time(request.submitted_at),
                "form": encode_form(request.form),
                "applicant_details": encode_applicant(request.applicant),
            },
        )
        self._insert_transitions(request, 0)

    def update_request(self, request: AccessRequest, *, expected_version: int) -> None:
        """Store ``request``'s new transitions if nobody changed it since ``expected_version``.

        Raises:
            Conflict: the request moved on meanwhile (someone else acted first).
        """
        cursor = self.conn.execute(
            "UPDATE access_request SET state = ?, version = ? WHERE request_id = ? AND version = ?",
            (request.state, request.version, request.request_id, expected_version),
        )
        if cursor.rowcount != 1:
            raise Conflict(
                f"request {request.request_id} was changed by someone else meanwhile; "
                "reload it and try again"
            )
        stored = self.conn.execute(
            "SELECT count(*) FROM request_transition WHERE request_id = ?", (request.request_id,)
        ).fetchone()[0]
        self._insert_transitions(request, int(stored))

    def insert_grant(self, grant: Grant) -> None:
        self._insert(
            "access_grant",
            {
                "grant_id": grant.grant_id,
                "request_id": grant.request_id,
                "username": grant.username,
                "level": grant.level,
                "purposes": to_json_list(grant.purposes),
                "areas": to_json_list(grant.areas),
                "tables": to_json_list(grant.tables),
                "unmask": to_json_list(grant.unmask),
                "extra_areas": to_json_list(grant.extra_areas),
                "starts": to_day(grant.starts),
                "ends": to_day(grant.ends),
                "reason": grant.reason,
                "authorised_by": grant.authorised_by,
                "authorised_at": to_time(grant.authorised_at),
            },
        )

    def revoke_grants(self, username: str, *, by: str, at: datetime, reason: str) -> list[str]:
        """Revoke every grant of ``username`` not yet revoked; the ids revoked."""
        ids = [
            r[0]
            for r in self._rows(
                "SELECT grant_id FROM access_grant WHERE username = ? AND revoked_at IS NULL",
                (username,),
            )
        ]
        self.conn.execute(
            "UPDATE access_grant SET revoked_at = ?, revoked_by = ?, revoke_reason = ? "
            "WHERE username = ? AND revoked_at IS NULL",
            (to_time(at), by, reason, username),
        )
        return ids

    def add_suspension(
        self, username: str, *, kind: str, reason: str, by: str, at: datetime
    ) -> int:
        return self._insert(
            "suspension",
            {
                "username": username,
                "kind": kind,
                "reason": reason,
                "suspended_by": by,
                "suspended_at": to_time(at),
            },
        )

    def lift_suspensions(self, username: str, *, by: str, at: datetime, comment: str) -> int:
        cursor = self.conn.execute(
            "UPDATE suspension SET lifted_by = ?, lifted_at = ?, lift_comment = ? "
            "WHERE username = ? AND lifted_at IS NULL",
            (by, to_time(at), comment, username),
        )
        return int(cursor.rowcount)

    def insert_review(self, review: AccessReview) -> None:
        self._insert(
            "access_review",
            {
                "review_id": review.review_id,
                "organisation": review.organisation,
                "opened_by": review.opened_by,
                "opened_at": to_time(review.opened_at),
                "due": to_day(review.due),
            },
        )
        for entry in review.entries:
            self._insert(
                "access_review_entry", {"review_id": review.review_id, "username": entry.username}
            )

    def decide_review_entry(self, review_id: str, entry: ReviewEntry) -> None:
        cursor = self.conn.execute(
            "UPDATE access_review_entry SET decision = ?, decided_by = ?, decided_at = ?, "
            "comment = ? WHERE review_id = ? AND username = ? AND decision IS NULL",
            (
                entry.decision,
                entry.decided_by,
                to_time(entry.decided_at),
                entry.comment,
                review_id,
                entry.username,
            ),
        )
        if cursor.rowcount != 1:
            raise Conflict(f"{entry.username!r} is not awaiting a decision in review {review_id}")

    def close_review(self, review_id: str, *, at: datetime) -> None:
        cursor = self.conn.execute(
            "UPDATE access_review SET closed_at = ? WHERE review_id = ? AND closed_at IS NULL",
            (to_time(at), review_id),
        )
        if cursor.rowcount != 1:
            raise Conflict(f"access review {review_id} is already closed")

    def dispose_history(self, ended_before: str, day_before: str) -> dict[str, int]:
        """Delete what ended before ``ended_before`` (a stored time; ``day_before``: the same
        as a date): ended or revoked grants, the final requests without a grant left and their
        steps, lifted suspensions and organisation stops, closed reviews. Returns the number of
        rows deleted per kind. (The caller records it in the same transaction.)"""
        counts: dict[str, int] = {}

        def delete(kind: str, sql: str, params: tuple[Any, ...]) -> None:
            counts[kind] = counts.get(kind, 0) + int(self.conn.execute(sql, params).rowcount)

        delete(
            "grants",
            "DELETE FROM access_grant WHERE revoked_at < ? OR (ends IS NOT NULL AND ends < ?)",
            (ended_before, day_before),
        )
        final = "state IN ('authorised', 'refused', 'withdrawn') AND submitted_at < ?"
        unattached = "request_id NOT IN (SELECT request_id FROM access_grant)"
        gone = f"SELECT request_id FROM access_request WHERE {final} AND {unattached}"
        delete(
            "request_steps",
            f"DELETE FROM request_transition WHERE request_id IN ({gone})",
            (ended_before,),
        )
        delete(
            "requests",
            f"DELETE FROM access_request WHERE {final} AND {unattached}",
            (ended_before,),
        )
        delete("suspensions", "DELETE FROM suspension WHERE lifted_at < ?", (ended_before,))
        delete(
            "organisation_stops",
            "DELETE FROM organisation_stop WHERE lifted_at < ?",
            (ended_before,),
        )
        closed = "SELECT review_id FROM access_review WHERE closed_at < ?"
        delete(
            "review_entries",
            f"DELETE FROM access_review_entry WHERE review_id IN ({closed})",
            (ended_before,),
        )
        delete("reviews", "DELETE FROM access_review WHERE closed_at < ?", (ended_before,))
        return counts

    def set_settings(self, settings: GovernanceSettings) -> None:
        self.conn.execute(
            "INSERT INTO governance_setting (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (_SETTINGS_KEY, settings.to_json()),
        )


class GovernanceStore:
    """The governance database of one deployment.

    Args:
        path: ``DIR/governance.sqlite`` (created with its tables if missing).
        busy_timeout: seconds a writer waits for another's write lock before Conflict.
    """

    def __init__(self, path: Path, *, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        if not self._ready():
            connect(self.path, busy_timeout=busy_timeout, create=True).close()

    def _ready(self) -> bool:
        """The register exists with this schema version (opening then costs one read)."""
        if not is_shared(self.path) and not self.path.is_file():
            return False
        conn = connect(self.path, busy_timeout=self.busy_timeout, create=False)
        try:
            found = table_exists(conn, "governance_schema")
            row = (
                conn.execute("SELECT version FROM governance_schema").fetchone() if found else None
            )
        finally:
            conn.close()
        return row is not None and int(row[0]) == SCHEMA_VERSION

    @contextmanager
    def _connection(self) -> Iterator[RegisterConnection]:
        conn = connect(self.path, busy_timeout=self.busy_timeout, create=False)
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def reading(self) -> Iterator[Reader]:
        """A consistent snapshot for reads."""
        with self._connection() as conn:
            conn.execute("BEGIN")
            try:
                yield Reader(conn)
            finally:
                conn.execute("ROLLBACK")

    @contextmanager
    def writing(self) -> Iterator[Writer]:
        """One write transaction: committed if the block completes, rolled back if it raises.

        Raises:
            Conflict: the write lock could not be taken within ``busy_timeout``.
        """
        with self._connection() as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise Conflict(
                    f"the governance database stayed busy for over {self.busy_timeout:g}s; "
                    "try again"
                ) from exc
            try:
                yield Writer(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise ConfigurationError(
                    f"the governance change could not be committed: {exc}"
                ) from exc
