"""Temporal splits, worked by hand on quarterly decision points."""

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratify.features.build.cohorts import add_months
from stratify.training.split import (
    SplitError,
    final_masks,
    final_split,
    fold_masks,
    last_complete,
    rolling_origin,
)

D = dt.date
EXTRACT = D(2025, 3, 31)
QUARTERS = pd.Series(pd.date_range("2019-01-01", "2025-01-01", freq="QS"))


def _picked(mask):
    return [d.date() for d in QUARTERS[mask]]


def test_last_complete_window():
    # as_of + 12 months <= 31 March 2025  <=>  as_of <= 31 March 2024
    assert last_complete(EXTRACT, 12) == D(2024, 4, 1)
    # clamped month arithmetic: 29 Feb 2024 + 12 months = 28 Feb 2025, complete
    assert last_complete(D(2025, 2, 28), 12) == D(2024, 3, 1)


def test_rolling_origin_by_hand():
    folds = rolling_origin(QUARTERS, horizon_months=12, extract_date=EXTRACT, folds=4)
    assert [(f.test_start, f.test_end) for f in folds] == [
        (D(2023, 4, 1), D(2023, 7, 1)),
        (D(2023, 7, 1), D(2023, 10, 1)),
        (D(2023, 10, 1), D(2024, 1, 1)),
        (D(2024, 1, 1), D(2024, 4, 1)),
    ]
    train, test = fold_masks(QUARTERS, folds[0], 12)
    # only points whose window [as_of, as_of + 12m) ends by 1 April 2023
    assert _picked(train)[-1] == D(2022, 4, 1)
    assert len(_picked(train)) == 14  # 2019-01-01 .. 2022-04-01 quarterly
    assert _picked(test) == [D(2023, 4, 1)]
    train, test = fold_masks(QUARTERS, folds[-1], 12)
    assert _picked(train)[-1] == D(2023, 1, 1)
    assert _picked(test) == [D(2024, 1, 1)]


def test_final_split_by_hand():
    split = final_split(QUARTERS, horizon_months=12, extract_date=EXTRACT, test_months=3,
                        calibrate_months=6)  # fmt: skip
    assert (split.test_start, split.test_end) == (D(2024, 1, 1), D(2024, 4, 1))
    assert (split.calibrate_start, split.calibrate_until) == (D(2022, 7, 1), D(2024, 1, 1))
    train, calibrate, test = final_masks(QUARTERS, split, 12)
    assert _picked(train)[-1] == D(2021, 7, 1)
    assert _picked(calibrate) == [D(2022, 7, 1), D(2022, 10, 1), D(2023, 1, 1)]
    assert _picked(test) == [D(2024, 1, 1)]
    assert not (train & calibrate).any() and not (calibrate & test).any()


def test_too_little_history_is_a_clear_error():
    short = pd.Series(pd.date_range("2023-01-01", "2024-01-01", freq="QS"))
    with pytest.raises(SplitError, match="too short"):
        rolling_origin(short, horizon_months=12, extract_date=EXTRACT)
    with pytest.raises(SplitError, match="too short"):
        final_split(short, horizon_months=12, extract_date=EXTRACT)
    with pytest.raises(SplitError, match="no decision point has a complete"):
        rolling_origin(short, horizon_months=12, extract_date=D(2023, 6, 30))


@settings(max_examples=60, deadline=None)
@given(
    days=st.lists(st.dates(D(2016, 1, 1), D(2025, 3, 31)), min_size=30, max_size=200),
    horizon=st.sampled_from([3, 6, 12]),
    test_months=st.sampled_from([1, 3, 6]),
)
def test_no_training_label_is_known_after_its_test_period_starts(days, horizon, test_months):
    as_of = pd.Series(pd.to_datetime(days))
    try:
        folds = rolling_origin(as_of, horizon_months=horizon, extract_date=EXTRACT,
                               test_months=test_months, folds=2, min_train_months=1)  # fmt: skip
    except SplitError:
        return
    for fold in folds:
        train, test = fold_masks(as_of, fold, horizon)
        assert not (train & test).any()
        for d in as_of[train].dt.date:
            assert add_months(d, horizon) <= fold.test_start
        for d in as_of[test].dt.date:
            assert add_months(d, horizon) <= EXTRACT  # tested labels are complete
