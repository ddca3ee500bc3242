"""Sign-in by the policy's [login] rules, on real SQLite stores and a real audit log, with a
clock the tests move: lockout, unlock, idle sign-off, session rotation, password rules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.audit.log import AuditLog
from gateway.auth.authenticate import BearerTokenAuthenticator
from gateway.auth.signin import PasswordRejected, SessionEnded, SignIn
from gateway.auth.tokens import TokenStore
from gateway.datadir import DataDir
from gateway.errors import AccountIdle, AccountLocked, AccountSuspended, AuthenticationError
from gateway.policy.login import LoginSettings
from gateway.users import UsersFile

USERS = """
[users."a.khan"]
organisation = "Middlesbrough Council"
level = "general"
areas = ["E06000002"]
purposes = ["SA-2026"]

[users."b.gone"]
organisation = "Middlesbrough Council"
level = "general"
suspended = true
"""
FIRST = "granite ferry lantern"
SECOND = "copper willow meadow"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def data_dir(tmp_path: Path) -> DataDir:
    dd = DataDir(tmp_path)
    dd.users.write_text(USERS, "utf-8")
    return dd


@pytest.fixture
def audit(data_dir: DataDir) -> Iterator[AuditLog]:
    with AuditLog.open(data_dir) as log:
        yield log


def make_signin(data_dir: DataDir, audit: AuditLog, clock: Clock, **rules: object) -> SignIn:
    settings = replace(LoginSettings(), **rules)  # type: ignore[arg-type]
    return SignIn.open(data_dir.governance, UsersFile(data_dir.users), audit, settings, clock=clock)


@pytest.fixture
def signin(data_dir: DataDir, audit: AuditLog, clock: Clock) -> SignIn:
    signin = make_signin(data_dir, audit, clock)
    signin.set_password("a.khan", FIRST, by="gw.admin")
    return signin


def kinds(audit: AuditLog, since: int = 0) -> list[tuple[str, str]]:
    return [(e.kind, str(e.details.get("comment", ""))) for e in audit.events(since)]


def test_first_sign_in_changes_password_then_accepts_syops(signin: SignIn, audit: AuditLog) -> None:
    secret, session = signin.sign_in("a.khan", FIRST, "10.0.0.1")
    assert session.stage == "password_change"
    secret2, session = signin.change_password(secret, FIRST, SECOND, "10.0.0.1")
    assert session.stage == "syops"
    assert signin.sessions.find(secret) is None  # rotated: the old id is dead
    secret3, session = signin.accept_syops(secret2, signin.rules.syops_version, "10.0.0.1")
    assert session.stage == "active"
    assert signin.sessions.find(secret2) is None
    _, principal = signin.resolve(secret3)
    assert principal.username == "a.khan"
    recorded = [k for k, _ in kinds(audit)]
    assert recorded == ["access.password_set", "access.password_changed", "access.signed_in"]
    signed_in = next(iter(audit.events(kinds=["access.signed_in"])))
    assert signed_in.details["details"]["syops_version"] == "2026-1"
    # the second sign-in goes straight to the SyOPs (accepted again at each sign-in)
    _, again = signin.sign_in("a.khan", SECOND, "10.0.0.1")
    assert again.stage == "syops"


def test_three_failures_lock_the_account_and_every_one_is_audited(
    signin: SignIn, audit: AuditLog, clock: Clock
) -> None:
    for _ in range(2):
        with pytest.raises(AuthenticationError, match="username or password is not right"):
            signin.sign_in("a.khan", "wrong password here", "10.0.0.9")
    with pytest.raises(AccountLocked, match="locked after 3 failed"):
        signin.sign_in("a.khan", "wrong password here", "10.0.0.9")
    # the right password no longer helps
    with pytest.raises(AccountLocked):
        signin.sign_in("a.khan", FIRST, "10.0.0.9")
    recorded = [k for k, _ in kinds(audit)][1:]
    assert recorded == [
        "access.authentication_failed",
        "access.authentication_failed",
        "access.authentication_failed",
        "access.account_locked",
        "access.authentication_failed",
    ]
    reasons = [
        e.details["details"]["reason"] for e in audit.events(kinds=["access.authentication_failed"])
    ]
    assert reasons == ["bad_password"] * 3 + ["account_locked"]
    assert signin.locked("a.khan")
    signin.unlock("a.khan", by="gw.admin", reason="phoned the service desk")
    assert not signin.locked("a.khan")
    assert signin.sign_in("a.khan", FIRST, "10.0.0.9")[1].stage == "password_change"
    unlocked = next(iter(audit.events(kinds=["access.account_unlocked"])))
    assert (unlocked.actor, unlocked.details["subject"]) == ("gw.admin", "a.khan")


def test_a_lock_lapses_after_the_policy_interval_audited_as_the_system(
    data_dir: DataDir, audit: AuditLog, clock: Clock
) -> None:
    signin = make_signin(data_dir, audit, clock, unlock_after_minutes=30)
    signin.set_password("a.khan", FIRST, by="gw.admin")
    for _ in range(3):
        with pytest.raises((AuthenticationError, AccountLocked)):
            signin.sign_in("a.khan", "not the password", "10.0.0.9")
    clock.advance(minutes=29)
    with pytest.raises(AccountLocked):
        signin.sign_in("a.khan", FIRST, "10.0.0.9")
    clock.advance(minutes=2)
    assert signin.sign_in("a.khan", FIRST, "10.0.0.9")[1].username == "a.khan"
    unlocked = next(iter(audit.events(kinds=["access.account_unlocked"])))
    assert unlocked.actor == "system"


def test_no_interval_means_only_an_administrator_unlocks(
    data_dir: DataDir, audit: AuditLog, clock: Clock
) -> None:
    signin = make_signin(data_dir, audit, clock, unlock_after_minutes=0)
    signin.set_password("a.khan", FIRST, by="gw.admin")
    for _ in range(3):
        with pytest.raises((AuthenticationError, AccountLocked)):
            signin.sign_in("a.khan", "not the password", "10.0.0.9")
    clock.advance(days=30)
    assert signin.locked("a.khan")


def test_unknown_user_and_wrong_password_answer_alike(signin: SignIn) -> None:
    with pytest.raises(AuthenticationError) as unknown:
        signin.sign_in("nobody", FIRST, "10.0.0.1")
    with pytest.raises(AuthenticationError) as wrong:
        signin.sign_in("a.khan", "not the password", "10.0.0.1")
    assert unknown.value.message == wrong.value.message


def test_a_suspended_person_cannot_sign_in(signin: SignIn) -> None:
    signin.set_password("b.gone", FIRST, by="gw.admin")
    with pytest.raises(AccountSuspended):
        signin.sign_in("b.gone", FIRST, "10.0.0.1")


def active(signin: SignIn) -> str:
    secret, _ = signin.sign_in("a.khan", FIRST, "10.0.0.1")
    secret, _ = signin.change_password(secret, FIRST, SECOND, "10.0.0.1")
    secret, _ = signin.accept_syops(secret, signin.rules.syops_version, "10.0.0.1")
    return secret


def test_idle_sessions_end_on_the_server(signin: SignIn, audit: AuditLog, clock: Clock) -> None:
    secret = active(signin)
    clock.advance(minutes=14)
    signin.resolve(secret)  # used: the interval starts again
    clock.advance(minutes=14, seconds=59)
    signin.resolve(secret)
    clock.advance(minutes=15)
    with pytest.raises(SessionEnded, match="15 minutes without use") as ended:
        signin.resolve(secret)
    assert ended.value.reason == "idle"
    assert signin.sessions.find(secret) is None
    out = list(audit.events(kinds=["access.signed_out"]))[-1]
    assert out.details["details"]["reason"] == "idle"


def test_sessions_end_when_the_person_is_locked(signin: SignIn) -> None:
    secret = active(signin)
    for _ in range(3):
        with pytest.raises((AuthenticationError, AccountLocked)):
            signin.sign_in("a.khan", "not the password", "10.0.0.9")
    with pytest.raises(SessionEnded):
        signin.resolve(secret)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short1!", "at least 12 characters"),
        ("password1234", "most commonly used"),
        ("qwertyuiop123", "most commonly used"),
        ("a.khan-is-my-name", "contain the username"),
        ("abc abc abc", "at least 12 characters"),
    ],
)
def test_password_rules(signin: SignIn, password: str, problem: str) -> None:
    secret, _ = signin.sign_in("a.khan", FIRST, "10.0.0.1")
    with pytest.raises(PasswordRejected, match=problem):
        signin.change_password(secret, FIRST, password, "10.0.0.1")


def test_none_of_the_last_three_passwords_again(signin: SignIn) -> None:
    secret = active(signin)  # FIRST, then SECOND
    third = "harbour pebble thistle"
    secret, _ = signin.change_password(secret, SECOND, third, "10.0.0.1")
    for earlier in (FIRST, SECOND, third):
        with pytest.raises(PasswordRejected, match="last 3"):
            signin.change_password(secret, third, earlier, "10.0.0.1")
    fourth = "ivory quartz raven"
    secret, _ = signin.change_password(secret, third, fourth, "10.0.0.1")
    # FIRST is now four passwords back: allowed again
    signin.change_password(secret, fourth, FIRST, "10.0.0.1")


def test_a_locked_persons_tokens_stop(
    data_dir: DataDir, audit: AuditLog, signin: SignIn, clock: Clock
) -> None:
    tokens = TokenStore(data_dir.governance, clock=clock)
    token = tokens.issue("a.khan", issued_by="gw.admin").token
    authenticator = BearerTokenAuthenticator(
        tokens,
        UsersFile(data_dir.users),
        audit,
        owner_refusal=signin.token_refusal,
        clock=clock,
    )
    assert authenticator.authenticate(f"Bearer {token}", "10.0.0.1").username == "a.khan"
    for _ in range(3):
        with pytest.raises((AuthenticationError, AccountLocked)):
            signin.sign_in("a.khan", "not the password", "10.0.0.9")
    with pytest.raises(AccountLocked):
        authenticator.authenticate(f"Bearer {token}", "10.0.0.1")
    signin.unlock("a.khan", by="gw.admin")
    assert authenticator.authenticate(f"Bearer {token}", "10.0.0.1").username == "a.khan"


def test_a_request_records_the_session_only_when_the_record_is_stale(
    signin: SignIn, clock: Clock
) -> None:
    secret = active(signin)
    start = clock.now
    for _ in range(5):  # requests 10 s apart: within a twentieth of 15 minutes (45 s)
        clock.advance(seconds=10)
        session, _ = signin.resolve(secret)
        assert session.last_seen <= start + timedelta(seconds=45)
    stored = signin.sessions.find(secret)
    assert stored is not None
    assert stored.last_seen == start + timedelta(seconds=50)  # written once, at 50 s
    clock.advance(seconds=10)  # a request at 60 s: not recorded
    signin.resolve(secret)
    stored = signin.sessions.find(secret)
    assert stored is not None
    assert stored.last_seen == start + timedelta(seconds=50)
    # the expiry is exact to that interval: 15 minutes after the recorded request, so 10 s
    # before 15 minutes after the last one (at most 45 s early, never late)
    ends = stored.last_seen + timedelta(minutes=15)
    rules = signin.rules
    assert (
        stored.ended_by(ends - timedelta(seconds=1), rules.idle_timeout, rules.session_lifetime)
        is None
    )
    clock.now = ends
    with pytest.raises(SessionEnded):
        signin.resolve(secret)


def test_a_persons_tokens_stop_when_they_are_idle_and_start_at_the_next_sign_in(
    data_dir: DataDir, audit: AuditLog, clock: Clock
) -> None:
    signin = make_signin(data_dir, audit, clock, token_idle_minutes=60 * 24)
    signin.set_password("a.khan", FIRST, by="gw.admin")
    tokens = TokenStore(data_dir.governance, clock=clock)
    token = tokens.issue("a.khan", issued_by="gw.admin").token
    authenticator = BearerTokenAuthenticator(
        tokens,
        UsersFile(data_dir.users),
        audit,
        owner_refusal=signin.token_refusal,
        clock=clock,
    )
    bearer = f"Bearer {token}"
    clock.advance(hours=23)  # idle since the token was issued, not yet a day
    assert authenticator.authenticate(bearer, "10.0.0.1").username == "a.khan"
    clock.advance(hours=23)  # the use above counts
    assert authenticator.authenticate(bearer, "10.0.0.1").username == "a.khan"
    clock.advance(hours=20)
    active(signin)  # the web counts too: the token alone was idle for 43 h 59 min below
    clock.advance(hours=23, minutes=59)
    assert authenticator.authenticate(bearer, "10.0.0.1").username == "a.khan"
    clock.advance(days=1)
    with pytest.raises(AccountIdle, match="sign in to the web application") as idle:
        authenticator.authenticate(bearer, "10.0.0.1")
    assert idle.value.status == 403
    refused = list(audit.events(kinds=["access.authentication_failed"]))[-1]
    assert refused.details["details"]["reason"] == "account_idle"
    with pytest.raises(AccountIdle):  # a refused use does not count as a use
        authenticator.authenticate(bearer, "10.0.0.1")
    signin.sign_in("a.khan", SECOND, "10.0.0.1")
    assert authenticator.authenticate(bearer, "10.0.0.1").username == "a.khan"


def test_no_token_idle_rule_when_the_policy_sets_none(
    data_dir: DataDir, audit: AuditLog, clock: Clock
) -> None:
    signin = make_signin(data_dir, audit, clock, token_idle_minutes=0)
    tokens = TokenStore(data_dir.governance, clock=clock)
    token = tokens.issue("a.khan", issued_by="gw.admin", expires_in=None).token
    authenticator = BearerTokenAuthenticator(
        tokens, UsersFile(data_dir.users), audit, owner_refusal=signin.token_refusal, clock=clock
    )
    clock.advance(days=365)
    assert authenticator.authenticate(f"Bearer {token}", "10.0.0.1").username == "a.khan"
