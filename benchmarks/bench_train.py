"""Training speed: the whole ``stratify.training.train.train`` on 1,000,000 decision points.

Target (training issue): training on 1,000,000 rows x >= 60 features <= 3 minutes on 2
cores. The table is synthetic but shaped like the escalation target: the catalogue's
80 features (counts drawn per family and child, flags, a locality), 36 quarterly
snapshot dates, about 700,000 households, a base rate near 2.5 % from a known logistic
rule. The timed part is everything ``stratify train`` computes: the splits, the
LightGBM search with early stopping, the logistic regression, the final fit and its
calibration, the family lists at capacity, the family-bootstrap evaluation (1,000
resamples, per child and per listed family, and the calibration slope), the
rolling-origin refits and the registered model's refit, in a fresh process whose peak
RSS is reported. Stage times are printed.
"""

from __future__ import annotations

import json

from benchmarks._measure import measure

CODE = """
import datetime as dt, json, time
import numpy as np, pandas as pd
from stratify.features.catalogue import features_for
from stratify.features.config import Config
from stratify.features.model_input import input_columns, model_frame
from stratify.features.build.cohorts import add_months
from stratify.training.data import TrainingTable, quarter_label
from stratify.training.policy import Policy
from stratify.training.train import train

rng = np.random.default_rng(7)
rows = {rows}
households = int(rows * 0.7)
family = rng.integers(0, households, rows)
dates = [add_months(dt.date(2016, 4, 1), 3 * k) for k in range(36)]
as_of = np.array(dates, dtype=object)[rng.integers(0, 36, rows)]
risk = rng.normal(size=households)[family] + rng.normal(0, 0.8, rows)
data = {{}}
for f in features_for("escalation"):
    if f.dtype == "category":
        data[f.name] = rng.choice(["Central", "North", "South"], rows)
    elif f.dtype == "bool":
        data[f.name] = rng.random(rows) < 1 / (1 + np.exp(2.5 - 0.6 * risk))
    else:
        lam = np.exp(-1.5 + 0.5 * risk + rng.normal(0, 0.5))
        data[f.name] = rng.poisson(np.clip(lam, 0, 30)).astype(float)
frame = pd.DataFrame(data)
X = model_frame(frame, input_columns("escalation"))
signal = 0.8 * np.log1p(X["referrals_12m"]) + 0.6 * np.log1p(X["s47_36m"]) + 0.7 * risk
y = (rng.random(rows) < 1 / (1 + np.exp(4.6 - signal.to_numpy()))).astype(np.int8)
keys = pd.DataFrame({{"person_id": np.char.add("p", np.arange(rows).astype(str)),
                     "household_id": np.char.add("h", family.astype(str)), "as_of_date": as_of}})
keys["quarter"] = quarter_label(keys["as_of_date"])
# about 5 % of decision points belong to a family open to statutory care on the date
keys["eligible"] = (rng.random(households) > 0.05)[family]
audit = pd.DataFrame({{"ethnic_group": rng.choice(["White", "Asian", "Black"], rows),
                      "locality": data["locality"]}})
meta = {{"extract_date": "2025-03-31", "categories": {{"locality": ["Central", "North", "South"]}},
        "feature_table_hash": "bench"}}
table = TrainingTable("escalation", keys, X, y, audit, None, meta)
start = time.perf_counter()
stages = []
progress = lambda s: stages.append((round(time.perf_counter() - start, 1), s))
result = train(table, Config(), Policy(), progress)
seconds = time.perf_counter() - start
ev = result.evaluation
print(json.dumps({{"seconds": seconds, "rows": rows, "features": X.shape[1],
    "train_rows": ev.split.train.rows, "test_rows": ev.split.test.rows,
    "base_rate": float(y.mean()), "auc": ev.metrics["lightgbm"]["roc_auc"].value,
    "trees": ev.search.chosen["trees"], "stages": stages}}))
"""
LIMIT_SECONDS = 180.0


def main(rows: int = 1_000_000) -> None:
    """Run the training benchmark and print its figures against the target."""
    m = measure(CODE.format(rows=rows))
    f = json.loads(m.output.strip().splitlines()[-1])
    verdict = "ok" if f["seconds"] <= LIMIT_SECONDS else "OVER TARGET"
    print(
        f"train: {f['rows']:,} rows x {f['features']} features (train {f['train_rows']:,}, "
        f"test {f['test_rows']:,}, base rate {f['base_rate']:.1%}; {f['trees']} trees, "
        f"test AUC {f['auc']:.3f}): {f['seconds']:.1f} s timed, {m.seconds:.1f} s with set-up, "
        f"peak {m.peak_mb:,.0f} MB (target <= {LIMIT_SECONDS:.0f} s: {verdict})"
    )
    for at, stage in f["stages"]:
        print(f"  {at:7.1f} s  {stage}")


if __name__ == "__main__":
    main()
