"""Accounts and signing in: argon2id hashes, lockout per account, a rate limit per address.

A failed sign-in says the same thing whether the name is unknown, the password
wrong or the account locked, and takes the same time (an unknown name is
checked against a dummy hash), so the form tells an attacker nothing.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store import custody
from evidence_store.cases import CaseError
from evidence_store.models import User
from web.settings import WebSettings

ROLES = ("officer", "investigator", "supervisor", "cps", "admin")
ROLE_NAMES = {"officer": "Officer", "investigator": "Investigator", "supervisor": "Supervisor",
              "cps": "CPS reviewer", "admin": "Administrator"}
MIN_PASSWORD = 12


class AccountError(CaseError):
    """A user-facing problem with an account operation."""


def hasher(settings: WebSettings) -> PasswordHasher:
    return PasswordHasher(time_cost=settings.argon2_time_cost,
                          memory_cost=settings.argon2_memory_kib,
                          parallelism=settings.argon2_parallelism)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")


def create_user(session: Session, passwords: PasswordHasher, name: str, role: str,
                password: str, actor: str, full_name: str | None = None) -> User:
    name = name.strip()
    if not name or len(name) > 200 or any(c.isspace() for c in name):
        raise AccountError("a user name is 1-200 characters without spaces")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    check_password_rules(password)
    if find_user(session, name) is not None:
        raise AccountError(f"user {name} already exists")
    user = User(name=name, full_name=(full_name or name).strip(), role=role,
                password_hash=passwords.hash(password), active=True, failed_logins=0,
                created_at=datetime.now(UTC))
    session.add(user)
    session.flush()
    custody.append(session, custody.STORE_CHAIN, actor, "user_added", name,
                   {"role": role, "full_name": user.full_name})
    return user


def find_user(session: Session, name: str) -> User | None:
    return session.execute(select(User).where(User.name == name)).scalar_one_or_none()


@dataclass(frozen=True)
class SignIn:
    user: User | None
    #: Set when this attempt locked the account.
    locked_now: bool = False


class Authenticator:
    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self.passwords = hasher(settings)
        # Verified when the name is unknown, so that case costs what a real check costs.
        self._dummy = self.passwords.hash("not a password of anyone's")

    def authenticate(self, session: Session, name: str, password: str, address: str
                     ) -> SignIn:
        """The user when name and password match and the account is usable; logged."""
        user = find_user(session, name)
        now = datetime.now(UTC)
        if user is None:
            self._verify(self._dummy, password)
            custody.append(session, custody.STORE_CHAIN, name[:200], "login_failed", name[:200],
                           {"reason": "unknown user", "address": address})
            return SignIn(None)
        good = self._verify(user.password_hash, password)
        locked = user.locked_until is not None and user.locked_until > now
        if good and user.active and not locked:
            user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
            if self.passwords.check_needs_rehash(user.password_hash):
                user.password_hash = self.passwords.hash(password)
            custody.append(session, custody.STORE_CHAIN, user.name, "login", user.name,
                           {"address": address})
            return SignIn(user)
        reason = "locked" if locked else ("inactive" if not user.active else "bad password")
        locked_now = False
        if not good and not locked:
            user.failed_logins += 1
            if user.failed_logins >= self.settings.max_failed_logins:
                user.locked_until = now + self.settings.lockout
                locked_now = True
        custody.append(session, custody.STORE_CHAIN, user.name, "login_failed", user.name,
                       {"reason": reason, "address": address, "failures": user.failed_logins})
        if locked_now:
            custody.append(session, custody.STORE_CHAIN, user.name, "account_locked",
                           user.name, {"until": custody.utc_stamp(user.locked_until)})
        return SignIn(None, locked_now)

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.passwords.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def set_password(self, session: Session, user: User, password: str, actor: str) -> None:
        check_password_rules(password)
        user.password_hash = self.passwords.hash(password)
        user.failed_logins, user.locked_until = 0, None
        custody.append(session, custody.STORE_CHAIN, actor, "password_set", user.name, {})


def unlock(session: Session, user: User, actor: str) -> None:
    user.failed_logins, user.locked_until = 0, None
    custody.append(session, custody.STORE_CHAIN, actor, "account_unlocked", user.name, {})


class RateLimiter:
    """At most ``limit`` hits per key within ``window`` seconds, in this process.

    Enough for one server process; lockout in the database still holds across several.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Counts this hit; False when the key is over its limit."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            if len(self._hits) > 10_000:
                # Forget idle addresses so a scan of many sources cannot grow this forever.
                for stale in [k for k, v in self._hits.items() if not v]:
                    del self._hits[stale]
            return True
