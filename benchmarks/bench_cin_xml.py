"""Benchmark: a 50,000-child CIN census return parsed, validated and loaded.

Target (issue 14): <= 60 s wall time and <= 1.5 GB peak memory for the whole
``load_cin_returns`` (streaming parse, XSD validation of every child against the 2023/24
schema, census checks, canonical validation, pseudonymisation, atomic write), measured in
a fresh process. The return is generated here: 50,000 children with one or two referral
episodes each in 2023/24, assessments with factors, CIN plans, section 47 enquiries and
CP plans, written by the simulator's XML writer.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._measure import measure
from stratify.features.simulate.cin_xml import write_cin_returns

CHILDREN = 50_000
TARGET_SECONDS = 60.0
TARGET_MB = 1536.0
START, END = dt.date(2023, 4, 1), dt.date(2024, 3, 31)
_FACTORS = ["1B", "2A", "2B", "3A", "3B", "4B", "6A", "8B", "11A", "16A", "18B", "22A"]


def _days(rng: np.random.Generator, n: int, lo: int, hi: int) -> np.ndarray:
    return rng.integers(lo, hi, n)


def borough(n: int = CHILDREN, seed: int = 14) -> dict[str, pd.DataFrame]:
    """Return canonical tables (source ids) for ``n`` children referred in 2023/24."""
    rng = np.random.default_rng(seed)
    base = pd.Timestamp(START)
    span = (END - START).days
    persons = pd.DataFrame(
        {
            "person_id": [f"P{i:07d}" for i in range(n)],
            "birth_date": base - pd.to_timedelta(_days(rng, n, 30, 17 * 365), unit="D"),
            "sex": rng.choice(["1", "2"], n),
            "ethnicity": rng.choice(["WBRI", "BAFR", "APKN", "MWBC", "OOTH"], n),
            "disability": rng.choice(["NONE", "AUT", "LD"], n, p=[0.9, 0.05, 0.05]),
        }
    )
    twice = rng.random(n) < 0.3
    owner = np.concatenate([np.arange(n), np.flatnonzero(twice)])
    first = _days(rng, n, 0, span // 2)
    offset = np.concatenate([first, first[twice] + _days(rng, int(twice.sum()), 1, span // 2)])
    m = len(owner)
    nfa = rng.random(m) < 0.2
    closed = rng.random(m) < 0.5
    ref_date = base + pd.to_timedelta(offset, unit="D")
    close = ref_date + pd.to_timedelta(_days(rng, m, 5, 60), unit="D")
    closed &= close <= pd.Timestamp(END)
    referrals = pd.DataFrame(
        {
            "referral_id": [f"R{i:07d}" for i in range(m)],
            "person_id": persons["person_id"].to_numpy()[owner],
            "referral_date": ref_date,
            "source": rng.choice(["1A", "2A", "3A", "5A", "6", "8"], m),
            "primary_need": rng.choice(["N1", "N2", "N4", "N5"], m),
            "nfa": nfa,
            "closure_date": close.where(closed),
            "closure_reason": np.where(closed, np.where(nfa, "RC8", "RC7"), None),
        }
    )
    live = referrals[~nfa]
    k = len(live)

    def part(prefix: str, share: float, gap: int) -> pd.DataFrame:
        pick = live[rng.random(k) < share]
        start = pick["referral_date"] + pd.to_timedelta(gap, unit="D")
        end = start + pd.to_timedelta(_days(rng, len(pick), 10, 200), unit="D")
        ok = start <= pd.Timestamp(END)
        return pd.DataFrame(
            {
                "id": [f"{prefix}{i:07d}" for i in range(int(ok.sum()))],
                "referral_id": pick["referral_id"][ok].to_numpy(),
                "person_id": pick["person_id"][ok].to_numpy(),
                "start_date": start[ok].to_numpy(),
                "end": end[ok].where(end[ok] <= pd.Timestamp(END)).to_numpy(),
            }
        )

    a = part("A", 1.0, 1).rename(columns={"id": "assessment_id", "end": "authorised_date"})
    factors = a.loc[a["authorised_date"].notna(), ["assessment_id"]].sample(
        frac=1.0, random_state=1
    )
    factors = factors.assign(factor=rng.choice(_FACTORS, len(factors))).drop_duplicates()
    cin = part("C", 0.4, 30).rename(columns={"id": "plan_id", "end": "end_date"})
    s47 = part("S", 0.15, 2).rename(columns={"id": "s47_id", "end": "icpc_date"})
    cpp = part("K", 0.05, 20).rename(columns={"id": "plan_id", "end": "end_date"})
    cpp["initial_category"] = rng.choice(["NEG", "EMO", "PHY", "SAB"], len(cpp))
    return {
        "persons": persons,
        "referrals": referrals,
        "assessments": a,
        "assessment_factors": factors,
        "cin_plans": cin,
        "section47": s47,
        "cp_plans": cpp,
    }


_LOAD = """
import time
from pathlib import Path
from stratify.features.warehouse.cin_load import load_cin_returns
t = time.perf_counter()
r = load_cin_returns(Path({src!r}), Path({wh!r}))
print("seconds", time.perf_counter() - t)
print("children", r.load.row_counts["persons"], "referrals", r.load.row_counts["referrals"],
      "issues", len(r.issues))
"""


def main() -> None:
    """Generate the return, load it in a fresh process, print the figures against the targets."""
    with tempfile.TemporaryDirectory(prefix="bench-cin-") as tmp:
        folder = Path(tmp) / "cin"
        written = write_cin_returns(borough(), folder, extract_date=END, la_code="999")
        size = sum(p.stat().st_size for p in folder.glob("*.xml")) / 1e6
        print(f"CIN census XML: {written} children per return, {size:.0f} MB")
        m = measure(_LOAD.format(src=str(folder), wh=str(Path(tmp) / "wh.duckdb")))
        print(m.output)
        ok = m.seconds <= TARGET_SECONDS and m.peak_mb <= TARGET_MB
        print(
            f"load --cin-xml of {CHILDREN:,} children: {m.seconds:.1f} s wall "
            f"(target <= {TARGET_SECONDS:.0f} s), peak {m.peak_mb:.0f} MB "
            f"(target <= {TARGET_MB:.0f} MB), cpu {m.cpu_seconds:.1f} s: "
            f"{'meets' if ok else 'MISSES'} the target"
        )
        if not ok:
            sys.exit(1)


if __name__ == "__main__":
    main()
