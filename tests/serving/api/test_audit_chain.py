"""The audit chain: tampering named at the right line, rotation, external rotation, workers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from stratify.serving.api.audit_log import AuditLog
from stratify.serving.api.audit_verify import (
    ERR_ALTERED,
    ERR_CHAIN,
    ERR_FORMAT,
    ERR_MISSING,
    ERR_NO_NEWLINE,
    ERR_OTHER_KEY,
    Problem,
    log_files,
    verify,
)
from stratify.serving.cli import register
from stratify.serving.settings import AUDIT_KEY_ENV, DEMO_KEY

KEY = b"a test key of enough length"


def _write(path: Path, n: int, **kwargs) -> AuditLog:
    log = AuditLog(path, key=KEY, **kwargs)
    for i in range(n):
        log.write(request_id=f"r{i}", endpoint="/score", status=200, record_ids=[f"id{i}"])
    log.close()
    return log


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def _problem(path: Path) -> Problem:
    problem = verify(path, KEY).problem
    assert problem is not None
    return problem


def test_a_clean_log_verifies(audit_file):
    _write(audit_file, 20)
    report = verify(audit_file, KEY)
    assert report.problem is None and report.lines == 20
    assert report.head == json.loads(_lines(audit_file)[-1])["mac"]


def test_an_altered_field_is_named(audit_file):
    _write(audit_file, 6)
    lines = _lines(audit_file)
    lines[3] = lines[3].replace('"status":200', '"status":500')
    audit_file.write_text("".join(lines))
    assert _problem(audit_file) == Problem(audit_file, 4, ERR_ALTERED)


def test_a_deleted_line_is_named(audit_file):
    _write(audit_file, 6)
    lines = _lines(audit_file)
    audit_file.write_text("".join(lines[:2] + lines[3:]))
    assert _problem(audit_file) == Problem(
        audit_file, 3, ERR_MISSING.format(n=1, seq=3, expected=2)
    )


def test_two_swapped_lines_are_named(audit_file):
    _write(audit_file, 6)
    lines = _lines(audit_file)
    lines[2], lines[3] = lines[3], lines[2]
    audit_file.write_text("".join(lines))
    assert _problem(audit_file) == Problem(
        audit_file, 3, ERR_MISSING.format(n=1, seq=3, expected=2)
    )


def test_a_forged_line_and_another_key_are_named(audit_file):
    _write(audit_file, 3)
    lines = _lines(audit_file)
    fields = json.loads(lines[1])
    fields["status"] = 404  # rewritten whole, with the right seq and prev but no key
    audit_file.write_text(lines[0] + json.dumps(fields, separators=(",", ":")) + "\n" + lines[2])
    assert _problem(audit_file) == Problem(audit_file, 2, ERR_ALTERED)
    assert verify(audit_file, DEMO_KEY).problem.message.startswith(ERR_OTHER_KEY[:20])
    audit_file.write_text(lines[0] + "not json\n" + lines[2])
    assert _problem(audit_file) == Problem(audit_file, 2, ERR_FORMAT)


def test_a_line_moved_to_the_end_breaks_the_chain_there(audit_file):
    _write(audit_file, 4)
    lines = _lines(audit_file)
    audit_file.write_text("".join([*lines[:3], lines[2]]))  # line 3 repeated as line 4
    problem = _problem(audit_file)
    assert problem.line == 4 and "repeated" in problem.message
    # a line copied from another chain with the same seq and key: chained to the wrong line
    other = audit_file.with_name("other.jsonl")
    _write(other, 4)
    audit_file.write_text("".join([*lines[:3], _lines(other)[3]]))
    assert _problem(audit_file) == Problem(audit_file, 4, ERR_CHAIN)


def _rotated(audit_file: Path, n: int = 40) -> list[Path]:
    _write(audit_file, n, rotation="size", max_bytes=1_500)
    files = log_files(audit_file)
    assert len(files) >= 4
    return files


def test_rotation_by_size_chains_across_files(audit_file):
    files = _rotated(audit_file)
    report = verify(audit_file, KEY)
    assert report.problem is None and report.lines == 40 and list(report.files) == files
    for before, after in zip(files, files[1:], strict=False):
        assert json.loads(_lines(after)[0])["prev"] == json.loads(_lines(before)[-1])["mac"]
    assert all(f.stat().st_size < 1_500 + 400 for f in files)


def test_a_removed_rotated_file_is_named(audit_file):
    files = _rotated(audit_file)
    gone = len(_lines(files[1]))
    files[1].unlink()
    problem = _problem(audit_file)
    assert (problem.file, problem.line) == (files[2], 1)
    assert problem.message.startswith(f"{gone} line(s) missing")
    files[0].unlink()  # the oldest gone too: the chain no longer starts at seq 0
    problem = _problem(audit_file)
    assert (problem.file, problem.line) == (files[2], 1)


def test_a_truncated_file_is_named(audit_file):
    files = _rotated(audit_file)
    lines = _lines(files[1])
    files[1].write_text("".join(lines[:-1]) + lines[-1][:30])  # cut in the middle of a line
    assert _problem(audit_file) == Problem(files[1], len(lines), ERR_NO_NEWLINE)
    files[1].write_text("".join(lines[:-1]))  # cut at a line's end
    problem = _problem(audit_file)
    assert (problem.file, problem.line) == (files[2], 1) and "missing" in problem.message


def test_the_log_is_reopened_after_external_rotation(audit_file):
    log = AuditLog(audit_file, key=KEY)
    log.write(request_id="a")
    log.write(request_id="b")
    audit_file.rename(audit_file.with_name("requests.jsonl.1"))  # logrotate's move
    log.write(request_id="c")
    assert [json.loads(x)["request_id"] for x in _lines(audit_file)] == ["c"]
    audit_file.rename(audit_file.with_name("requests.jsonl.0"))
    AuditLog(audit_file, key=KEY).write(request_id="d")  # a restarted worker
    report = verify(audit_file, KEY)
    assert report.problem is None and report.lines == 4 and len(report.files) == 3


_WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from stratify.serving.api.audit_log import AuditLog
    log = AuditLog(Path(sys.argv[1]), key=sys.argv[2].encode(), rotation="size",
                   max_bytes=20_000)
    go = Path(sys.argv[1]).with_name("go")
    ready = Path(sys.argv[1]).with_name(f"ready-{sys.argv[4]}")
    ready.touch()
    while not go.exists():  # both start together, so their appends interleave
        time.sleep(0.001)
    for i in range(int(sys.argv[3])):
        log.write(request_id=f"{sys.argv[4]}-{i}", status=200, record_ids=["x"] * (i % 7))
    """
)


def test_two_processes_appending_keep_the_chain(audit_file):
    audit_file.parent.mkdir(parents=True)
    n = 1_500
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, str(audit_file), KEY.decode(), str(n), w])
        for w in ("a", "b")
    ]
    deadline = time.monotonic() + 60
    while not all(audit_file.with_name(f"ready-{w}").exists() for w in "ab"):
        assert time.monotonic() < deadline, "the writers did not start"
        time.sleep(0.01)
    audit_file.with_name("go").touch()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    report = verify(audit_file, KEY)
    assert report.problem is None and report.lines == 2 * n and len(report.files) > 2
    ids = [json.loads(x)["request_id"] for f in report.files for x in _lines(f)]
    assert sorted(ids) == sorted(f"{w}-{i}" for w in "ab" for i in range(n))
    firsts = [i for i, x in enumerate(ids) if x.startswith("b")]
    assert firsts[0] < n  # interleaved, not one after the other (else the test proves little)


def test_the_command_names_the_broken_line(audit_file, monkeypatch: pytest.MonkeyPatch):
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    monkeypatch.setenv(AUDIT_KEY_ENV, KEY.decode())
    _write(audit_file, 5)
    ok = runner.invoke(app, ["audit-log", "verify", "--path", str(audit_file)])
    assert ok.exit_code == 0 and ok.stdout.startswith("ok, 5 lines, chain intact")
    lines = _lines(audit_file)
    audit_file.write_text("".join(lines[:1] + lines[2:]))
    broken = runner.invoke(app, ["audit-log", "verify", "--path", str(audit_file)])
    assert broken.exit_code == 1 and f"{audit_file}:2: 1 line(s) missing" in broken.stdout
    monkeypatch.delenv(AUDIT_KEY_ENV)
    demo = runner.invoke(app, ["audit-log", "verify", "--path", str(audit_file)])
    assert demo.exit_code == 1 and "another key" in demo.stdout and "demo key" in demo.stderr
    none = runner.invoke(app, ["audit-log", "verify", "--path", str(audit_file.with_name("x"))])
    assert none.exit_code == 2
