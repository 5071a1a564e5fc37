"""Sweep temporary outputs left by writers that were killed before they could clean up.

Writers build into ``<name>.tmp-<pid>`` beside their target and rename it into place.
A process killed outright cannot remove its temporary file; the next writer does, once
that process is gone. Files of a process still running are never touched.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """Return whether a process with ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, but belongs to someone else
        return True
    return True


def remove_stale(directory: Path, stem: str) -> list[Path]:
    """Remove ``<stem>.tmp-<pid>*`` files or folders in ``directory`` whose process is gone.

    Returns
    -------
    list[Path]
        What was removed.
    """
    pattern = re.compile(rf"^{re.escape(stem)}\.tmp-(\d+)(\..*)?$")
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for entry in directory.iterdir():
        match = pattern.match(entry.name)
        if not match or int(match.group(1)) == os.getpid() or pid_alive(int(match.group(1))):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
