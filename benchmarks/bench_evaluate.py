"""Evaluation speed: family-bootstrap intervals on a year of test decision points.

Target (training issue): evaluation with 1,000 bootstrap resamples on 200,000 test rows
<= 60 s on 2 cores. Synthetic scores: about 120,000 families of 1-4 children over 4
quarters, a base rate near 3 %, and three models (a sharp "lightgbm", a weaker
"logreg", and a six-level "rule" with heavy ties). The timed part is what a run does:
the family lists at capacity per model (:func:`stratify.training.operating.make_lists`),
``evaluate`` per child and per listed family (every metric, paired differences against
lightgbm), the calibration slope and intercept, and ``per_period``, in a fresh process
whose peak RSS is reported.
"""

from __future__ import annotations

import argparse
import json

from benchmarks._measure import measure

CODE = """
import json, time
import numpy as np
from stratify.features.config import Capacity
import pandas as pd
from stratify.training.metrics.evaluate import evaluate, per_period
from stratify.training.metrics.recalibration import calibration_fit
from stratify.training.operating import make_lists

rng = np.random.default_rng(20261201)
sizes = rng.choice([1, 2, 3, 4], {rows}, p=[0.55, 0.28, 0.12, 0.05])
family = np.repeat(np.arange(len(sizes)), sizes)[:{rows}]
quarter = np.array(["2024Q2", "2024Q3", "2024Q4", "2025Q1"])[rng.integers(0, 4, {rows})]
risk = rng.normal(size=len(sizes))[family] + rng.normal(0, 0.7, {rows})
y = (rng.random({rows}) < 1 / (1 + np.exp(4.0 - 0.9 * risk))).astype(int)
sigmoid = lambda x: 1 / (1 + np.exp(-x))
scores = {{
    "lightgbm": sigmoid(-4.0 + 0.9 * risk + rng.normal(0, 0.4, {rows})),
    "logreg": sigmoid(-3.7 + 0.5 * risk + rng.normal(0, 0.6, {rows})),
    "rule": np.array([0.01, 0.02, 0.03, 0.05, 0.08, 0.15])[np.digitize(risk, [-1, 0, 1, 1.5, 2])],
}}
family = np.char.add("fam", family.astype(str))
capacity = Capacity(families_per_quarter=200)
start = time.perf_counter()
children = pd.DataFrame({{"date": quarter, "family": family, "eligible": True, "label": y}})
lists = make_lists(children, scores, capacity)
report = evaluate(y, scores, lists.row_selected, family=family, n_boot={n_boot}, seed=1)
families = evaluate(lists.units["label"].to_numpy(), lists.unit_scores, lists.unit_selected,
                    family=lists.units["family"], n_boot={n_boot}, seed=1)
slope = calibration_fit(y, scores["lightgbm"], family=family, n_boot={n_boot}, seed=1)
table = per_period(y, scores, lists.row_selected, period=quarter)
seconds = time.perf_counter() - start
auc = report["metrics"]["lightgbm"]["roc_auc"]
print(json.dumps({{"seconds": seconds, "rows": report["rows"], "families": report["families"],
    "base_rate": report["base_rate"], "auc": auc, "periods": len(table)}}))
"""
LIMIT_SECONDS = 60.0


def main(rows: int = 200_000, n_boot: int = 1_000) -> None:
    """Run the evaluation benchmark and print its figures against the target."""
    m = measure(CODE.format(rows=rows, n_boot=n_boot))
    f = json.loads(m.output.strip().splitlines()[-1])
    verdict = "ok" if m.seconds <= LIMIT_SECONDS else "OVER TARGET"
    auc = f["auc"]
    print(
        f"evaluate: {f['rows']:,} test rows, {f['families']:,} families, base rate "
        f"{f['base_rate']:.1%}, 3 models, {n_boot:,} family-bootstrap resamples"
    )
    print(
        f"  {m.seconds:.1f} s wall (lists + evaluate + slope + per_period {f['seconds']:.1f} s), "
        f"{m.peak_mb:.0f} MB peak, {m.cpu_seconds:.0f} CPU-s  "
        f"(lightgbm AUC {auc['value']:.3f} [{auc['low']:.3f}, {auc['high']:.3f}])  "
        f"target <= {LIMIT_SECONDS:.0f} s: {verdict}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--n-boot", type=int, default=1_000)
    args = parser.parse_args()
    main(args.rows, args.n_boot)
