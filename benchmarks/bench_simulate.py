"""Simulation speed: the demo borough and a region-sized one (issue 15's targets).

Targets: 40,000 children over 8 years <= 40 s; 1,000,000 children over 8 years
<= 10 minutes and <= 8 GB peak memory, on 2 cores. Both runs include the ground
truth as configured by default (up to 12,000 eligible decision points per target in the
test window; 200 re-simulations each for escalation, 50 for re-referral) and writing the
extract (CSV, CIN census XML and SSD), the truth files and the state, exactly as
``stratify simulate`` does.

The ground truth's re-simulations run in worker processes
(:mod:`stratify.features.simulate.replay`), so the figures printed are the wall time, the
CPU time of the main process and of its workers, and peak memory as the main process's
peak plus each worker's (the largest worker's peak times the workers: an upper bound,
as the forked workers share their parent's pages at the start). The load average is
printed before and after: the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import tempfile

from benchmarks._measure import measure

CODE = """
from pathlib import Path
from stratify.features.config import SimulationConfig
from stratify.features.simulate import simulate
from stratify.features.simulate.replay import worker_count
r = simulate(SimulationConfig(children={children}, years=8), Path({out!r}))
print(len(r.tables["referrals"]), len(r.tables["agency_events"]), len(r.truth), worker_count())
"""
TARGETS = {40_000: (40.0, None), 1_000_000: (10 * 60.0, 8 * 1024.0)}


def main(sizes: tuple[int, ...] = (40_000, 1_000_000)) -> None:
    """Run the simulation benchmark for each size and print the figures."""
    print("simulate: children over 8 years (+3 years of history), truth and files included")
    for children in sizes:
        load = os.getloadavg()
        with tempfile.TemporaryDirectory() as tmp:
            m = measure(CODE.format(children=children, out=f"{tmp}/sim"))
        refs, events, points, workers = (int(x) for x in m.output.split())
        peak_mb = m.peak_mb + workers * m.worker_peak_mb
        limit_s, limit_mb = TARGETS.get(children, (None, None))
        verdict = (
            "ok"
            if (limit_s is None or m.seconds <= limit_s)
            and (limit_mb is None or peak_mb <= limit_mb)
            else "OVER TARGET"
        )
        print(
            f"  {children:>9,} children: {m.seconds:7.1f} s wall, "
            f"{m.cpu_seconds + m.worker_cpu_seconds:5.0f} CPU-s "
            f"({m.cpu_seconds:.0f} main + {m.worker_cpu_seconds:.0f} in {workers} workers), "
            f"{peak_mb:7.0f} MB peak ({m.peak_mb:.0f} main + {workers} x "
            f"{m.worker_peak_mb:.0f} workers)  "
            f"({refs:,} referrals, {events:,} agency events, {points:,} truth points)  "
            f"target <= {limit_s:.0f} s"
            + (f", <= {limit_mb:.0f} MB" if limit_mb else "")
            + f": {verdict}; load average {load[0]:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[40_000, 1_000_000])
    main(tuple(parser.parse_args().sizes))
