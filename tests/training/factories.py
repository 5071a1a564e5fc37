"""Hand-built inputs shared by the training tests: the audit's 62 rows, a typed evaluation.

:func:`predictions` is the frame worked by hand in ``tests/training/audit/test_audit.py``
(the arithmetic is in that module's docstring). :func:`evaluation` is a made-up but
complete :class:`~stratify.training.evaluation.Evaluation` with figures chosen so
every formatted number in the card can be predicted.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from stratify.core.text import SUPPRESSED
from stratify.features.config import AuditConfig
from stratify.training.card.sections import METRIC_NAMES
from stratify.training.evaluation import (
    BacktestRow,
    CeilingGap,
    Champion,
    Criterion,
    Eligibility,
    Evaluation,
    Interval,
    Lineage,
    OperatingPoint,
    PerformanceVerdict,
    Period,
    QuarterRow,
    RegisteredRun,
    Search,
    Splits,
)
from stratify.training.policy import FairnessBar

# (ethnic group, label, selected, score, count)
BLOCKS = [
    ("White", 1, True, 0.6, 8),
    ("White", 1, False, 0.3, 2),
    ("White", 0, True, 0.55, 2),
    ("White", 0, False, 0.2, 20),
    ("Black", 1, True, 0.7, 4),
    ("Black", 1, False, 0.25, 6),
    ("Black", 0, True, 0.65, 6),
    ("Black", 0, False, 0.3, 14),
]
CONFIG = AuditConfig(
    groups=("ethnic_group", "sex", "age_band"), intersections=(("ethnic_group", "sex"),), n_boot=200
)
BAR = FairnessBar(dimensions=("ethnic_group", "sex", "age_band", "locality"))
HIDDEN_AGE = ("16+", "<1")


def predictions(copies: int = 1, truth: bool = False) -> pd.DataFrame:
    """The 62 rows above (``copies`` times, with new families each time)."""
    rows = [(g, y, s, p) for g, y, s, p, n in BLOCKS for _ in range(n)]
    frame = pd.DataFrame(rows, columns=["ethnic_group", "label", "selected", "score"])
    n = len(frame)
    pos, neg = np.flatnonzero(frame["label"] == 1), np.flatnonzero(frame["label"] == 0)
    age = np.full(n, "5-9", dtype=object)
    age[np.r_[pos[:4], neg[:8]]] = "<1"  # 12 people, 4 positives
    age[np.r_[pos[4:7], neg[8:14]]] = "16+"  # 9 people
    sex = np.where(np.arange(n) % 2 == 0, "1", "2").astype(object)
    sex[np.r_[pos[10:12], neg[20:27]]] = "9"  # 9 people
    frame["age_band"], frame["sex"] = age, sex
    frame["person_id"] = [f"P{i}" for i in range(n)]
    # White children come in pairs of siblings, Black children alone, two with no household
    frame["household_id"] = [
        f"H{i // 2}" if g == "White" else f"S{i}" for i, g in enumerate(frame["ethnic_group"])
    ]
    frame.loc[[40, 41], "household_id"] = None
    frame["locality"] = "North"
    need = frame["label"].astype(bool).copy()
    need[(frame["ethnic_group"] == "White") & (frame["label"] == 0) & (frame["score"] == 0.2)] = [
        True,
        True,
        *[False] * 18,
    ]
    need[(frame["ethnic_group"] == "Black") & (frame["label"] == 0) & (frame["score"] == 0.3)] = [
        *[True] * 6,
        *[False] * 8,
    ]
    frame["in_need"] = pd.array(need if truth else [pd.NA] * n, dtype="boolean")
    parts = []
    for c in range(copies):
        part = frame.copy()
        part["person_id"] = part["person_id"] + f"-{c}"
        part["household_id"] = part["household_id"].map(
            lambda h, c=c: None if h is None else f"{h}-{c}"
        )
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


MODELS = ("lightgbm", "rule", "logreg", "ceiling", "lightgbm_on_truth_sample")
PAIRED = ("average_precision", "precision_at_capacity", "roc_auc", "recall_at_capacity")
NAN = Interval(math.nan, math.nan, math.nan)


def interval(value: float) -> Interval:
    """``value`` with an interval 0.0213 below and 0.0187 above it."""
    return Interval(value, value - 0.0213, value + 0.0187)


def evaluation(*, ceiling_gap: bool = True) -> Evaluation:
    """A complete evaluation: model ``i``'s metric ``j`` is ``0.05 (i + 1) + 0.01 j + 0.00041``.

    The rule's ECE is undefined (NaN), as it is for a points score.
    """
    metrics = {
        m: {k: interval(0.05 * (i + 1) + 0.01 * j + 0.00041) for j, k in enumerate(METRIC_NAMES)}
        for i, m in enumerate(MODELS)
    }
    metrics["rule"]["ece"] = NAN
    return Evaluation(
        target="escalation",
        created="2026-11-30T10:00:00+00:00",
        capacity="200 families per quarter",
        calibration="isotonic",
        split=Splits(
            *(
                Period("2016-04-01", "2022-01-01", rows=5000 + i, positives=120 + i, families=3000)
                for i in range(3)
            )
        ),
        metrics=metrics,
        lift_over={b: {k: interval(0.0312) for k in PAIRED} for b in ("rule", "logreg")},
        ceiling_gap=CeilingGap(1500, 40, {k: interval(0.1) for k in PAIRED})
        if ceiling_gap
        else None,
        per_quarter=(
            QuarterRow("2023Q2", "lightgbm", 900, 21, 0.8123, 0.2, 0.31, 0.4),
            QuarterRow("2023Q2", "rule", 900, 21, 0.6, math.nan, 0.25, 0.3),
        ),
        n_boot=1000,
        base_rate=0.03,
        search=Search(
            chosen={"num_leaves": 15, "monotone": True, "trees": 120},
            candidates=({"num_leaves": 15, "monotone": True}, {"num_leaves": 31, "monotone": True}),
            logreg_c=0.1,
        ),
        features=("referrals_3m", "referrals_12m"),
        protected_inputs=(),
        train_seconds=12.5,
        verdict=PerformanceVerdict(
            (
                Criterion(
                    "average precision of LightGBM", ">= 0.080", Interval(0.2, 0.15, 0.25), "met"
                ),
            ),
            "met",
        ),
        horizon_months=12,
        eligibility=Eligibility("eligible", 5400, 160, 5002, 122),
        operating_point=OperatingPoint(families=4100, families_with_outcome=117, listed=800,
                                       threshold=None),
        backtest=(
            BacktestRow("2023Q2", "lightgbm", 200, 31, 1025, 29),
            BacktestRow("2023Q2", "rule", 200, SUPPRESSED, 1025, 29),
        ),
        champion=Champion(
            Period("2016-04-01", "2023-10-01", rows=9000, positives=200, families=4000),
            Period("2024-01-01", "2024-01-01", rows=1300, positives=30, families=1000),
            trees=140,
            threshold=None,
        ),
    )  # fmt: skip


def registered_run(version: int = 3) -> RegisteredRun:
    """The run id, version and lineage of a made-up registration."""
    lineage = Lineage(
        warehouse_content_hash="wh-abc",
        feature_table_hash="ft-def",
        catalogue_hash="cat-123",
        extract_date="2025-03-31",
        config_hash="cfg-9",
    )
    return RegisteredRun(run_id="run-0123", version=version, lineage=lineage)
