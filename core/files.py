"""Atomic writes, and the sweep of temporaries that killed writers leave behind.

Every writer in stratify builds its output under a temporary name beside the target,
``<name>.tmp-<pid>.<random>`` (unique, so two writers never collide), and moves it into
place with one ``os.replace``: a reader sees the old file or the new one, never half of
one. A process killed outright cannot remove its temporary file; the next writer does,
once that process is gone (:func:`remove_stale`). Files of a process still running are
never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path


def temporary_sibling(path: Path) -> Path:
    """Return a unique temporary name beside ``path`` that :func:`remove_stale` recognises."""
    return path.with_name(f"{path.name}.tmp-{os.getpid()}.{uuid.uuid4().hex[:12]}")


def fsync(path: Path, *, directory: bool = False) -> None:
    """Flush ``path`` (a file, or with ``directory`` a folder's entries) to disk."""
    if directory and not hasattr(os, "O_DIRECTORY"):
        return  # directories cannot be fsynced on this platform
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then move it into place.

    The parent folder is created if missing. If ``write`` raises, ``path`` is untouched
    and the temporary file is removed.
    """
    return write_files_atomic({Path(path): write})[Path(path)]


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return write_atomic(path, lambda tmp: tmp.write_bytes(data))


def write_files_atomic(writers: Mapping[Path, Callable[[Path], object]]) -> dict[Path, Path]:
    """Write several files, each under a temporary name, and move them into place last.

    Nothing is moved unless every writer succeeded, so a failure leaves every target as
    it was. (The moves themselves are one ``os.replace`` each, not one transaction.)

    Returns
    -------
    dict[Path, Path]
        Each target -> itself, once written.
    """
    temps: dict[Path, Path] = {}
    try:
        for path, write in writers.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            temps[path] = temporary_sibling(path)
            write(temps[path])
            fsync(temps[path])
        for path, tmp in temps.items():
            os.replace(tmp, path)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
    return {path: path for path in writers}


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


def replace_paths(staged: Mapping[Path, Path]) -> None:
    """Move each staged file or folder onto its target, replacing what was there.

    ``staged`` maps target -> a complete temporary sibling (:func:`temporary_sibling`),
    in the order to move them (a reader's marker, e.g. metadata, last). A folder cannot
    be replaced by one ``os.replace``, so an existing target is first renamed aside
    and removed once the new one is in place.
    """
    for path, tmp in staged.items():
        old = None
        if path.is_dir() or (path.exists() and tmp.is_dir()):
            old = temporary_sibling(path)
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None and old.is_dir():
            shutil.rmtree(old)
        elif old is not None:
            old.unlink()
    for parent in {path.parent for path in staged}:
        fsync(parent, directory=True)
