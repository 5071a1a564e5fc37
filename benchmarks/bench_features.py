"""Benchmark the family-context build at regional scale, and against the reference.

``python -m benchmarks.bench_features`` generates (once, then cached) a warehouse with
about 1,000,000 escalation decision points and more than 5,000,000 agency events using a
fast vectorised random generator (plausible volumes, no realism), builds the feature
table in a subprocess on 2 DuckDB threads, and prints its wall time and peak memory
(the subprocess's maximum resident set size). It then cuts out households holding about
10,000 decision points and prints how much faster the build is than the plain-Python
reference on that subset.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from stratify.features.build.pipeline import build, write_build
from stratify.features.build.reference import load_rows, reference_build
from stratify.features.catalogue import EVENT_TYPES, features_for
from stratify.features.config import FeaturesConfig
from stratify.features.schema import TABLES
from stratify.features.warehouse.store import create_warehouse, read_meta

EXTRACT, HISTORY = np.datetime64("2025-03-31"), np.datetime64("2015-01-01")
THREADS, MEMORY_LIMIT = 2, "2GB"
LIMIT_SECONDS, LIMIT_GB = 60.0, 4.0
TARGET = "escalation"
_ADULT_TYPES = (
    "police_domestic_abuse",
    "adult_mental_health",
    "substance_misuse_service",
    "homelessness",
)
_CHILD_TYPES = tuple(e for e in EVENT_TYPES if e not in _ADULT_TYPES[1:3])
_FACTORS = (
    "1B",
    "2B",
    "3A",
    "3B",
    "3C",
    "4A",
    "4B",
    "5A",
    "6B",
    "10A",
    "11A",
    "14A",
    "15A",
    "16A",
    "17A",
    "18C",
    "19C",
    "20",
    "21",
    "24A",
)
_ARROW = {"VARCHAR": pa.string(), "DATE": pa.date32(), "BOOLEAN": pa.bool_(), "TINYINT": pa.int8()}
Columns = Mapping[str, np.ndarray]


def _table(name: str, cols: Columns) -> pa.Table:
    """Arrow table for a schema table; NaT dates become nulls."""
    schema = next(t for t in TABLES if t.name == name)
    out = {}
    for c in schema.columns:
        v = cols[c.name]
        mask = np.isnat(v) if v.dtype.kind == "M" else None
        out[c.name] = pa.array(v, _ARROW[c.type], mask=mask)
    return pa.table(out)


def _ids(prefix: str, n: int) -> np.ndarray:
    return np.char.add(prefix, np.arange(n).astype(str))


def _between(
    rng: np.random.Generator, lo: np.ndarray | np.datetime64, hi: np.ndarray | np.datetime64, n: int
) -> np.ndarray:
    """Uniform random dates in [lo, hi] (hi before lo gives lo)."""
    lo, hi = np.asarray(lo, "datetime64[D]"), np.asarray(hi, "datetime64[D]")
    span = np.maximum((hi - lo).astype(np.int64), 0) + 1
    return lo + (rng.random(n) * span).astype(np.int64)


def _after(rng: np.random.Generator, start: np.ndarray, lo: int, hi: int, p: float) -> np.ndarray:
    """``start`` plus lo..hi days with probability p (else NaT); NaT after the extract."""
    end = start + rng.integers(lo, hi + 1, len(start))
    end[(rng.random(len(start)) >= p) | (end > EXTRACT)] = np.datetime64("NaT", "D")
    return end


def _population(rng: np.random.Generator, households: int) -> dict[str, np.ndarray]:
    """Households of 1-2 parents/carers, maybe another adult, and 1-3 children."""
    carers = 1 + (rng.random(households) < 0.6)
    others = (rng.random(households) < 0.15).astype(int)
    size = carers + others + rng.integers(1, 4, households)
    house = np.repeat(np.arange(households), size)
    slot = np.arange(len(house)) - np.repeat(np.cumsum(size) - size, size)
    role = np.where(
        slot < carers[house],
        "parent_carer",
        np.where(slot < (carers + others)[house], "other_adult", "child"),
    )
    kid = role == "child"
    n = len(house)
    born = np.where(
        kid,
        _between(rng, np.datetime64("1999-01-01"), EXTRACT, n),
        _between(rng, np.datetime64("1960-01-01"), np.datetime64("1995-12-31"), n),
    )
    born = born.astype("datetime64[M]").astype("datetime64[D]")
    formed = _between(rng, np.datetime64("2003-01-01"), np.datetime64("2016-12-31"), households)
    start = np.maximum(formed[house], born + rng.integers(0, 28, n))
    joins = ~kid & (rng.random(n) < 0.1)
    start[joins] = _between(rng, HISTORY, EXTRACT, int(joins.sum()))
    return {
        "house": house,
        "role": role,
        "kid": kid,
        "born": born,
        "start": start,
        "end": _after(rng, start, 30, 4000, 0.1),
        "formed": formed,
    }


def _household_tables(rng: np.random.Generator, pop: dict[str, np.ndarray]) -> dict[str, pa.Table]:
    house, n, households = pop["house"], len(pop["house"]), len(pop["formed"])
    hid, pid = _ids("h", households), _ids("p", n)
    locality = np.array(["North", "Central", "South"])[np.arange(households) % 3]
    persons = {
        "person_id": pid,
        "birth_month": pop["born"],
        "sex": rng.choice(["1", "2"], n),
        "ethnicity": rng.choice(["WBRI", "WOTH", "MWBC", "APKN", "BAFR", "OOTH"], n),
        "disability": np.where(rng.random(n) < 0.05, "LD", "NONE"),
        "lsoa": np.full(n, "E01000001"),
        "imd_decile": rng.integers(1, 11, n),
        "locality": locality[house],
        "is_child": pop["kid"],
    }
    members = {
        "household_id": hid[house],
        "person_id": pid,
        "role": pop["role"],
        "start_date": pop["start"],
        "end_date": pop["end"],
    }
    moves = rng.poisson(0.7, households).clip(0, 3)
    r_house = np.concatenate([np.arange(households), np.repeat(np.arange(households), moves)])
    r_start = np.concatenate([pop["formed"], _between(rng, HISTORY, EXTRACT, int(moves.sum()))])
    key = r_house * 100_000 + (r_start - np.datetime64("1970-01-01")).astype(np.int64)
    keep = np.unique(key, return_index=True)[1]
    r_house, r_start, m = r_house[keep], r_start[keep], len(keep)
    residences = {
        "household_id": hid[r_house],
        "lsoa": np.full(m, "E01000001"),
        "imd_decile": rng.integers(1, 11, m),
        "locality": locality[r_house],
        "start_date": r_start,
        "end_date": np.full(m, np.datetime64("NaT", "D")),
    }
    return {
        "persons": _table("persons", persons),
        "household_members": _table("household_members", members),
        "residences": _table("residences", residences),
    }


def _referral_tables(rng: np.random.Generator, pop: dict[str, np.ndarray]) -> dict[str, pa.Table]:
    kids = np.flatnonzero(pop["kid"])
    who = np.repeat(kids, rng.poisson(rng.gamma(0.5, 4.0, len(kids))))
    n, pid = len(who), _ids("p", len(pop["house"]))
    date = _between(rng, np.maximum(pop["born"][who], HISTORY), EXTRACT, n)
    nfa = rng.random(n) < 0.3
    closed = np.where(nfa, date, _after(rng, date, 7, 400, 0.95))
    reason = np.where(nfa, "RC8", rng.choice(["RC1", "RC4", "RC7", "RC8", "RC9"], n))
    reason = np.where(np.isnat(closed), None, reason)
    rid = _ids("r", n)
    t = {
        "referrals": {
            "referral_id": rid,
            "person_id": pid[who],
            "referral_date": date,
            "source": rng.choice(["1A", "2A", "3A", "6", "8"], n),
            "primary_need": rng.choice(["N1", "N4", "N5"], n),
            "nfa": nfa,
            "closure_date": closed,
            "closure_reason": reason,
        }
    }
    a = np.flatnonzero(~nfa & (rng.random(n) < 0.8))
    a_start = date[a] + rng.integers(0, 10, len(a))
    aid = _ids("a", len(a))
    t["assessments"] = {
        "assessment_id": aid,
        "referral_id": rid[a],
        "person_id": pid[who[a]],
        "start_date": a_start,
        "authorised_date": _after(rng, a_start, 10, 45, 1),
    }
    f_of = np.repeat(np.arange(len(a)), rng.poisson(1.5, len(a)))
    f_code = rng.choice(np.array(_FACTORS), len(f_of))
    keep = np.unique(f_of * 100 + np.searchsorted(np.sort(_FACTORS), f_code), return_index=True)[1]
    t["assessment_factors"] = {"assessment_id": aid[f_of[keep]], "factor": f_code[keep]}
    for name, key, p in (
        ("section47", "s47_id", 0.15),
        ("cin_plans", "plan_id", 0.25),
        ("cp_plans", "plan_id", 0.08),
    ):
        i = np.flatnonzero(~nfa & (rng.random(n) < p))
        start = date[i] + rng.integers(1, 40, len(i))
        row = {
            key: _ids(name[:3], len(i)),
            "referral_id": rid[i],
            "person_id": pid[who[i]],
            "start_date": start,
            "initial_category": rng.choice(["NEG", "EMO"], len(i)),
        }
        row["icpc_date" if name == "section47" else "end_date"] = _after(rng, start, 5, 600, 0.7)
        t[name] = row
    return {k: _table(k, v) for k, v in t.items()}


def _other_tables(
    rng: np.random.Generator, pop: dict[str, np.ndarray], events: int
) -> dict[str, pa.Table]:
    kids, n_people = np.flatnonzero(pop["kid"]), len(pop["house"])
    pid, hid = _ids("p", n_people), _ids("h", len(pop["formed"]))
    la = kids[rng.random(len(kids)) < 0.03]
    la_start = _between(rng, np.maximum(pop["born"][la], HISTORY), EXTRACT, len(la))
    t = {
        "looked_after": {
            "episode_id": _ids("la", len(la)),
            "person_id": pid[la],
            "start_date": la_start,
            "end_date": _after(rng, la_start, 30, 900, 0.6),
            "legal_status": rng.choice(["C2", "V2"], len(la)),
        }
    }
    eh = np.repeat(kids, rng.poisson(0.4, len(kids)))
    eh_start = _between(rng, np.maximum(pop["born"][eh], HISTORY), EXTRACT, len(eh))
    eh_end = _after(rng, eh_start, 60, 300, 0.85)
    outcome = rng.choice(["needs_met", "stepped_up", "disengaged", "other"], len(eh))
    t["early_help"] = {
        "episode_id": _ids("eh", len(eh)),
        "person_id": pid[eh],
        "household_id": hid[pop["house"][eh]],
        "start_date": eh_start,
        "end_date": eh_end,
        "outcome": np.where(np.isnat(eh_end), None, outcome),
    }
    weight = rng.gamma(0.7, 1.0, n_people)
    who = rng.choice(n_people, events, p=weight / weight.sum())
    kind = np.where(
        pop["kid"][who],
        rng.choice(np.array(_CHILD_TYPES), events),
        rng.choice(np.array(_ADULT_TYPES), events),
    )
    t["agency_events"] = {
        "event_id": _ids("e", events),
        "person_id": pid[who],
        "event_date": _between(rng, HISTORY, EXTRACT, events),
        "event_type": kind,
        "agency": np.full(events, "police"),
    }
    return {k: _table(k, v) for k, v in t.items()}


def generate(path: Path, households: int, events: int, seed: int = 7) -> Path:
    """Write a random warehouse of ``households`` households and ``events`` agency events."""
    rng = np.random.default_rng(seed)
    pop = _population(rng, households)
    tables = {
        **_household_tables(rng, pop),
        **_referral_tables(rng, pop),
        **_other_tables(rng, pop, events),
    }
    create_warehouse(path, tables, {"extract_date": str(EXTRACT), "synthetic": "true"})
    return path


def cached_warehouse(households: int, events: int, folder: Path | None = None) -> Path:
    """Return the benchmark warehouse, generating it on first use."""
    folder = folder or Path(os.environ.get("STRATIFY_BENCH_DIR", tempfile.gettempdir()))
    path = folder / f"stratify-bench-{households}h-{events}e.duckdb"
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        began = time.perf_counter()
        generate(path, households, events)
        print(f"  generated in {time.perf_counter() - began:.0f} s", flush=True)
    return path


def _child_build(warehouse: str, out: str) -> None:
    """Run in the measured subprocess: build, write, print the figures as JSON."""
    began = time.perf_counter()
    result = build(warehouse, TARGET, FeaturesConfig(), threads=THREADS, memory_limit=MEMORY_LIMIT)
    write_build(result, out)
    own = resource.getrusage(resource.RUSAGE_SELF)  # this process only, not its siblings
    figures = {
        "seconds": time.perf_counter() - began,
        "rows": result.features.num_rows,
        "features": len(features_for(TARGET)),
        "peak_gb": own.ru_maxrss * 1024 / 1e9,  # ru_maxrss is in KiB on Linux
        "cpu": own.ru_utime + own.ru_stime,
    }
    print(json.dumps(figures))


def measure_build(warehouse: Path, out: Path) -> dict[str, float]:
    """Build in a fresh subprocess; return its wall time, peak RSS and sizes."""
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_features", "--child", str(warehouse), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - began
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {**figures, "wall": wall}


def subset(warehouse: Path, path: Path, fraction: float) -> Path:
    """Copy the households whose number falls in the first ``fraction`` into ``path``."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        households = con.sql("SELECT count(DISTINCT household_id) FROM household_members")
        n = int(households.fetchall()[0][0])
        keep = f"CAST(substr(household_id, 2) AS INTEGER) < {int(n * fraction)}"
        people = f"SELECT person_id FROM household_members WHERE {keep}"
        where = {
            "persons": f"person_id IN ({people})",
            "household_members": keep,
            "residences": keep,
            "assessment_factors": "assessment_id IN (SELECT "
            f"assessment_id FROM assessments WHERE person_id IN ({people}))",
        }
        tables = {
            t.name: con.sql(
                f'SELECT * FROM "{t.name}" WHERE {where.get(t.name, f"person_id IN ({people})")}'
            ).to_arrow_table()
            for t in TABLES
        }
    finally:
        con.close()
    extract = read_meta(warehouse)["extract_date"]
    create_warehouse(path, tables, {"extract_date": extract, "synthetic": "true"})
    return path


def compare_reference(warehouse: Path, points: int, total: int) -> dict[str, float]:
    """Time the build and the reference on a subset of about ``points`` decision points."""
    with tempfile.TemporaryDirectory() as tmp:
        sub = subset(warehouse, Path(tmp) / "subset.duckdb", points / total)
        config = FeaturesConfig()
        began = time.perf_counter()
        fast = build(sub, TARGET, config, threads=THREADS)
        fast_s = time.perf_counter() - began
        began = time.perf_counter()
        extract = dt.date.fromisoformat(read_meta(sub)["extract_date"])
        ref = reference_build(load_rows(sub), TARGET, config, extract)
        ref_s = time.perf_counter() - began
    if len(ref) != fast.features.num_rows or ref != fast.features.to_pylist():
        raise AssertionError("the build and the reference disagree on the subset")
    return {"points": len(ref), "build": fast_s, "reference": ref_s, "ratio": ref_s / fast_s}


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_features")
    parser.add_argument("--households", type=int, default=30_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--reference-points", type=int, default=10_000)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("WAREHOUSE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child_build(*args.child)
        return
    warehouse = cached_warehouse(args.households, args.events)
    meta = read_meta(warehouse)
    with tempfile.TemporaryDirectory() as out:
        f = measure_build(warehouse, Path(out))
    print(
        f"feature build ({TARGET}): {f['rows']:,} decision points x {f['features']} features, "
        f"from {int(meta['rows.agency_events']):,} agency events"
    )
    print(
        f"  wall {f['wall']:.1f} s (limit {LIMIT_SECONDS:.0f} s; build itself "
        f"{f['seconds']:.1f} s), peak RSS {f['peak_gb']:.2f} GB (limit {LIMIT_GB:.0f} GB), "
        f"{THREADS} DuckDB threads, {f['cpu']:.0f} CPU-seconds"
    )
    if not args.skip_reference:
        r = compare_reference(warehouse, args.reference_points, int(f["rows"]))
        per_point = (r["reference"] / r["points"]) / (f["seconds"] / f["rows"])
        print(
            f"reference on a {r['points']:,}-point subset (both agree): reference "
            f"{r['reference']:.1f} s, build {r['build']:.1f} s, so {r['ratio']:.1f}x faster "
            f"on the subset; per decision point the full-scale build is {per_point:.0f}x "
            "faster than the reference"
        )


if __name__ == "__main__":
    main()
