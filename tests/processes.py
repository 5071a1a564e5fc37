"""Process helpers for tests."""

import subprocess
import sys


def dead_pid() -> int:
    """Return the pid of a process that has just finished (so it is not alive)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)
