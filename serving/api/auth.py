"""Bearer tokens with roles, stored only as salted hashes.

A token reads ``stk_<id>_<secret>``. The tokens file (JSON, or the same JSON given to
:class:`TokenStore` directly, e.g. from ``$STRATIFY_TOKENS`` by the service's start-up)
keeps, per token, its id, subject, roles, a random salt and
SHA-256(salt + secret); the secret itself is printed once by ``stratify tokens add``
and never stored. The secret has 256 bits of entropy, so one fast salted hash is
enough (a slow password hash would cost milliseconds per request for no gain), and
the comparison is constant-time (:func:`hmac.compare_digest`). The file is re-read
when it changes (checked at most once a second), so a new, expired or revoked token
takes effect without a restart, and rewritten atomically (mode 0600) when a token is
added or revoked. A token may carry an expiry (``expires``, UTC); a revoked one keeps
its entry, marked ``revoked``, so ``stratify tokens list`` still shows who had it. A
tokens file that exists but cannot be read or parsed accepts no token at all
(:class:`TokensUnavailable`), rather than the tokens it had before.

Roles: ``scorer`` may call ``/score``, ``reviewer`` may call ``/model``, ``decisions``
may call ``/decisions`` (case-management systems recording managers' decisions).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from stratify.core.files import write_atomic

Role = Literal["scorer", "reviewer", "decisions"]
ROLES: tuple[Role, ...] = ("scorer", "reviewer", "decisions")
PREFIX = "stk"
RELOAD_SECONDS = 1.0
ERR_ROLE = "unknown role {role!r}; choose from: " + ", ".join(ROLES)
ERR_SUBJECT = "the subject must be a non-empty name of at most 100 characters"
ERR_TOKENS_FILE = "the tokens file {path} could not be read: {reason}"
ERR_TOKENS_UNREADABLE = "the service cannot read its tokens file; no request is accepted"
ERR_NO_TOKEN = "no token with id {token_id!r} in {path}"
ERR_EXPIRY = "the expiry must be in the future"
#: what ``tokens list`` shows of an entry (never the salt or the hash)
LISTED = ("id", "subject", "roles", "created", "expires", "revoked")
logger = logging.getLogger(__name__)


class TokensUnavailable(RuntimeError):
    """The tokens file exists but cannot be read: no token can be checked."""


@dataclass(frozen=True)
class Principal:
    """Who a valid token belongs to."""

    token_id: str
    subject: str
    roles: frozenset[str]


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def now_utc() -> dt.datetime:
    """Return the current UTC time (the clock expiry is checked against)."""
    return dt.datetime.now(dt.UTC)


def new_token(
    subject: str, roles: Sequence[str], expires: dt.datetime | None = None
) -> tuple[str, dict[str, Any]]:
    """Return a new token and the entry that stores it (salted hash only).

    Raises
    ------
    ValueError
        If a role is unknown or the subject is empty.
    """
    for role in roles:
        if role not in ROLES:
            raise ValueError(ERR_ROLE.format(role=role))
    if not subject.strip() or len(subject) > 100:
        raise ValueError(ERR_SUBJECT)
    if expires is not None and expires <= now_utc():
        raise ValueError(ERR_EXPIRY)
    token_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_hex(16)
    entry = {
        "id": token_id, "subject": subject.strip(), "roles": sorted(set(roles)), "salt": salt,
        "sha256": _digest(salt, secret),
        "created": now_utc().isoformat(timespec="seconds"),
    }  # fmt: skip
    if expires is not None:
        entry["expires"] = expires.astimezone(dt.UTC).isoformat(timespec="seconds")
    return f"{PREFIX}_{token_id}_{secret}", entry


def add_token(
    path: Path, subject: str, roles: Sequence[str], *, replace: bool = False,
    expires: dt.datetime | None = None,
) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """Create a token, append its hashed entry to the tokens file; return (token, entry).

    With ``replace``, the subject's earlier tokens are removed first.
    """
    token, entry = new_token(subject, roles, expires)
    entries = _read_file(path) if path.exists() else []
    if replace:
        entries = [e for e in entries if e.get("subject") != entry["subject"]]
    _write_entries(path, [*entries, entry])
    return token, entry


def _write_entries(path: Path, entries: list[dict[str, Any]]) -> None:
    text = json.dumps({"tokens": entries}, indent=2)
    write_atomic(path, lambda tmp: _write_private(tmp, text))


def revoke_token(path: Path, token_id: str) -> dict[str, Any]:
    """Mark a token revoked (it stops working within a second); return its listed entry.

    Raises
    ------
    LookupError
        If the file has no token with that id.
    """
    entries = _read_file(path) if path.exists() else []
    found = [e for e in entries if e.get("id") == token_id]
    if not found:
        raise LookupError(ERR_NO_TOKEN.format(token_id=token_id, path=path))
    found[0].setdefault("revoked", now_utc().isoformat(timespec="seconds"))
    _write_entries(path, entries)
    return listed(found[0])


def listed(entry: dict[str, Any]) -> dict[str, Any]:
    """Return what may be shown of an entry: never its salt or hash."""
    return {k: entry[k] for k in LISTED if k in entry}


def list_tokens(path: Path) -> list[dict[str, Any]]:
    """Return every token's listed entry (id, subject, roles, created, expiry, revocation)."""
    return [listed(e) for e in (_read_file(path) if path.exists() else [])]


def usable(entry: dict[str, Any], now: dt.datetime) -> bool:
    """Whether an entry is neither revoked nor expired at ``now``."""
    if entry.get("revoked"):
        return False
    expires = entry.get("expires")
    return expires is None or now < dt.datetime.fromisoformat(expires)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def _read_file(path: Path) -> list[dict[str, Any]]:
    try:
        return _parse(path.read_text())
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(ERR_TOKENS_FILE.format(path=path, reason=err)) from None


def _parse(text: str) -> list[dict[str, Any]]:
    entries = json.loads(text)["tokens"]
    if not isinstance(entries, list):
        raise ValueError("'tokens' is not a list")
    return entries


class TokenStore:
    """Check bearer tokens against the hashed entries of a file or of a JSON text.

    Parameters
    ----------
    path : Path
        The tokens file (ignored when ``tokens_json`` is given). A missing file means
        no token is valid.
    tokens_json : str, optional
        The tokens file's content given directly (``Settings.tokens_json``); never
        reloaded.
    """

    def __init__(self, path: Path, tokens_json: str | None = None) -> None:
        self.path = path
        self._given = tokens_json
        self._entries: dict[str, dict[str, Any]] = {}
        self._stamp: tuple[float, int] | None = None
        self._checked = float("-inf")
        self._dummy_salt = secrets.token_hex(16)
        self._unreadable = False
        if self._given:
            self._entries = {e["id"]: e for e in _parse(self._given)}
        else:
            self._reload()

    def _reload(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._entries, self._stamp, self._unreadable = {}, None, False
            return
        except OSError as err:
            self._fail(ERR_TOKENS_FILE.format(path=self.path, reason=err))
            return
        stamp = (st.st_mtime, st.st_size)
        if stamp != self._stamp or self._unreadable:
            self._stamp = stamp
            try:
                self._entries = {e["id"]: e for e in _read_file(self.path)}
                self._unreadable = False
            except (ValueError, TypeError) as err:
                self._fail(str(err))

    def _fail(self, message: str) -> None:
        """Accept no token until the file can be read again (fail closed)."""
        if not self._unreadable:
            logger.error("%s; no request is accepted until it can be read", message)
        self._entries, self._unreadable = {}, True

    def authenticate(self, header: str | None) -> Principal | None:
        """Return the principal of an ``Authorization: Bearer ...`` header, or None.

        Raises
        ------
        TokensUnavailable
            If the tokens file exists but cannot be read.
        """
        now = time.monotonic()
        if not self._given and now - self._checked > RELOAD_SECONDS:
            self._checked = now
            self._reload()
        if self._unreadable:
            raise TokensUnavailable(ERR_TOKENS_UNREADABLE)
        if not header or not header.startswith("Bearer "):
            return None
        parts = header[7:].strip().split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        entry = self._entries.get(parts[1])
        # an unknown id costs the same hash and comparison as a known one
        salt = entry["salt"] if entry else self._dummy_salt
        expected = entry["sha256"] if entry else "0" * 64
        matched = hmac.compare_digest(_digest(salt, parts[2]), expected)
        if entry is None or not matched or not usable(entry, now_utc()):
            return None
        return Principal(entry["id"], entry["subject"], frozenset(entry["roles"]))
