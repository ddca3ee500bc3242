"""Keeping access current: immediate suspension and reinstatement, revocation (leavers),
six-monthly access reviews of every account, code-of-connection reminders, and inactivity flags.

==========================================  ==============================================
suspend                                      admin, ISO, head of intelligence, the SPOC, or
                                             the user's local supervisor
reinstate, revoke                            admin, ISO or head of intelligence
access reviews: open, review cycle           admin (and the server's own schedule)
access reviews: confirm / remove a user      the organisation's SPOC, or admin, ISO, head of
                                             intelligence (never their own account)
==========================================  ==============================================

The lifecycle run (:meth:`OversightOperations.scheduled_cycle`) is a built-in schedule: the
serving process runs it at start and then periodically (:mod:`gateway.api.lifecycle`), as
:data:`SCHEDULER`, no cron needed. Each run opens the access reviews that are due — every
account of the organisation, approvers and administrators included — suspends the accounts left
unconfirmed past a review's deadline, reminds each partner organisation whose code-of-connection
declaration is due or lapsed (once per state), and flags inactive users.

Example:
    >>> service.suspend("i.sec", "a.khan", "shared their login")         # doctest: +SKIP
    >>> service.review_cycle("admin")                                   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from gateway.audit.kinds import EventKind
from gateway.auth.permissions import Action, Subject, allows, require
from gateway.errors import (
    Conflict,
    InputError,
    NotFound,
    StepOutOfOrder,
)
from gateway.governance.lifecycle import (
    AccessReview,
    InactiveUser,
    ReviewDecision,
    ReviewEntry,
    add_months,
    coc_due,
    inactive_users,
    review_due,
)
from gateway.governance.model import (
    SUSPENSION_KINDS,
    SuspensionKind,
)
from gateway.governance.operations import Operations, new_id
from gateway.governance.store import Reader, Writer

__all__ = ["SCHEDULER", "OversightOperations"]

#: Who the server's own scheduled lifecycle run acts as: not a person (no username has ``:``).
SCHEDULER = "gateway:scheduler"

_QUERY_KINDS = (EventKind.QUERY_STARTED, EventKind.QUERY_DENIED)


class OversightOperations(Operations):
    """Suspension, reinstatement, revocation, access reviews, inactivity."""

    # --- suspension, reinstatement, revocation ---------------------------------------------------

    def suspend(
        self, actor: str, username: str, reason: str, *, kind: SuspensionKind = "misuse"
    ) -> int:
        """Suspend at once (the next query is refused). Returns the suspension id."""
        if kind not in SUSPENSION_KINDS:
            raise InputError(f"suspension kind must be one of {', '.join(SUSPENSION_KINDS)}")
        if not reason.strip():
            raise InputError("a suspension must give its reason")
        at = self.clock()
        with self.store.writing() as tx:
            target = tx.require_person(username)
            supervisor = frozenset([target.local_supervisor] if target.local_supervisor else [])
            subject = Subject(username, target.organisation, supervisor)
            self._need(tx, actor, Action.SUSPEND, at, subject)
            return self._suspend(tx, actor, username, kind, reason, at)

    def _suspend(
        self, tx: Writer, actor: str, username: str, kind: SuspensionKind, reason: str, at: datetime
    ) -> int:
        suspension_id = tx.add_suspension(username, kind=kind, reason=reason, by=actor, at=at)
        self._event(
            tx,
            EventKind.ACCESS_SUSPENDED,
            actor,
            subject=username,
            comment=reason,
            kind=kind,
            suspension_id=suspension_id,
        )
        return suspension_id

    def reinstate(self, actor: str, username: str, comment: str) -> int:
        """Lift every suspension in force; returns how many were lifted."""
        if not comment.strip():
            raise InputError("a reinstatement must say why")
        with self._change_by(actor, Action.REINSTATE, Subject(username)) as (tx, at):
            tx.require_person(username)
            lifted = tx.lift_suspensions(username, by=actor, at=at, comment=comment)
            if lifted == 0:
                raise NotFound(f"{username!r} is not suspended")
            self._event(
                tx,
                EventKind.ACCESS_REINSTATED,
                actor,
                subject=username,
                comment=comment,
                lifted=lifted,
            )
        return lifted

    def revoke(self, actor: str, username: str, reason: str, *, leaver: bool = False) -> list[str]:
        """Revoke every grant of ``username`` (and with ``leaver``, close the account)."""
        if not reason.strip():
            raise InputError("a revocation must give its reason")
        with self._change_by(actor, Action.REVOKE, Subject(username)) as (tx, at):
            target = tx.require_person(username)
            revoked = tx.revoke_grants(username, by=actor, at=at, reason=reason)
            if leaver:
                tx.put_person(replace(target, left_on=at), new=False)
            self._event(
                tx,
                EventKind.ACCESS_REVOKED,
                actor,
                subject=username,
                comment=reason,
                grants=revoked,
                leaver=leaver,
            )
        return revoked

    # --- lifecycle: access reviews, inactivity -----------------------------------------------------

    def open_review(self, actor: str, organisation: str) -> AccessReview:
        """Open an access review listing every account of ``organisation`` in post now."""
        with self._change_by(actor, Action.OPEN_ACCESS_REVIEW) as (tx, at):
            return self._opened(tx, actor, organisation, at)

    def _opened(self, tx: Writer, actor: str, organisation: str, at: datetime) -> AccessReview:
        review = self._new_review(tx, actor, organisation, at)
        self._event(
            tx,
            EventKind.ACCESS_REVIEW_OPENED,
            actor,
            subject=review.review_id,
            organisation_code=organisation,
            due=review.due.isoformat(),
            users=[e.username for e in review.entries],
        )
        return review

    def access_review(self, review_id: str) -> AccessReview:
        with self.store.reading() as r:
            review = r.review(review_id)
        if review is None:
            raise NotFound(f"no access review {review_id!r}")
        return review

    def access_reviews(
        self, organisation: str | None = None, *, open_only: bool = False
    ) -> list[AccessReview]:
        with self.store.reading() as r:
            return r.reviews(organisation, open_only=open_only)

    def access_reviews_as(self, actor: str, organisation: str | None = None) -> list[AccessReview]:
        """Access reviews an administrator (all) or a SPOC (their organisation's) may see."""
        at = self.clock()
        with self.store.reading() as r:
            viewer = self._acting(r, actor, at)
            if organisation is None and allows(viewer, Action.SEE_ACCESS_REVIEWS, Subject()):
                return r.reviews(None)  # every organisation's (administrators)
            organisation = organisation or viewer.organisation
            require(viewer, Action.SEE_ACCESS_REVIEWS, Subject(organisation=organisation))
            return r.reviews(organisation)

    def _new_review(self, tx: Writer, actor: str, organisation: str, at: datetime) -> AccessReview:
        tx.require_organisation(organisation)
        if tx.reviews(organisation, open_only=True):
            raise Conflict(f"{organisation} already has an open access review")
        # every account, not only data users: approvers, SPOCs and administrators too
        users = [p.username for p in tx.people(organisation) if p.in_post(at)]
        review = AccessReview(
            review_id=new_id(f"RV-{organisation}", at),
            organisation=organisation,
            opened_by=actor,
            opened_at=at,
            due=at.date() + timedelta(days=tx.settings().review_days),
            entries=tuple(ReviewEntry(u) for u in users),
        )
        tx.insert_review(review)
        return review

    def confirm_review(
        self, actor: str, review_id: str, username: str, *, keep: bool, comment: str = ""
    ) -> None:
        """The SPOC confirms a user still needs access (``keep``) or asks for removal (their
        grants are revoked at once)."""
        at = self.clock()
        with self.store.writing() as tx:
            review = tx.review(review_id)
            if review is None:
                raise NotFound(f"no access review {review_id!r}")
            subject = Subject(username, review.organisation)
            self._need(tx, actor, Action.DECIDE_REVIEW_ENTRY, at, subject)
            if review.entry(username) is None:
                raise NotFound(f"{username!r} is not in access review {review_id}")
            if review.closed_at is not None:
                raise StepOutOfOrder(f"access review {review_id} is closed")
            decision: ReviewDecision = "confirmed" if keep else "removed"
            tx.decide_review_entry(review_id, ReviewEntry(username, decision, actor, at, comment))
            revoked = (
                []
                if keep
                else tx.revoke_grants(
                    username, by=actor, at=at, reason=f"access review {review_id}: no longer needed"
                )
            )
            self._event(
                tx,
                EventKind.ACCESS_REVIEW_CONFIRMED if keep else EventKind.ACCESS_REVIEW_REMOVED,
                actor,
                subject=username,
                comment=comment,
                review_id=review_id,
                grants=revoked,
            )

    def review_cycle(self, actor: str) -> dict[str, list[str]]:
        """The lifecycle run on demand by an administrator: what :meth:`scheduled_cycle` does.

        Returns:
            ``{"opened": [review ids], "suspended": [usernames], "closed": [review ids],
            "coc_reminders": [organisation codes], "inactive": [usernames]}``.
        """
        at = self.clock()
        with self.store.reading() as r:
            self._need(r, actor, Action.RUN_REVIEW_CYCLE, at)
        return self._cycle(actor, at)

    def scheduled_cycle(self) -> dict[str, list[str]]:
        """The server's built-in lifecycle run, as :data:`SCHEDULER` (no cron, no person).

        Opens reviews for organisations that are due, enforces overdue reviews (unconfirmed
        accounts suspended, review closed), reminds organisations whose code of connection is
        due or lapsed, and flags users inactive for ``inactivity_months``. Each change is its
        own audited operation; a run that changed anything is summarised in an
        ``access.lifecycle_run`` record.
        """
        result = self._cycle(SCHEDULER, self.clock())
        if any(result.values()):
            with self.store.reading() as r:
                self._event(r, EventKind.ACCESS_LIFECYCLE_RUN, SCHEDULER, subject="lifecycle",
                            result=result)  # fmt: skip
        return result

    def _cycle(self, actor: str, at: datetime) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {
            "opened": [],
            "suspended": [],
            "closed": [],
            "coc_reminders": [],
            "inactive": [],
        }
        with self.store.reading() as r:
            settings = r.settings()
            organisations = [
                o for o in r.organisations() if r.organisation_stop(o.code, at) is None
            ]
            reviews = r.reviews()
        for org in organisations:
            own = [rv for rv in reviews if rv.organisation == org.code]
            last = max((rv.opened_at for rv in own), default=None)
            if not any(rv.closed_at is None for rv in own) and review_due(
                last, at, settings.review_interval_months
            ):
                with self.store.writing() as tx:
                    out["opened"].append(self._opened(tx, actor, org.code, at).review_id)
        for review in reviews:
            if review.overdue(at.date()):
                for username in review.unconfirmed():
                    reason = f"not confirmed by the SPOC in access review {review.review_id}"
                    with self.store.writing() as tx:
                        self._suspend(tx, actor, username, "access_review", reason, at)
                    out["suspended"].append(username)
                self._close_review(actor, review)
                out["closed"].append(review.review_id)
        out["coc_reminders"] = self._remind_code_of_connection(actor, at, settings.coc_warn_days)
        flagged = self._last_flags()
        for user in self.inactive(at):
            since = flagged.get(user.username)
            if since is None or (user.last_activity is not None and since < user.last_activity):
                self._flag_inactive(actor, user)
                out["inactive"].append(user.username)
        return out

    def _remind_code_of_connection(self, actor: str, at: datetime, warn_days: int) -> list[str]:
        """Remind each partner organisation whose code of connection is due, lapsed or missing
        (:func:`~gateway.governance.lifecycle.coc_due`) — once per state and declaration."""
        reminded: dict[str, tuple[object, object]] = {}
        for event in self.audit.events(kinds=(EventKind.ACCESS_CODE_OF_CONNECTION_DUE,)):
            extra = event.details.get("details", {})
            reminded[str(event.details.get("subject", ""))] = (
                extra.get("status"),
                extra.get("valid_until"),
            )
        out: list[str] = []
        with self.store.reading() as r:
            if not r.settings().preconditions.partner_documents:
                return out
            for org in r.organisations():
                if org.kind == "force" or r.organisation_stop(org.code, at) is not None:
                    continue
                declarations = r.codes_of_connection(org.code)
                status = coc_due(declarations, at.date(), warn_days=warn_days)
                latest = max((c.valid_until for c in declarations), default=None)
                key = (status, latest.isoformat() if latest else None)
                if status == "current" or reminded.get(org.code) == key:
                    continue
                self._event(
                    r,
                    EventKind.ACCESS_CODE_OF_CONNECTION_DUE,
                    actor,
                    subject=org.code,
                    comment=f"code-of-connection declaration {status}",
                    status=status,
                    valid_until=key[1],
                    spocs=_spocs(r, org.code, at),
                )
                out.append(org.code)
        return out

    def _last_flags(self) -> dict[str, datetime]:
        last: dict[str, datetime] = {}
        for event in self.audit.events(kinds=(EventKind.ACCESS_INACTIVITY_FLAGGED,)):
            subject = str(event.details.get("subject", ""))
            last[subject] = max(event.time, last.get(subject, event.time))
        return last

    def _close_review(self, actor: str, review: AccessReview) -> None:
        at = self.clock()
        with self.store.writing() as tx:
            tx.close_review(review.review_id, at=at)
            self._event(
                tx,
                EventKind.ACCESS_REVIEW_CLOSED,
                actor,
                subject=review.review_id,
                unconfirmed=list(review.unconfirmed()),
                removed=list(review.removed()),
            )

    def _flag_inactive(self, actor: str, user: InactiveUser) -> None:
        with self.store.reading() as r:
            self._event(
                r,
                EventKind.ACCESS_INACTIVITY_FLAGGED,
                actor,
                subject=user.username,
                last_activity=user.last_activity.isoformat() if user.last_activity else None,
            )

    def inactive_as(self, actor: str) -> list[InactiveUser]:
        """:meth:`inactive`, for an administrator, ISO or head of intelligence.

        Raises:
            WrongRole: anyone else.
        """
        with self.store.reading() as r:
            self._need(r, actor, Action.SEE_REGISTER, self.clock())
        return self.inactive()

    def inactive(self, at: datetime | None = None) -> list[InactiveUser]:
        """Users holding data access with no query (allowed or denied) in the last
        ``inactivity_months``, from the audit log; ``last_activity`` None = never."""
        at = at or self.clock()
        with self.store.reading() as r:
            months = r.settings().inactivity_months
            since: dict[str, datetime] = {}
            for person in r.people():
                starts = [g.starts for g in r.grants(person.username) if g.active_at(at)]
                if starts and person.in_post(at):
                    since[person.username] = datetime.combine(min(starts), time.min, tzinfo=UTC)
        holders = set(since)
        cutoff = datetime.combine(add_months(at.date(), -months), at.timetz())
        recent = {e.actor for e in self.audit.events(kinds=_QUERY_KINDS, since=cutoff, until=at)}
        last: dict[str, datetime] = {}
        for username in sorted(holders - recent):
            for event in self.audit.events(kinds=_QUERY_KINDS, actor=username, until=at):
                last[username] = event.time
        return inactive_users(holders, last, at, months, since)


def _spocs(r: Reader, organisation: str, at: datetime) -> list[str]:
    """Who is reminded: the organisation's SPOCs in post."""
    return [p.username for p in r.people(organisation) if p.has_role("spoc") and p.in_post(at)]
