"""Drift speed: the retraining report's drift section on demo-sized feature tables.

Target (issue 13, deliverable 4): <= 30 s on 2 cores for about 430,000 reference rows
(the champion's training decision points) by 80 features against 50,000 current rows
(the new extract's latest decision points). Both sides are synthetic but shaped like the
feature build's output (:func:`benchmarks.bench_outreach.cohort`: every escalation
catalogue feature with its dtype, nullable where the catalogue says so, and the audit
columns); the reference spreads over 28 quarterly snapshots with a 3 % base rate and
some unlabelled rows, the current is one unlabelled snapshot drawn with another seed.
Scores are a logistic function of a few features.

The timed part, in a fresh process whose peak RSS is reported, is
:func:`stratify.training.retrain.drift.drift_report` on pandas frames (Arrow to pandas
is not timed). When the demo's feature table exists it is timed too: its latest
snapshot against every earlier labelled row.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import pandas as pd

from benchmarks._measure import measure

LIMIT_SECONDS = 30.0
QUARTERS = pd.date_range("2017-03-31", periods=28, freq="QE").date


def _scores(features: pd.DataFrame, seed: int) -> np.ndarray:
    """A made-up model's scores: a logistic function of a few counts, plus noise."""
    rng = np.random.default_rng(seed)
    logit = -4.0 + 0.5 * features["referrals_12m"].to_numpy(dtype=float)
    logit += 0.8 * features["s47_ever"].to_numpy(dtype=float) + rng.normal(0, 0.5, len(features))
    return 1 / (1 + np.exp(-logit))


def _side(rows: int, seed: int, dates: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A feature table (with as_of_date and label) and its audit table."""
    from benchmarks.bench_outreach import cohort

    rng = np.random.default_rng(seed)
    features, audit = (t.to_pandas() for t in cohort(rows, seed))
    features["as_of_date"] = rng.choice(dates, rows)
    label = (rng.random(rows) < 0.03).astype(float)
    label[rng.random(rows) < (0.1 if len(dates) > 1 else 1.0)] = np.nan
    features["label"] = label
    return features, audit


def _timed(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    ref_audit: pd.DataFrame,
    cur_audit: pd.DataFrame,
    features: list[str],
) -> dict[str, float]:
    """Time drift_report on the given frames; return its figures."""
    from stratify.features.config import DriftConfig
    from stratify.training.retrain.drift import drift_report

    start = time.perf_counter()
    report = drift_report(
        reference,
        current,
        reference_audit=ref_audit,
        current_audit=cur_audit,
        reference_scores=_scores(reference, 1),
        current_scores=_scores(current, 2),
        features=features,
        thresholds=DriftConfig(),
    )
    return {
        "seconds": time.perf_counter() - start,
        "reference": report.reference_rows,
        "current": report.current_rows,
        "features": len(report.features),
        "major": len(report.flagged.features),
        "max_psi": float(report.features["psi"].max()),
        "score_psi": report.score.psi,
    }


def child(reference_rows: int, current_rows: int) -> None:
    """The measured process on synthetic tables: print the figures as JSON."""
    from benchmarks.bench_outreach import TARGET
    from stratify.features.catalogue import features_for

    reference, ref_audit = _side(reference_rows, 0, QUARTERS[:-4])
    current, cur_audit = _side(current_rows, 1, QUARTERS[-1:])
    names = [f.name for f in features_for(TARGET)]
    figures = _timed(reference, current, ref_audit, cur_audit, names)
    print(json.dumps(figures))


def demo_child(folder: str) -> None:
    """The measured process on the demo's feature table: the latest snapshot against the rest."""
    from stratify.features.catalogue import FEATURE_BY_NAME

    features = pd.read_parquet(f"{folder}/features.parquet")
    audit = pd.read_parquet(f"{folder}/audit.parquet")
    latest = features["as_of_date"] == features["as_of_date"].max()
    earlier = ~latest & features["label"].notna()
    names = [c for c in features.columns if c in FEATURE_BY_NAME]
    figures = _timed(features[earlier], features[latest], audit[earlier], audit[latest], names)
    print(json.dumps(figures))


def _line(f: dict, wall: float, peak_mb: float) -> str:
    verdict = "ok" if f["seconds"] <= LIMIT_SECONDS else "OVER TARGET"
    return (
        f"  {f['seconds']:.1f} s drift_report ({wall:.1f} s wall with imports and data), "
        f"{peak_mb:.0f} MB peak; max feature PSI {f['max_psi']:.4f}, {f['major']} at "
        f"major, score PSI {f['score_psi']:.4f}  target <= {LIMIT_SECONDS:.0f} s on 2 "
        f"cores: {verdict}"
    )


def main(reference_rows: int = 430_000, current_rows: int = 50_000) -> None:
    """Run the drift benchmark and print its figures against the target."""
    from stratify.features.config import load_config

    m = measure(
        f"from benchmarks.bench_drift import child; child({reference_rows}, {current_rows})"
    )
    f = json.loads(m.output.strip().splitlines()[-1])
    print(
        f"drift: {f['reference']:,} reference rows x {f['features']} features against "
        f"{f['current']:,} current rows (synthetic, same distribution)"
    )
    print(_line(f, m.seconds, m.peak_mb))
    folder = load_config(None, os.environ).work_dir / "features" / "escalation"
    if not (folder / "features.parquet").exists():
        print(f"  demo feature table: skipped (none at {folder})")
        return
    d = measure(f"from benchmarks.bench_drift import demo_child; demo_child({str(folder)!r})")
    g = json.loads(d.output.strip().splitlines()[-1])
    print(
        f"drift on the demo table: {g['reference']:,} earlier labelled rows x "
        f"{g['features']} features against the latest snapshot's {g['current']:,} rows"
    )
    print(_line(g, d.seconds, d.peak_mb))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reference-rows", type=int, default=430_000)
    parser.add_argument("--current-rows", type=int, default=50_000)
    args = parser.parse_args()
    main(args.reference_rows, args.current_rows)
