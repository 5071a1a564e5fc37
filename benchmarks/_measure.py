"""Run a command in a child process and report its wall time and peak memory."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Measurement:
    """Wall-clock seconds and peak resident memory (MB) of one child process."""

    seconds: float
    peak_mb: float
    output: str


def measure(code: str) -> Measurement:
    """Run ``python -c code`` in a fresh process (so its peak RSS is its own)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark process failed:\n{proc.stderr[-3000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:  # the maximum over children did not move: this child was smaller
        peak = before
    return Measurement(seconds, peak / 1024, proc.stdout)
