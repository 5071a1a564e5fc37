"""A small HTTP load client: keep-alive connections, one thread per concurrent client."""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Load:
    """Latencies (ms) of the successful requests, the error count and the wall time."""

    latencies_ms: np.ndarray
    errors: int
    seconds: float
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        """Successful requests per second."""
        return len(self.latencies_ms) / self.seconds

    @property
    def cpu_ms(self) -> tuple[float, float]:
        """Server and client CPU milliseconds per successful request."""
        n = max(len(self.latencies_ms), 1)
        return self.server_cpu_s * 1e3 / n, self.client_cpu_s * 1e3 / n

    def quantile(self, q: float) -> float:
        """A latency quantile in ms."""
        return float(np.quantile(self.latencies_ms, q)) if len(self.latencies_ms) else float("nan")


def merge(loads: list[Load]) -> Load:
    """Pool several runs of the same load: all latencies, errors and wall time summed."""
    lat = np.concatenate([x.latencies_ms for x in loads])
    return Load(
        lat, sum(x.errors for x in loads), sum(x.seconds for x in loads),
        sum(x.server_cpu_s for x in loads), sum(x.client_cpu_s for x in loads),
    )  # fmt: skip


def _client(port: int, path: str, bodies: list[bytes], headers: dict[str, str], stop_at: float,
            *, count: int | None, out: list[float], errs: list[int]) -> None:  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    n = 0
    while (count is None and time.perf_counter() < stop_at) or (count is not None and n < count):
        body = bodies[n % len(bodies)]
        start = time.perf_counter()
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            ok = resp.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        if ok:
            out.append((time.perf_counter() - start) * 1e3)
        else:
            errs.append(1)
        n += 1
    conn.close()


def run(port: int, path: str, payload: dict | list[dict], token: str | None, *, clients: int,
        seconds: float | None = None, requests: int | None = None) -> Load:  # fmt: skip
    """Send ``payload`` from ``clients`` threads for ``seconds`` (or ``requests`` each).

    A list of payloads is sent in turn, each client starting at a different one, so a
    service sees different records rather than one it may have in its caches.
    """
    payloads = payload if isinstance(payload, list) else [payload]
    encoded = [json.dumps(p).encode() for p in payloads]
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    lat: list[list[float]] = [[] for _ in range(clients)]
    errs: list[list[int]] = [[] for _ in range(clients)]
    stop_at = time.perf_counter() + (seconds or 0)
    threads = [
        threading.Thread(
            target=_client,
            args=(port, path, encoded[i:] + encoded[:i], headers, stop_at),
            kwargs={"count": requests, "out": lat[i], "errs": errs[i]},
        )
        for i in range(clients)
    ]
    start, client_cpu = time.perf_counter(), time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, client_cpu = time.perf_counter() - start, time.process_time() - client_cpu
    latencies = np.array([x for xs in lat for x in xs])
    return Load(latencies, sum(map(len, errs)), wall, client_cpu_s=client_cpu)
