"""The step-down list of one month of the small borough, end to end, against a reference.

The reference is independent of the step-down code: the month's rows of the full
rereferral feature table built at training (every date at once), scored with the
registered MLflow model, and the families worked out with plain loops.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from stratify.features.config import Config
from stratify.features.model_input import input_columns, model_frame
from stratify.serving.scoring import Scorer
from stratify.serving.stepdown.run import month_end, run_stepdown
from tests.features.factories import IBIS_DUCKDB_WARNING

pytestmark = pytest.mark.filterwarnings(IBIS_DUCKDB_WARNING)


def _month(feats: pd.DataFrame) -> dt.date:
    """The last complete month of the training table (whose dates all exist in it)."""
    last = pd.Timestamp(feats["as_of_date"].max()).date()
    first = last.replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)


def _reference(cfg: Config, version: int, month: dt.date, threshold: float) -> list[str]:
    from stratify.training import tracking

    feats = pd.read_parquet(cfg.work_dir / "features" / "rereferral" / "features.parquet")
    day = pd.to_datetime(feats["as_of_date"]).dt.date
    rows = feats.loc[((day >= month) & (day <= month_end(month))).to_numpy()]
    model = tracking.load_pyfunc(cfg, "rereferral", version)
    p = np.asarray(model.predict(model_frame(rows, input_columns("rereferral"))))[:, 1]
    best: dict[str, float] = defaultdict(float)
    latest: dict[str, dt.date] = {}
    ok: dict[tuple[str, dt.date], bool] = {}
    for r, score in zip(rows.itertuples(), p, strict=True):
        fam = r.household_id if isinstance(r.household_id, str) else f"person:{r.person_id}"
        d = pd.Timestamp(r.as_of_date).date()
        best[fam] = max(best[fam], float(score))
        latest[fam] = max(latest.get(fam, d), d)
        ok[(fam, d)] = ok.get((fam, d), True) and bool(r.eligible)
    listed = [f for f in best if ok[(f, latest[f])] and best[f] >= threshold]
    return sorted(listed, key=lambda f: (-best[f], f))


def test_month_of_the_small_borough(rereferral_champion: tuple[Config, int]) -> None:
    cfg, version = rereferral_champion
    feats = pd.read_parquet(cfg.work_dir / "features" / "rereferral" / "features.parquet",
                            columns=["as_of_date"])  # fmt: skip
    month = _month(feats)
    scorer = Scorer.from_store(cfg.work_dir, "rereferral")
    threshold = float(scorer.metadata["operating_threshold"])
    start = time.perf_counter()
    out = run_stepdown(cfg, month)
    seconds = time.perf_counter() - start
    print(f"\nstep-down {month:%Y-%m}: {out.stepdown.closures} closures, "
          f"{len(out.stepdown.families)} listed, {seconds:.1f} s")  # fmt: skip
    expected = _reference(cfg, version, month, threshold)
    assert list(out.stepdown.families["family"]) == expected
    assert out.stepdown.model_version == version and out.stepdown.threshold == threshold
    assert 0 < len(expected) < out.stepdown.eligible_families
    reasons = out.stepdown.families["reason_1"]
    assert (reasons != "").mean() > 0.5
    assert out.workbook.exists() and out.page.exists()
    assert seconds < 30
