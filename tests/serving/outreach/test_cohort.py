"""One date's cohort: a month's first day, and exactly the full build's rows of that date."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest

from stratify.features.config import Config
from stratify.serving.outreach.cohort import ERR_NOT_FIRST, cohort_at
from tests.serving.factory import AS_OF


def test_as_of_must_be_a_month_start(tmp_path: Path):
    with pytest.raises(ValueError, match=re.escape(ERR_NOT_FIRST.split("{")[0])):
        cohort_at(tmp_path / "none.duckdb", dt.date(2024, 10, 2), Config().features)


def test_one_date_cohort_is_the_full_builds_rows_of_that_date(champion, reference):
    cohort = cohort_at(champion[0].work_dir / "warehouse.duckdb", AS_OF, champion[0].features)
    cols = [c for c in cohort.features.columns if c != "label"]
    pd.testing.assert_frame_equal(cohort.features[cols], reference[cols], check_dtype=False)
