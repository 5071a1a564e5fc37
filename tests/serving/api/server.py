"""``bentoml serve`` in its own process, for the tests over real HTTP.

A separate process, not ``bentoml.serve`` in the test worker: that would load BentoML's
process-wide configuration (its home, its model store) there, where later tests in the
same worker point BentoML at stores of their own. The process gets the environment
``stratify serve`` gives it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from stratify.serving.cli import serve_env
from stratify.serving.settings import SERVICE, TOKENS_ENV

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    """Return a port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    """A running ``bentoml serve``: its URL and process (the leader of its group)."""

    url: str
    proc: subprocess.Popen[bytes]


def start(work: Path, config: Path, *, workers: int = 1, env: Mapping[str, str] | None = None,
          log: Path | None = None) -> subprocess.Popen[bytes]:  # fmt: skip
    """Start ``bentoml serve`` on the service (not waiting); its output goes to ``log``."""
    port = free_port()
    full = {k: v for k, v in os.environ.items() if k != TOKENS_ENV}
    full |= serve_env({}, work, config, workers=workers) | dict(env or {})
    cmd = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--port", str(port),
           "--working-dir", str(ROOT)]  # fmt: skip
    out = log.open("wb") if log is not None else subprocess.DEVNULL
    return subprocess.Popen(cmd, env=full, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip


def port_of(proc: subprocess.Popen[bytes]) -> int:
    """Return the port a process from :func:`start` listens on."""
    args = [str(a) for a in proc.args]  # type: ignore[union-attr]
    return int(args[args.index("--port") + 1])


def wait_ready(proc: subprocess.Popen[bytes], timeout: float = 120) -> str:
    """Wait until the server answers ``/readyz``; return its URL."""
    url = f"http://127.0.0.1:{port_of(proc)}"
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, "bentoml serve exited before it was ready"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return url
        assert time.monotonic() < deadline, f"bentoml serve was not ready within {timeout} s"
        time.sleep(0.3)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    """Signal the server's process group and wait for it; return its exit code."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=30)


@contextlib.contextmanager
def serving(work: Path, config: Path, *, workers: int = 1,
            env: Mapping[str, str] | None = None) -> Iterator[str]:  # fmt: skip
    """Run ``bentoml serve`` for the block; yield its URL once it is ready."""
    proc = start(work, config, workers=workers, env=env)
    try:
        yield wait_ready(proc)
    finally:
        stop(proc)
