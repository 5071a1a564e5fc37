"""Run a command in a child process and report its wall time and its own peak memory."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass

#: Appended to the measured code: the child reports its own peak RSS and CPU time, and
#: those of the worker processes it started and waited for (the largest one's peak).
#: (RUSAGE_CHILDREN in the parent would mix in every earlier child's peak.)
_FOOTER = """
import resource as _r
_u = _r.getrusage(_r.RUSAGE_SELF)
_c = _r.getrusage(_r.RUSAGE_CHILDREN)
print("__rusage__", _u.ru_maxrss, _u.ru_utime + _u.ru_stime,
      _c.ru_maxrss, _c.ru_utime + _c.ru_stime)
"""


@dataclass(frozen=True)
class Measurement:
    """Wall-clock seconds, peak resident memory (MB) and CPU seconds of one child process.

    ``worker_cpu_seconds`` and ``worker_peak_mb`` are those of the processes it started
    itself (all their CPU time; the peak of the largest), zero when it started none.
    """

    seconds: float
    peak_mb: float
    cpu_seconds: float
    output: str
    worker_peak_mb: float = 0.0
    worker_cpu_seconds: float = 0.0


def measure(code: str) -> Measurement:
    """Run ``python -c code`` in a fresh process and return its own figures."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code + _FOOTER], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark process failed:\n{proc.stderr[-3000:]}")
    lines = proc.stdout.strip().splitlines()
    _, maxrss_kib, cpu, workers_kib, workers_cpu = lines[-1].split()
    return Measurement(
        seconds,
        int(maxrss_kib) / 1024,
        float(cpu),
        "\n".join(lines[:-1]),
        int(workers_kib) / 1024,
        float(workers_cpu),
    )
