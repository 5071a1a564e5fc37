"""Temporal splits: rolling-origin evaluation folds and the final train/calibrate/test split.

Decision points are split by ``as_of_date``. A point may train (or calibrate) a model
only when its whole label window, ``[as_of, as_of + horizon)``, ends on or before the
start of the period it is evaluated on, so no label is known earlier than it would be
in use. A point is tested only when its label window is complete at the extract date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stratify.features.build.cohorts import add_months, add_months_array

ERR_TOO_SHORT = (
    "the decision points span {start} to {end}: too short for {folds} test period(s) of "
    "{test} months after at least {train} months of training data with a {horizon}-month "
    "horizon"
)
ERR_NO_COMPLETE = "no decision point has a complete {horizon}-month label window by {extract}"


class SplitError(ValueError):
    """The decision points cannot be split as asked."""


@dataclass(frozen=True)
class Fold:
    """One evaluation period and the data that may be used before it.

    Attributes
    ----------
    name : str
        ``test <start>`` of the period, for tables and plots.
    train_until : datetime.date
        Points with ``as_of + horizon <= train_until`` may train.
    test_start, test_end : datetime.date
        Points with ``test_start <= as_of < test_end`` are tested.
    """

    name: str
    train_until: dt.date
    test_start: dt.date
    test_end: dt.date


@dataclass(frozen=True)
class FinalSplit:
    """Train on the earliest period, calibrate on a later slice, test on the latest."""

    train_until: dt.date
    calibrate_start: dt.date
    calibrate_until: dt.date
    test_start: dt.date
    test_end: dt.date


def _dates(as_of: pd.Series) -> np.ndarray:
    return pd.to_datetime(as_of).to_numpy(dtype="datetime64[D]")


def window_end(as_of: pd.Series, horizon_months: int) -> np.ndarray:
    """Return the day each point's label window ends (exclusive): ``as_of + horizon``."""
    return add_months_array(_dates(as_of), horizon_months)


def last_complete(extract_date: dt.date, horizon_months: int) -> dt.date:
    """Return the first as_of whose label window is not complete at ``extract_date``.

    Label windows are complete when ``as_of + horizon <= extract_date``.
    """
    day = add_months(extract_date, -horizon_months)
    while add_months(day, horizon_months) <= extract_date:
        day += dt.timedelta(days=1)
    return day


def rolling_origin(
    as_of: pd.Series,
    *,
    horizon_months: int,
    extract_date: dt.date,
    test_months: int = 3,
    folds: int = 4,
    min_train_months: int = 12,
) -> list[Fold]:
    """Return the last ``folds`` consecutive test periods of ``test_months`` each.

    The latest period ends where label windows stop being complete; each fold trains
    on every point whose label window ends by the fold's test start.

    Raises
    ------
    SplitError
        When the data are too short for the folds with ``min_train_months`` of training.
    """
    days = _dates(as_of)
    first = pd.Timestamp(days.min()).date()
    end = last_complete(extract_date, horizon_months)
    if pd.Timestamp(days.min()).date() >= end:
        raise SplitError(ERR_NO_COMPLETE.format(horizon=horizon_months, extract=extract_date))
    out = []
    for k in range(folds, 0, -1):
        start = add_months(end, -k * test_months)
        stop = add_months(end, -(k - 1) * test_months)
        out.append(Fold(f"test {start}", start, start, stop))
    earliest_train_end = add_months(add_months(first, min_train_months), horizon_months)
    if out[0].train_until < earliest_train_end:
        raise SplitError(
            ERR_TOO_SHORT.format(
                start=first,
                end=pd.Timestamp(days.max()).date(),
                folds=folds,
                test=test_months,
                train=min_train_months,
                horizon=horizon_months,
            )  # fmt: skip
        )
    return out


def fold_masks(as_of: pd.Series, fold: Fold, horizon_months: int) -> tuple[np.ndarray, np.ndarray]:
    """Return boolean (train, test) masks over ``as_of`` for ``fold``."""
    days = _dates(as_of)
    train = window_end(as_of, horizon_months) <= np.datetime64(fold.train_until)
    test = (days >= np.datetime64(fold.test_start)) & (days < np.datetime64(fold.test_end))
    return train, test


def final_split(
    as_of: pd.Series,
    *,
    horizon_months: int,
    extract_date: dt.date,
    test_months: int = 3,
    calibrate_months: int = 6,
) -> FinalSplit:
    """Return the split for the model that is registered.

    Test: the latest ``test_months`` of points with complete labels. Calibrate: the
    ``calibrate_months`` of points whose label windows end by the test start. Train:
    points whose label windows end by the calibration slice's start.
    """
    end = last_complete(extract_date, horizon_months)
    test_start = add_months(end, -test_months)
    calibrate_until = test_start
    calibrate_last_start = add_months(calibrate_until, -horizon_months)
    calibrate_start = add_months(calibrate_last_start, -calibrate_months)
    if pd.Timestamp(_dates(as_of).min()).date() >= calibrate_start:
        raise SplitError(
            ERR_TOO_SHORT.format(
                start=pd.Timestamp(_dates(as_of).min()).date(),
                end=pd.Timestamp(_dates(as_of).max()).date(),
                folds=1,
                test=test_months,
                train=calibrate_months,
                horizon=horizon_months,
            )  # fmt: skip
        )
    return FinalSplit(calibrate_start, calibrate_start, calibrate_until, test_start, end)


def final_masks(
    as_of: pd.Series, split: FinalSplit, horizon_months: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return boolean (train, calibrate, test) masks over ``as_of``."""
    days = _dates(as_of)
    ends = window_end(as_of, horizon_months)
    train = ends <= np.datetime64(split.train_until)
    calibrate = (days >= np.datetime64(split.calibrate_start)) & (
        ends <= np.datetime64(split.calibrate_until)
    )
    test = (days >= np.datetime64(split.test_start)) & (days < np.datetime64(split.test_end))
    return train, calibrate, test
