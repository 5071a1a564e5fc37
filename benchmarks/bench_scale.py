"""Where one machine stops: the feature build at 1M, 5M and 10M decision points, DuckDB and Spark.

``python -m benchmarks.bench_scale`` generates (once, cached) a warehouse with about 1M
escalation decision points with :mod:`benchmarks.bench_features`'s fast random
generator (30,000 households, 5M agency events), exports it as the Parquet dataset
(``stratify export``), makes the 5M and 10M datasets as regions of 5 and 10 such
boroughs (identifiers prefixed per borough), and builds the escalation feature
table from that same dataset in a fresh process, on DuckDB (2 threads, streamed to
Parquet in parts: ``build_to``, what ``stratify features`` runs) and on PySpark
``local[2]``. Each build's wall time, CPU seconds and peak memory (of the process and
all its children, the JVM included, sampled every 0.2 s) and the load average are
printed as a table, then a linear extrapolation to national scale (about 50M decision
points, 12M children).

Acceptance (issue 20): DuckDB builds 10M decision points in <= 5 minutes and <= 8 GB.
``--spark-max`` bounds the sizes Spark is run at (local Spark is far slower; the larger
sizes are extrapolated from the measured ones, and the output says so).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from benchmarks.bench_features import cached_warehouse
from stratify.features.config import FeaturesConfig, SparkConfig

TARGET = "escalation"
HOUSEHOLDS_PER_MILLION, EVENTS_PER_MILLION = 30_000, 5_000_000
DUCKDB_THREADS, DUCKDB_MEMORY = 2, "6GB"
LIMIT_SECONDS, LIMIT_GB = 300.0, 8.0
NATIONAL_POINTS = 50_000_000


def _child(engine: str, dataset: str, out: str) -> None:
    """Run in the measured process: one build from the dataset, figures as JSON."""
    began = time.perf_counter()
    if engine == "duckdb":
        from stratify.features.build.pipeline import build_to

        about = build_to(
            dataset,
            TARGET,
            FeaturesConfig(),
            out,
            threads=DUCKDB_THREADS,
            memory_limit=DUCKDB_MEMORY,
        )
        rows = about["rows"]
    else:
        from stratify.features.build.spark import build_on_spark

        spark = SparkConfig(
            master="local[2]", shuffle_partitions=8, driver_memory="6g", action_timeout_seconds=3600
        )
        config = FeaturesConfig(backend="pyspark", spark=spark)
        rows = build_on_spark(dataset, TARGET, config, out)["rows"]
    own = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - began,
                "rows": rows,
                "cpu": own.ru_utime + own.ru_stime,
            }
        )
    )


def _tree_rss(proc: psutil.Process, cpu: dict[int, float]) -> int:
    """Return the resident set of ``proc`` and its descendants; note each one's CPU time."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a child that just ended
            total += p.memory_info().rss
            times = p.cpu_times()
            cpu[p.pid] = times.user + times.system
    return total


def measure(engine: str, dataset: Path, budget: float | None) -> dict[str, float] | None:
    """Build in a fresh process; return wall time, peak RSS of its process tree, rows.

    None if the build outlasts ``budget`` seconds (its process tree is then killed).
    """
    with tempfile.TemporaryDirectory() as out:
        began = time.perf_counter()
        cmd = [sys.executable, "-m", "benchmarks.bench_scale", "--child", engine, str(dataset), out]
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peak, watched, cpu = 0, psutil.Process(child.pid), dict[int, float]()

        def sample() -> None:
            nonlocal peak
            while child.poll() is None:
                peak = max(peak, _tree_rss(watched, cpu))
                time.sleep(0.2)

        poller = threading.Thread(target=sample, daemon=True)
        poller.start()
        try:
            stdout, stderr = child.communicate(timeout=budget)
        except subprocess.TimeoutExpired:
            for p in [*watched.children(recursive=True), watched]:
                with contextlib.suppress(psutil.Error):
                    p.kill()
            child.communicate()
            return None
        poller.join()
        wall = time.perf_counter() - began
    if child.returncode != 0:
        raise RuntimeError(f"{engine} build failed:\n{stderr[-2000:]}")
    figures = json.loads(stdout.strip().splitlines()[-1])
    # CPU seconds of the whole tree (the JVM's too), as last sampled; at least the child's own.
    tree_cpu = max(figures["cpu"], sum(cpu.values()))
    load = psutil.getloadavg()[0]
    return {**figures, "cpu": tree_cpu, "wall": wall, "peak_gb": peak / 1e9, "load": load}


def dataset_for(millions: float, folder: Path) -> Path:
    """Return the exported dataset of the ~``millions``M-point warehouse (cached)."""
    from stratify.features.warehouse.dataset import META_FILE, export_dataset

    warehouse = cached_warehouse(
        int(HOUSEHOLDS_PER_MILLION * millions), int(EVENTS_PER_MILLION * millions), folder
    )
    out = folder / f"{warehouse.stem}-parquet"
    if not (out / META_FILE).exists():
        began = time.perf_counter()
        export_dataset(warehouse, out)
        print(f"  exported {out.name} in {time.perf_counter() - began:.0f} s", flush=True)
    return out


def region_of(base: Path, copies: int) -> Path:
    """Return ``copies`` boroughs like ``base``'s as one dataset (cached), as a region is.

    Every identifier and LSOA of copy ``i`` is prefixed ``b<i>-`` (as ``stratify simulate
    --boroughs`` prefixes LA codes), so the copies are disjoint boroughs of the same
    volumes: the generator's cost grows faster than the build's, and this takes seconds.
    """
    import duckdb

    from stratify.features.schema import TABLES
    from stratify.features.warehouse.dataset import META_FILE

    out = base.with_name(f"{base.name}-x{copies}")
    if (out / META_FILE).exists():
        return out
    began, tmp = time.perf_counter(), out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    con = duckdb.connect()
    for t in TABLES:
        cols = ", ".join(
            f"'b' || i || '-' || \"{c.name}\" AS \"{c.name}\""
            if c.name.endswith("_id") or c.name == "lsoa"
            else f'"{c.name}"'
            for c in t.columns
        )
        source = f"read_parquet('{base / t.name}/*.parquet')"
        query = f"SELECT {cols} FROM {source}, range({copies}) AS r(i)"
        con.execute(
            f"COPY ({query}) TO '{tmp / t.name}' "
            "(FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES '256MB')"
        )
    con.close()
    shutil.copy(base / META_FILE, tmp / META_FILE)
    tmp.rename(out)
    print(f"  made {out.name} ({copies} boroughs) in {time.perf_counter() - began:.0f} s")
    return out


def _extrapolate(rows: float, seconds: float, peak_gb: float, engine: str) -> str:
    scale = NATIONAL_POINTS / rows
    return (
        f"  {engine}: x{scale:.1f} the largest measured size -> about "
        f"{seconds * scale / 60:.0f} min if time grows linearly (window sorts grow "
        f"n log n: somewhat more); peak memory {peak_gb:.1f} GB measured"
    )


def summarise(rows: list[tuple[float, str, dict[str, float]]]) -> None:
    """Print the table, the acceptance check and the extrapolation."""
    print("\n| size | engine | decision points | wall s | CPU s | peak GB | points/s | load |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for m, engine, f in rows:
        rate = f["rows"] / f["wall"]
        print(
            f"| ~{m:g}M | {engine} | {int(f['rows']):,} | {f['wall']:.1f} | {f['cpu']:.0f} | "
            f"{f['peak_gb']:.2f} | {rate:,.0f} | {f['load']:.1f} |"
        )
    duck = [f for m, e, f in rows if e == "duckdb"]
    if duck:
        big = max(duck, key=lambda f: f["rows"])
        ok = big["wall"] <= LIMIT_SECONDS and big["peak_gb"] <= LIMIT_GB
        print(
            f"\nDuckDB at {int(big['rows']):,} points: {big['wall']:.0f} s (limit "
            f"{LIMIT_SECONDS:.0f} s), {big['peak_gb']:.2f} GB (limit {LIMIT_GB:.0f} GB): "
            f"{'met' if ok else 'NOT met'}"
        )
        print(f"national scale (~{NATIONAL_POINTS / 1e6:.0f}M points), extrapolated:")
        print(_extrapolate(big["rows"], big["wall"], big["peak_gb"], "duckdb"))
    spark = [f for m, e, f in rows if e == "pyspark"]
    if spark and duck:
        s = max(spark, key=lambda f: f["rows"])
        d = next(f for f in duck if f["rows"] == s["rows"])
        print(_extrapolate(s["rows"], s["wall"], s["peak_gb"], "pyspark local[2]"))
        print(
            f"  at {int(s['rows']):,} points Spark local[2] took {s['wall'] / d['wall']:.1f}x "
            "DuckDB's time on the same 2 cores"
        )


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_scale")
    parser.add_argument("--millions", default="1,5,10", help="sizes, in millions of points")
    parser.add_argument("--spark-max", type=float, default=1, help="largest size run on Spark")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--budget", type=float, default=3600.0, help="seconds per Spark build")
    parser.add_argument("--base", type=float, default=1, help="generated size; larger: copies")
    parser.add_argument(
        "--child", nargs=3, metavar=("ENGINE", "DATASET", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return
    sizes = [float(m) for m in args.millions.split(",")]
    print(
        f"machine: {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 1e9:.0f} GB; "
        f"load average {psutil.getloadavg()[0]:.1f} at the start (shared machine)"
    )
    rows = []
    base = dataset_for(args.base, args.folder)
    data = {m: region_of(base, round(m / args.base)) if m != args.base else base for m in sizes}
    for engine in ("duckdb", "pyspark"):
        for m in sizes:
            if engine == "pyspark" and m > args.spark_max:
                continue
            f = measure(engine, data[m], args.budget if engine == "pyspark" else None)
            if f is None:
                print(f"  {engine:8} ~{m:g}M: did not finish within {args.budget:.0f} s (stopped)")
                continue
            rows.append((m, engine, f))
            print(
                f"  {engine:8} ~{m:g}M: {int(f['rows']):>11,} points  wall {f['wall']:7.1f} s  "
                f"build {f['seconds']:7.1f} s  peak {f['peak_gb']:5.2f} GB  "
                f"cpu {f['cpu']:6.0f} s",
                flush=True,
            )
    summarise(rows)


if __name__ == "__main__":
    main()
