"""The champion scores a cohort on Spark and gives the single-machine outreach list."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stratify.serving.outreach.ranking import build_list
from stratify.serving.scoring import Scorer
from stratify.serving.spark_scoring import SparkScorer, spark_outreach_list
from tests.conftest import SPARK_SOCKETS
from tests.serving.factory import AS_OF, CAPACITY

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings(SPARK_SOCKETS)]
DIMENSIONS = ("ethnic_group", "sex", "age_band", "locality")


def test_the_spark_list_is_the_single_machine_list(champion, spark, monkeypatch):
    cfg, _ = champion
    where = cfg.work_dir / "features" / "escalation"
    scorer = Scorer.from_store(cfg.work_dir, "escalation")
    feats = pd.read_parquet(where / "features.parquet")
    audit = pd.read_parquet(where / "audit.parquet")
    on = (feats["as_of_date"] == AS_OF).to_numpy()
    feats, audit = feats.loc[on].reset_index(drop=True), audit.loc[on].reset_index(drop=True)
    single = build_list(feats, audit, scorer, as_of=AS_OF, capacity=CAPACITY, dimensions=DIMENSIONS)

    explained: list[int] = []
    original = SparkScorer.explain

    def spy(self, records, top=3):
        explained.append(len(records))
        return original(self, records, top)

    monkeypatch.setattr(SparkScorer, "explain", spy)
    on_spark = spark_outreach_list(
        spark,
        where / "features.parquet",
        where / "audit.parquet",
        scorer,
        as_of=AS_OF,
        capacity=CAPACITY,
        dimensions=DIMENSIONS,
    )

    assert len(single.families) == CAPACITY
    pd.testing.assert_frame_equal(on_spark.families, single.families)
    pd.testing.assert_frame_equal(
        on_spark.children.reset_index(drop=True), single.children.reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(on_spark.fairness, single.fairness)
    assert on_spark.reason_features == single.reason_features
    assert on_spark.scored_children == single.scored_children == len(feats)
    # reasons were computed for the listed families' children only, in one pass
    assert explained == [len(single.children)] and len(single.children) < len(feats) / 5


def test_spark_scores_equal_the_scorers_own(champion, spark):
    cfg, _ = champion
    where = cfg.work_dir / "features" / "escalation"
    scorer = Scorer.from_store(cfg.work_dir, "escalation")
    from stratify.features.build.spark import Watchdog

    cohort = spark.read.parquet(str(where / "features.parquet")).where(f"as_of_date = '{AS_OF}'")
    records = cohort.limit(200).toArrow().to_pandas()
    p, band = SparkScorer(scorer, cohort, Watchdog(spark, 600)).score(records[["person_id"]])
    want_p, want_band = scorer.score(records)
    np.testing.assert_allclose(p, want_p, rtol=0, atol=1e-12)
    assert (band == want_band).all()
