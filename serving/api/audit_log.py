"""The append-only audit log: one JSON line per request.

Each line records when, which request, who (the token's subject and id), which
endpoint and target, which pseudonymous record ids, which model version, the status
and the latency. Never a feature value, never a token. The file is opened with
``O_APPEND`` and each line is written with one ``write`` call, so the workers of the
service can share it without interleaving and a line reaches the operating system
before the response leaves (optionally ``fsync``-ed too: slower, but it survives a
power cut). A line that cannot be written raises :class:`AuditError`, and the caller
fails the request rather than serve it unaudited.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

ERR_WRITE = "the audit log could not be written; the request was not served"
FIELDS = (
    "time", "request_id", "subject", "token_id", "endpoint", "target", "record_ids",
    "model_version", "status", "latency_ms",
)  # fmt: skip


class AuditError(RuntimeError):
    """The audit log could not be written."""


class AuditLog:
    """Append audit lines to ``path`` (created with its folder, mode 0600).

    Parameters
    ----------
    path : Path
        The JSON-lines file.
    fsync : bool
        Also ``fsync`` after each line.
    """

    def __init__(self, path: Path, fsync: bool = False) -> None:
        self.path = path
        self.fsync = fsync
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

    def write(self, **entry: Any) -> None:
        """Append one line with the known fields of ``entry`` and the current time.

        Raises
        ------
        AuditError
            If the line could not be written completely.
        """
        line: dict[str, Any] = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")}
        line.update({k: entry.get(k) for k in FIELDS if k != "time"})
        data = (json.dumps(line, separators=(",", ":")) + "\n").encode()
        try:
            fd = self._open()
            if os.write(fd, data) != len(data):
                raise OSError("short write")
            if self.fsync:
                os.fsync(fd)
        except OSError as err:
            self.close()
            raise AuditError(ERR_WRITE) from err

    def close(self) -> None:
        """Close the file (it is reopened on the next write)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)
