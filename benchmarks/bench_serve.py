"""Scoring service speed: stratify's /score against a bare BentoML reference, side by side.

Targets (issue 17), on 2 cores with the load client on the same machine, single records
with reasons over loopback HTTP (each client cycling through 100 different records, so
nothing is measured warm in a cache) and the chained audit log on: 1 client p50 <= 3 ms;
8 concurrent clients >= 800 requests/s with p99 <= 25 ms; 32 clients with no errors.
Each of the 8- and 32-client figures is 60 s of load (``--seconds``), the 1-client
figure a third of that. Also the throughput for batches of 100 records.

The model is a real registered one (escalation, 80 features, 300 trees of 31 leaves),
built on synthetic records by the test factory, imported like production's. Both
services run (2 workers each) and are measured in alternating rounds, so any other load
on the machine falls on both; only one is under load at a time. The reference
(:mod:`benchmarks.reference_service`) uses the same scoring core without any guard.
The service runs with the per-token rate limit off (``serving.rate_limit: 0``): one
benchmark token sends far more than a real integrator's default allowance.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from benchmarks import _load

ROOT = Path(__file__).resolve().parent.parent
TARGET = "escalation"
LIMITS = {"p50_1": 3.0, "rate_8": 800.0, "p99_8": 25.0}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare(work: Path, trees: int) -> tuple[str, Path, dict]:
    """Register, promote and import the model; return a token, the model folder, a body."""
    from stratify.features.config import sqlite_uri
    from stratify.serving import store
    from stratify.serving.api.auth import add_token
    from tests.serving import factory

    with pytest.MonkeyPatch.context() as mp:
        factory.skip_requirement_inference(mp)
        factory.register(work, TARGET, rows=20_000, trees=trees, leaves=31)
    store.import_champion(work, TARGET, mlflow_uri=sqlite_uri(work))
    token, _ = add_token(work / "tokens.json", "benchmark", ["scorer"])
    factory.write_config(work / "config.yaml", work, rate_limit=0)
    path = store.locate_champion(work, TARGET).path
    records = factory.records(TARGET, 100, seed=7).to_dict("records")
    return token, path, {"target": TARGET, "records": records}


def _tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its children (the service's workers)."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system
    return total


@contextmanager
def _serving(service: str, env: dict[str, str]) -> Iterator[tuple[int, int]]:
    """Start ``bentoml serve service`` in its own process group; yield (port, pid)."""
    port = _port()
    cmd = [sys.executable, "-m", "bentoml", "serve", service, "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{service} did not start") from None
                time.sleep(0.5)
        yield port, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _run(pid: int, port: int, path: str, body: dict | list[dict], token: str | None, *,
         clients: int, seconds: float) -> _load.Load:  # fmt: skip
    """One load run, with the CPU the service's processes spent on it."""
    before = _tree_cpu(pid)
    load = _load.run(port, path, body, token, clients=clients, seconds=seconds)
    return dataclasses.replace(load, server_cpu_s=_tree_cpu(pid) - before)


def _round(pid: int, port: int, path: str, one: list[dict], batch: dict, *, token: str | None,
           seconds: float) -> dict[str, _load.Load]:  # fmt: skip
    return {
        "1": _run(pid, port, path, one, token, clients=1, seconds=seconds / 3),
        "8": _run(pid, port, path, one, token, clients=8, seconds=seconds),
        "32": _run(pid, port, path, one, token, clients=32, seconds=seconds),
        "batch": _run(pid, port, path, batch, token, clients=8, seconds=seconds / 6),
    }


def _interleaved(ours: tuple, ref: tuple, seconds: float, rounds: int) -> tuple[dict, dict]:
    """Measure both services in alternating rounds, so other load on the machine hits both."""
    for args in (ours, ref):
        _load.run(args[1], args[2], args[3], args[5], clients=8, seconds=2)  # warm up
    got: tuple[dict[str, list[_load.Load]], ...] = ({}, {})
    for _ in range(rounds):
        for side, args in zip(got, (ours, ref), strict=True):
            pid, port, path, one, batch, token = args
            load_round = _round(pid, port, path, one, batch, token=token, seconds=seconds / rounds)
            for key, load in load_round.items():
                side.setdefault(key, []).append(load)
    a, b = ({k: _load.merge(v) for k, v in side.items()} for side in got)
    return a, b


def _print(name: str, m: dict[str, _load.Load]) -> None:
    one, eight, many, batch = m["1"], m["8"], m["32"], m["batch"]
    server, client = eight.cpu_ms
    print(
        f"  {name:<9} 1 client: p50 {one.quantile(0.5):5.2f} ms, p99 {one.quantile(0.99):5.2f} ms"
        f" ({one.seconds:.0f} s) | 8 clients: {eight.rate:6.0f} req/s, p50 "
        f"{eight.quantile(0.5):5.1f} ms, p99 {eight.quantile(0.99):5.1f} ms, {eight.errors} errors"
        f" ({eight.seconds:.0f} s) | 32 clients: {many.rate:6.0f} req/s, p99 "
        f"{many.quantile(0.99):5.1f} ms, {many.errors} errors ({many.seconds:.0f} s)"
    )
    print(
        f"  {'':<9} batches of 100 (8 clients): {batch.rate * 100:7.0f} records/s, p50 "
        f"{batch.quantile(0.5):5.1f} ms, {batch.errors} errors | CPU per single-record request "
        f"(8 clients): service {server:.2f} ms, load client {client:.2f} ms (CPU-bound estimate "
        f"on 2 idle cores: {2000 / (server + client):.0f} req/s)"
    )


def main(seconds: float = 60.0, trees: int = 300, rounds: int = 3) -> None:
    """Build the model, measure both services in alternating rounds, print the figures."""
    from stratify.serving.cli import serve_env

    with tempfile.TemporaryDirectory(prefix="stratify-bench-") as tmp:
        work = Path(tmp)
        token, model_dir, batch = _prepare(work, trees)
        # single-record requests cycle through 100 different records
        one = [{"target": TARGET, "records": [r]} for r in batch["records"]]
        base = {
            k: v for k, v in os.environ.items() if k not in ("STRATIFY_CONFIG", "STRATIFY_TOKENS")
        }
        # the same environment `stratify serve --workers 2` gives its bentoml process
        env = {**serve_env(base, work, work / "config.yaml", 2),
               "REFERENCE_MODEL_DIR": str(model_dir)}  # fmt: skip
        with (
            _serving("stratify.serving.api.service:Stratify", env) as (port, pid),
            _serving("benchmarks.reference_service:Reference", env) as (ref_port, ref_pid),
        ):
            ours, ref = _interleaved(
                (pid, port, "/score", one, batch, token),
                (ref_pid, ref_port, "/predict", [{"records": b["records"]} for b in one],
                 {"records": batch["records"]}, None),
                seconds, rounds,
            )  # fmt: skip
        audited = sum(1 for _ in (work / "audit" / "requests.jsonl").open())
        chain = _verify(work)
    print(
        f"serve: {TARGET} model, {trees} trees, 80 features, 2 workers on {os.cpu_count()} cores, "
        f"load client on the same machine, {seconds:.0f} s per 8- and 32-client figure in "
        f"{rounds} rounds, chained audit log on (rate limit off)"
    )
    _print("stratify", ours)
    _print("reference", ref)
    checks = {
        "p50_1": ours["1"].quantile(0.5) <= LIMITS["p50_1"],
        "rate_8": ours["8"].rate >= LIMITS["rate_8"] and ours["8"].errors == 0,
        "p99_8": ours["8"].quantile(0.99) <= LIMITS["p99_8"],
        "errors_32": ours["32"].errors == 0,
    }
    print(
        f"  throughput stratify / reference: 8 clients {ours['8'].rate / ref['8'].rate:.2f}, "
        f"32 clients {ours['32'].rate / ref['32'].rate:.2f}, batches "
        f"{ours['batch'].rate / ref['batch'].rate:.2f}; {audited:,} audit lines, {chain}; "
        "targets: " + ", ".join(f"{k} {'ok' if v else 'OVER TARGET'}" for k, v in checks.items())
    )


def _verify(work: Path) -> str:
    """Check the audit chain the run wrote (every request of the run is on it)."""
    from stratify.serving.api.audit_verify import verify
    from stratify.serving.settings import DEMO_KEY

    report = verify(work / "audit" / "requests.jsonl", DEMO_KEY)
    return "chain intact" if report.problem is None else f"CHAIN BROKEN: {report.problem}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    main(args.seconds, args.trees, args.rounds)
