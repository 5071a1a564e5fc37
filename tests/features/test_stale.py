"""Temporary outputs of killed writers are swept by the next writer."""

import os
import subprocess
import sys

from stratify.features.warehouse.ingest import load_extract
from stratify.core.files import pid_alive, remove_stale
from stratify.features.warehouse.store import read_meta


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(proc.stdout)


def test_only_files_of_finished_processes_are_removed(tmp_path):
    dead, alive = _dead_pid(), os.getpid()
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


def test_a_new_load_sweeps_a_killed_load(tmp_path, extract):
    target = tmp_path / "warehouse.duckdb"
    left = tmp_path / f"warehouse.duckdb.tmp-{_dead_pid()}"
    left.write_bytes(b"half-written by a load that was killed")
    load_extract(extract.write(), target, key=b"k" * 32)
    assert not left.exists()
    assert read_meta(target)["extract_date"] == "2024-03-31"
