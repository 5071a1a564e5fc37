"""What the chain costs a request: time appends with and without it, and print them.

``python -m stratify.serving.api.audit_bench [N]`` (default 10,000 appends each) in a
temporary folder: the plain append the log did before the chain (one ``json.dumps``
and one ``O_APPEND`` write), the chained append of one writer (lock, tail from its
cache, HMAC, write, unlock), and two writers alternating on one file, as the
service's workers do, so that every append reads the tail back from the file. A
benchmark, not a test: the numbers depend on the machine.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from stratify.serving.api.audit_log import FIELDS, AuditLog

ENTRY = {
    "request_id": "0123456789abcdef0123456789abcdef", "subject": "front door",
    "token_id": "t1", "endpoint": "/score", "target": "escalation",
    "record_ids": [f"P{i:08d}" for i in range(4)], "model_version": 3, "status": 200,
    "latency_ms": 2.345,
}  # fmt: skip


def _plain(path: Path) -> Callable[[], None]:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write() -> None:
        line: dict[str, object] = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        }
        line.update({k: ENTRY.get(k) for k in FIELDS if k != "time"})
        os.write(fd, (json.dumps(line, separators=(",", ":")) + "\n").encode())

    return write


def _chained(path: Path, writers: int) -> Callable[[], None]:
    logs = [AuditLog(path, rotation="none") for _ in range(writers)]
    turn = [0]

    def write() -> None:
        turn[0] = (turn[0] + 1) % writers
        logs[turn[0]].write(**ENTRY)

    return write


def _time(write: Callable[[], None], n: int) -> float:
    """Return the mean microseconds of ``n`` calls of ``write``."""
    start = time.perf_counter()
    for _ in range(n):
        write()
    return (time.perf_counter() - start) / n * 1e6


def run(n: int = 10_000) -> dict[str, float]:
    """Return the mean microseconds per append of each way of writing, ``n`` appends each."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        return {
            "plain append (no chain)": _time(_plain(folder / "plain.jsonl"), n),
            "chained, one writer": _time(_chained(folder / "one.jsonl", 1), n),
            "chained, two writers alternating": _time(_chained(folder / "two.jsonl", 2), n),
        }


def main(argv: list[str]) -> None:
    """Print the benchmark."""
    n = int(argv[0]) if argv else 10_000
    results = run(n)
    for name, micros in results.items():
        print(f"{name:<34} {micros:8.1f} µs per append ({n:,} appends)")


if __name__ == "__main__":
    main(sys.argv[1:])
