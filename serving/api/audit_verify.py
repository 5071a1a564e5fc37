"""Check the audit log's chain: every file, every line, in order.

The files are the live log and its rotated siblings, walked in the order of their
first line's ``seq`` (whatever they are called, so logrotate's names work too). Each
line must parse, carry a ``mac`` that matches its content under the key, have the next
``seq``, and name the previous line's ``mac`` as ``prev`` (the first line of all:
:data:`~.audit_log.GENESIS`). The first line that does not is reported with its file
and line number; nothing after it is trusted.
"""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stratify.serving.api.audit_log import GENESIS, key_id, read_bytes, seal, siblings

ERR_NO_LOG = "no audit log at {path}"
ERR_FORMAT = "not a chained audit line (altered or cut short)"
ERR_ALTERED = "altered: its hash does not match its content"
ERR_OTHER_KEY = "written with another key (id {found}; this key's id is {ours})"
ERR_MISSING = "{n} line(s) missing or moved before this one (seq {seq}, expected {expected})"
ERR_ORDER = "out of order or repeated (seq {seq}, expected {expected})"
ERR_CHAIN = "does not chain to the line before it"
ERR_NO_NEWLINE = "cut short: the file does not end with a whole line"

_LINE = re.compile(rb'\A(\{.*,"prev":"[0-9a-f]{64}"),"mac":"([0-9a-f]{64})"}\Z')


@dataclass(frozen=True)
class Problem:
    """The first line that breaks the chain."""

    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Report:
    """What :func:`verify` found: the lines checked and the first problem, if any."""

    files: tuple[Path, ...]
    lines: int
    head: str
    problem: Problem | None


def _first_seq(path: Path) -> int:
    """Return the ``seq`` of a file's first line (-1 when it has none: checked first)."""
    try:
        first = read_bytes(path).split(b"\n", 1)[0]
        return int(json.loads(first)["seq"])
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return -1


def log_files(path: Path) -> list[Path]:
    """Return the log's files in chain order (rotated ones by first ``seq``, the live one last)."""
    rotated = sorted(siblings(path), key=lambda p: (_first_seq(p), p.name))
    return [*rotated, path] if path.exists() else rotated


def _parse(line: bytes) -> tuple[dict[str, Any], bytes, str] | None:
    """Return a line's fields, its sealed body and its mac, or None if it is not a chained line."""
    match = _LINE.match(line)
    try:
        fields = json.loads(line) if match else None
    except ValueError:
        return None
    if match is None or not isinstance(fields, dict):
        return None
    return fields, match[1] + b"}", match[2].decode()


def _check(line: bytes, key: bytes, seq: int, prev: str) -> tuple[str | None, str]:
    """Return (problem or None, this line's mac) for one line expected at ``seq`` after ``prev``."""
    parsed = _parse(line)
    if parsed is None:
        return ERR_FORMAT, prev
    fields, body, mac = parsed
    found = fields.get("seq")
    problem = None
    if not hmac.compare_digest(seal(body, key), mac):
        ours = key_id(key)
        other = fields.get("key") != ours
        problem = ERR_OTHER_KEY.format(found=fields.get("key"), ours=ours) if other else ERR_ALTERED
    elif isinstance(found, int) and found > seq:
        problem = ERR_MISSING.format(n=found - seq, seq=found, expected=seq)
    elif found != seq:
        problem = ERR_ORDER.format(seq=found, expected=seq)
    elif fields.get("prev") != prev:
        problem = ERR_CHAIN
    return problem, mac


def verify(path: Path, key: bytes) -> Report:
    """Check the chain of the audit log at ``path`` and its rotated files.

    Parameters
    ----------
    path : Path
        The live log (``serving.audit_log``); its rotated siblings are found beside it.
    key : bytes
        The audit key the service wrote with.

    Returns
    -------
    Report
        The files in order, the number of lines checked, the last ``mac`` (the head, to
        record elsewhere if removal of the newest lines must be detectable) and the first
        problem, or None when the chain is intact.

    Raises
    ------
    FileNotFoundError
        If there is neither a live log nor a rotated file.
    """
    files = log_files(path)
    if not files:
        raise FileNotFoundError(ERR_NO_LOG.format(path=path))
    seq, prev = 0, GENESIS
    for file in files:
        data = read_bytes(file)
        lines = data.split(b"\n")
        for number, line in enumerate(lines[:-1], start=1):
            problem, prev = _check(line, key, seq, prev)
            if problem is not None:
                return Report(tuple(files), seq, prev, Problem(file, number, problem))
            seq += 1
        if lines[-1]:
            return Report(tuple(files), seq, prev, Problem(file, len(lines), ERR_NO_NEWLINE))
    return Report(tuple(files), seq, prev, None)
