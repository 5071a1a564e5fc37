"""The append-only, tamper-evident audit log: one chained JSON line per request.

Each line records when, which request, who (the token's subject and id), which
endpoint and target, which pseudonymous record ids, which model version, the status
and the latency. Never a feature value, never a token. The file is opened with
``O_APPEND`` and each line is written with one ``write`` call, so a line reaches the
operating system before the response leaves (optionally ``fsync``-ed too: slower, but
it survives a power cut). A line that cannot be written raises :class:`AuditError`,
and the caller fails the request rather than serve it unaudited.

**The chain.** Every line ends with ``"key"`` (an id of the key, not the key), ``"seq"``
(its number across all files, from 0), ``"prev"`` (the previous line's ``mac``; the
first line of all takes :data:`GENESIS`) and ``"mac"``: HMAC-SHA256 under the audit
key of the line's bytes up to ``"mac"`` (closed with ``}``). Altering, removing or
reordering a line breaks the chain at that line; :mod:`.audit_verify` names it.
Without the key a line cannot be re-forged, but removing the *newest* lines of the
live file leaves a shorter valid chain: record the head that ``verify`` prints if that
must be detected too.

**The key** comes from ``$STRATIFY_AUDIT_KEY``, resolved at the edge by
:mod:`stratify.serving.settings`; unset, the public ``DEMO_KEY`` there stands in, as
the pseudonymisation key does for synthetic data. The key is never written to the log.

**Workers.** The service's workers append to one file: each write takes an exclusive
``flock`` on the file, reads the last line's ``seq`` and ``mac`` (the last 256 bytes),
appends, and releases. After taking the lock the writer checks that the path still
names its open file; if the file was rotated away (by another worker or by
logrotate's move-and-create) it reopens the path. A new, empty file chains to the
newest line of its rotated siblings (``requests*.jsonl*`` in the same folder), so a
file moved by logrotate is chained to as well, as long as it stays in the folder.
Do not use logrotate's ``copytruncate``: the truncation is (rightly) reported.

**Rotation** (under the lock): ``daily`` moves the file aside when its first line is
from an earlier UTC day, ``size`` when it has reached ``max_bytes``; the moved file is
named after its first line's time (``requests.20261202T125301.123Z.jsonl``). A log
begun before the chain existed is moved aside once as ``unchained-requests.*.jsonl``
(outside the chain's files) and a new chain starts at :data:`GENESIS`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import gzip
import hashlib
import hmac
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stratify.serving.settings import (
    DEFAULT_MAX_BYTES,
    DEFAULT_ROTATION,
    DEMO_KEY,
    Rotation,
    Settings,
)

ERR_WRITE = "the audit log could not be written; the request was not served"
ERR_TAIL = "the audit log's last line is damaged; run `stratify audit-log verify`"
FIELDS = (
    "time", "request_id", "subject", "token_id", "endpoint", "target", "record_ids",
    "model_version", "list_id", "status", "latency_ms",
)  # fmt: skip
CHAIN_FIELDS = ("key", "seq", "prev", "mac")
#: What the first line of a log chains to.
GENESIS = "0" * 64

_TAIL = re.compile(rb'"seq":(\d+),"prev":"[0-9a-f]{64}","mac":"([0-9a-f]{64})"}\n\Z')
_TAIL_BYTES = 256


class AuditError(RuntimeError):
    """The audit log could not be written."""


def key_id(key: bytes) -> str:
    """Return a short public id of ``key`` (which key wrote a line; reveals nothing)."""
    return hmac.new(key, b"stratify-audit-key-id", hashlib.sha256).hexdigest()[:8]


def seal(body: bytes, key: bytes) -> str:
    """Return the HMAC-SHA256 (hex) of a line's ``body`` (up to ``"mac"``, closed by ``}``)."""
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def tail_of(data: bytes) -> tuple[int, str] | None:
    """Return the ``seq`` and ``mac`` of the last line of ``data``, or None if it is not one."""
    match = _TAIL.search(data[-_TAIL_BYTES:])
    return (int(match[1]), match[2].decode()) if match else None


def read_bytes(path: Path) -> bytes:
    """Return a log file's bytes (``.gz`` files, as logrotate compresses them, unpacked)."""
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def siblings(path: Path) -> list[Path]:
    """Return the rotated files of the log at ``path`` (its folder's ``<stem>*.jsonl*``)."""
    if not path.parent.is_dir():
        return []
    return sorted(
        p
        for p in path.parent.glob(f"{path.stem}*")
        if p != path and path.suffix in p.name and p.is_file()
    )


def _newest_tail(path: Path) -> tuple[int, str] | None:
    """Return the last (seq, mac) among the rotated siblings, None when there are none."""
    tails = []
    for p in siblings(path):
        with contextlib.suppress(OSError, EOFError, gzip.BadGzipFile):
            tail = tail_of(read_bytes(p))
            if tail is not None:
                tails.append(tail)
    return max(tails) if tails else None


@dataclass
class _Open:
    fd: int
    ino: int
    day: str | None = None  # the UTC day of the file's first line, once read
    cached: tuple[int, int, str] | None = None  # (size, next seq, last mac) after our write
    checked: bool = False  # whether _unchained looked at the first line
    legacy: bool = False  # begun before the chain: moved aside as unchained-*


class AuditLog:
    """Append chained audit lines to ``path`` (created with its folder, mode 0600).

    Parameters
    ----------
    path : Path
        The live JSON-lines file.
    fsync : bool
        Also ``fsync`` after each line.
    key : bytes
        The HMAC key (default: the public demo key).
    rotation : {"daily", "size", "none"}
        When the live file is moved aside and a new one started.
    max_bytes : int
        The size that triggers rotation by size.
    clock : callable
        Returns the current UTC time (tests pass a fixed one).
    """

    def __init__(
        self, path: Path, fsync: bool = False, *, key: bytes = DEMO_KEY,
        rotation: Rotation = DEFAULT_ROTATION, max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:  # fmt: skip
        self.path = path
        self.fsync = fsync
        self.rotation = rotation
        self.max_bytes = max_bytes
        self._key = key
        self._clock = clock
        self._key_id = key_id(key)
        self._file: _Open | None = None
        self._thread_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditLog:
        """Return the log the settings describe (path, fsync, key, rotation)."""
        return cls(
            settings.audit_log, settings.audit_fsync, key=settings.audit_key,
            rotation=settings.audit_rotation, max_bytes=settings.audit_max_bytes,
        )  # fmt: skip

    def write(self, **entry: Any) -> None:
        """Append one chained line with the known fields of ``entry`` and the current time.

        Raises
        ------
        AuditError
            If the line could not be written completely, or the last line is damaged.
        """
        now = self._clock()
        line: dict[str, Any] = {"time": now.isoformat(timespec="milliseconds")}
        line.update({k: entry.get(k) for k in FIELDS if k != "time"})
        head = json.dumps(line, separators=(",", ":"))[:-1].encode()
        with self._thread_lock:
            try:
                self._append(head, now)
            except OSError as err:
                self.close()
                raise AuditError(ERR_WRITE) from err

    def _append(self, head: bytes, now: dt.datetime) -> None:
        f = self._locked(now)
        try:
            size = os.fstat(f.fd).st_size
            seq, prev = self._tail(f, size)
            body = head + b',"key":"%s","seq":%d,"prev":"%s"' % (
                self._key_id.encode(), seq, prev.encode(),
            )  # fmt: skip
            mac = seal(body + b"}", self._key)
            data = body + b',"mac":"%s"}\n' % mac.encode()
            try:
                if os.write(f.fd, data) != len(data):
                    raise OSError("short write")
                if self.fsync:
                    os.fsync(f.fd)
            except OSError:
                # a full disk may take part of the line: cut it off, so the chain ends
                # on a whole line and continues once there is room again
                with contextlib.suppress(OSError):
                    os.ftruncate(f.fd, size)
                raise
            f.cached = (size + len(data), seq + 1, mac)
        finally:
            fcntl.flock(f.fd, fcntl.LOCK_UN)

    def _tail(self, f: _Open, size: int) -> tuple[int, str]:
        """Return the next seq and the mac to chain to (the lock is held)."""
        if f.cached is not None and f.cached[0] == size:
            return f.cached[1], f.cached[2]
        if size == 0:
            newest = _newest_tail(self.path)
            return (newest[0] + 1, newest[1]) if newest else (0, GENESIS)
        tail = tail_of(os.pread(f.fd, _TAIL_BYTES, max(0, size - _TAIL_BYTES)))
        if tail is None:
            raise AuditError(ERR_TAIL)
        return tail[0] + 1, tail[1]

    def _locked(self, now: dt.datetime) -> _Open:
        """Return the live file, locked, after reopening or rotating it as needed."""
        while True:
            f = self._open()
            fcntl.flock(f.fd, fcntl.LOCK_EX)
            try:
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = -1
            if current != f.ino:  # moved away (rotated) since we opened it
                fcntl.flock(f.fd, fcntl.LOCK_UN)
                self.close()
                continue
            if self._unchained(f) or self._due(f, now):
                self._rotate(f)
                fcntl.flock(f.fd, fcntl.LOCK_UN)
                self.close()
                continue
            return f

    def _due(self, f: _Open, now: dt.datetime) -> bool:
        size = os.fstat(f.fd).st_size
        if size == 0 or self.rotation == "none":
            return False
        if self.rotation == "size":
            return size >= self.max_bytes
        if f.day is None:
            f.day = os.pread(f.fd, 32, 0)[9:19].decode(errors="replace")
        return f.day < now.date().isoformat()

    def _unchained(self, f: _Open) -> bool:
        """Whether the live file was begun before the chain (once per open file).

        Such a log (written before this version) is moved aside as ``unchained-*``,
        outside the chain's files, and a new chain begins. Only a file whose *first*
        line is unchained qualifies, so appending a bogus line cannot hide a chain.
        """
        if f.cached is not None or f.checked or os.fstat(f.fd).st_size == 0:
            return False
        f.checked = True
        first = os.pread(f.fd, 1 << 16, 0).split(b"\n", 1)[0]
        try:
            fields = json.loads(first)
        except ValueError:
            return False
        f.legacy = isinstance(fields, dict) and "time" in fields and "mac" not in fields
        return f.legacy

    def _rotate(self, f: _Open) -> None:
        """Move the live file aside, named after its first line's time (the lock is held)."""
        first = os.pread(f.fd, 40, 0)[9:32].decode(errors="replace")
        stamp = re.sub(r"[^0-9T]", "", first[:19]) + "." + first[20:23] + "Z"
        name = f"unchained-{self.path.stem}" if f.legacy else self.path.stem
        target = self.path.with_name(f"{name}.{stamp}{self.path.suffix}")
        n = 0
        while target.exists():
            n += 1
            target = self.path.with_name(f"{name}.{stamp}-{n}{self.path.suffix}")
        os.rename(self.path, target)

    def _open(self) -> _Open:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            self._file = _Open(fd, os.fstat(fd).st_ino)
        return self._file

    def close(self) -> None:
        """Close the file (it is reopened on the next write)."""
        if self._file is not None:
            fd, self._file = self._file.fd, None
            with contextlib.suppress(OSError):
                os.close(fd)
