"""Temporary outputs of killed writers are swept by the next writer."""

import os
from pathlib import Path

import pytest

from stratify.core.files import (
    pid_alive,
    remove_stale,
    temporary_sibling,
    write_atomic,
    write_files_atomic,
)
from tests.processes import dead_pid


def test_only_files_of_finished_processes_are_removed(tmp_path):
    dead, alive = dead_pid(), os.getpid()
    assert not pid_alive(dead) and pid_alive(alive)
    stale = tmp_path / f"warehouse.duckdb.tmp-{dead}"
    stale_wal = tmp_path / f"warehouse.duckdb.tmp-{dead}.wal"
    mine = tmp_path / f"warehouse.duckdb.tmp-{alive}"
    other = tmp_path / f"other.duckdb.tmp-{dead}"
    folder = tmp_path / f".sim.tmp-{dead}"
    for f in (stale, stale_wal, mine, other):
        f.write_text("x")
    folder.mkdir()
    (folder / "extract.csv").write_text("x")
    assert sorted(remove_stale(tmp_path, "warehouse.duckdb")) == sorted([stale, stale_wal])
    assert mine.exists() and other.exists()
    assert remove_stale(tmp_path, ".sim") == [folder]
    assert not folder.exists()


def test_write_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    write_atomic(target, lambda tmp: tmp.write_text("first"))
    write_atomic(target, lambda tmp: tmp.write_text("second"))
    assert target.read_text() == "second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_a_failed_write_leaves_the_old_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(target, half_then_fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_write_files_atomic_moves_nothing_unless_every_writer_succeeded(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("a0")
    b.write_text("b0")

    def fail(tmp: Path) -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        write_files_atomic({a: lambda tmp: tmp.write_text("a1"), b: fail})
    assert (a.read_text(), b.read_text()) == ("a0", "b0")
    write_files_atomic({a: lambda tmp: tmp.write_text("a1"), b: lambda t: t.write_text("b1")})
    assert (a.read_text(), b.read_text()) == ("a1", "b1")


def test_temporary_names_are_unique_and_swept_once_their_writer_is_gone(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    names = {temporary_sibling(target).name for _ in range(50)}
    assert len(names) == 50  # two writers in one process never share a temporary
    dead = 2**22 + 12345  # above Linux's default pid_max: no such process
    orphan = tmp_path / f"out.txt.tmp-{dead}.0123456789ab"
    orphan.write_text("left by a killed writer")
    mine = temporary_sibling(target)
    mine.write_text("in progress")
    assert remove_stale(tmp_path, "out.txt") == [orphan]
    assert mine.exists()
