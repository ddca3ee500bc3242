"""Passwords: argon2id hashes and the policy's password rules.

Only argon2id hashes (argon2-cffi's defaults: 3 passes over 64 MiB, 4 lanes) are stored, never
a password. :func:`password_problem` applies the ``[login]`` rules to a proposed password:
long enough or a passphrase, not a commonly used password (the 20,000 of Django's list,
shipped as ``common-passwords.txt.gz`` with its licence), not the username, not one of the
last ``history`` passwords.

Example:
    >>> from gateway.policy.login import LoginSettings
    >>> rules = LoginSettings()
    >>> password_problem("password1234", "a.khan", rules, ())
    'that password is one of the most commonly used passwords'
    >>> password_problem("short", "a.khan", rules, ())
    'a password needs at least 12 characters, or a passphrase of at least 3 words'
    >>> password_problem("granite ferry lantern", "a.khan", rules, ()) is None
    True
    >>> verify_password(hash_password("granite ferry lantern"), "granite ferry lantern")
    True
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.policy.login import LoginSettings

__all__ = [
    "common_passwords",
    "hash_password",
    "is_passphrase",
    "needs_rehash",
    "password_problem",
    "verify_password",
]

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
_WORD = re.compile(r"[^\W\d_]{3,}")
_MAX_LENGTH = 256


def hash_password(password: str) -> str:
    """The argon2id hash to store (salted: two hashes of one password differ)."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (False for a damaged hash too)."""
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's (rehash at sign-in)."""
    return _HASHER.check_needs_rehash(stored_hash)


@cache
def common_passwords() -> frozenset[str]:
    """The deny-list, lower-cased."""
    source = resources.files("gateway.auth").joinpath("common-passwords.txt.gz")
    text = gzip.decompress(source.read_bytes()).decode("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def is_passphrase(password: str, words: int) -> bool:
    """At least ``words`` different words of three or more letters.

    Example:
        >>> is_passphrase("granite ferry lantern", 3), is_passphrase("abc abc abc", 3)
        (True, False)
    """
    return len({w.lower() for w in _WORD.findall(password)}) >= words


def password_problem(
    password: str, username: str, rules: LoginSettings, previous_hashes: Sequence[str]
) -> str | None:
    """Why ``password`` may not be used (a sentence for the person), or None when it may.

    Args:
        previous_hashes: the person's current and earlier hashes, newest first; the first
            ``rules.history`` are checked.
    """
    if len(password) > _MAX_LENGTH:
        return f"a password may have at most {_MAX_LENGTH} characters"
    if len(password) < rules.min_length and not is_passphrase(password, rules.passphrase_words):
        return (
            f"a password needs at least {rules.min_length} characters, or a passphrase of at "
            f"least {rules.passphrase_words} words"
        )
    folded = password.strip().lower()
    if folded in common_passwords():
        return "that password is one of the most commonly used passwords"
    if username and username.lower() in folded:
        return "a password may not contain the username"
    for stored in previous_hashes[: rules.history]:
        if verify_password(stored, password):
            return f"a password may not be one of the last {rules.history} used"
    return None
