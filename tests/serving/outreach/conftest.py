"""Fixtures of the outreach tests: one list of the small borough and its reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stratify.features.config import Config
from stratify.features.model_input import input_columns, model_frame
from stratify.serving.outreach.run import OutreachOutcome, run_outreach
from tests.serving.factory import AS_OF, CAPACITY


@pytest.fixture(scope="package")
def outcome(champion: tuple[Config, int]) -> OutreachOutcome:
    return run_outreach(champion[0], AS_OF, CAPACITY)


@pytest.fixture(scope="package")
def reference(champion: tuple[Config, int]) -> pd.DataFrame:
    """The date's rows of the full feature table, scored with the registered pyfunc."""
    from stratify.training import tracking

    cfg, version = champion
    where = cfg.work_dir / "features" / "escalation"
    feats = pd.read_parquet(where / "features.parquet")
    audit = pd.read_parquet(where / "audit.parquet")
    on = (feats["as_of_date"] == AS_OF).to_numpy()
    rows, audit = feats.loc[on].reset_index(drop=True), audit.loc[on].reset_index(drop=True)
    model = tracking.load_pyfunc(cfg, "escalation", version)
    p = np.asarray(model.predict(model_frame(rows, input_columns("escalation"))))[:, 1]
    closed = set(rows.loc[~rows["eligible"].astype(bool), "household_id"])
    groups = ("ethnic_group", "sex", "has_disability", "age_band", "imd_quintile", "locality")
    return rows.assign(
        score=p, closed=rows["household_id"].isin(closed), **{c: audit[c] for c in groups}
    )
