"""Review UI accounts: names, roles and scrypt password hashes.

Roles, each including the one before: `viewer` reads everything; `reviewer`
also approves or rejects proposals; `admin` also manages accounts. Passwords
are hashed with scrypt (RFC 7914; n=2^15, r=8, p=1, 16-byte salt), compared in
constant time, and never logged. Adding an account is audited by the caller.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import sqlite3
from dataclasses import dataclass

from .errors import InputError, NotFound

ROLES = ("viewer", "reviewer", "admin")
_NAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
_SCRYPT = {"n": 2 ** 15, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024, "dklen": 32}
MIN_PASSWORD_LENGTH = 12


@dataclass(frozen=True)
class User:
    name: str
    role: str

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL, salt BLOB NOT NULL,"
                 " hash BLOB NOT NULL, created INTEGER NOT NULL)")


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)


def add_user(conn: sqlite3.Connection, name: str, role: str, password: str, now: int) -> User:
    if not _NAME.match(name):
        raise InputError(f"user name {name!r}: use 2-32 lower-case letters, digits, '.', '_' or '-', "
                         "starting with a letter")
    if role not in ROLES:
        raise InputError(f"role {role!r}: one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
    if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
        raise InputError(f"user {name!r} already exists")
    salt = os.urandom(16)
    conn.execute("INSERT INTO users (name, role, salt, hash, created) VALUES (?,?,?,?,?)",
                 (name, role, salt, _hash(password, salt), now))
    return User(name, role)


def authenticate(conn: sqlite3.Connection, name: str, password: str) -> User | None:
    """The user if the password is right; None otherwise, in about the same time either way."""
    row = conn.execute("SELECT role, salt, hash FROM users WHERE name = ?", (name,)).fetchone()
    salt, expected = (row[1], row[2]) if row else (b"\0" * 16, b"\0" * 32)
    computed = _hash(password, salt)  # hashed even for an unknown name, so timing does not tell
    if row is None or not hmac.compare_digest(computed, expected):
        return None
    return User(name, row[0])


def get_user(conn: sqlite3.Connection, name: str) -> User:
    row = conn.execute("SELECT role FROM users WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFound(f"no user {name!r}")
    return User(name, row[0])

