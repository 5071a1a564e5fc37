"""The operating point as deployed: family lists at capacity, their figures and their backtest.

The outreach list ranks eligible families by their highest child's score and takes the
capacity (:mod:`stratify.features.listing`). Evaluation does exactly that on the test
window, one list per decision date, with the same functions:

- a **unit** is a family on a date (its eligible children's rows); its label is 1 when
  at least one of those children reaches the outcome within the horizon;
- **precision at capacity** is the share of listed units with an outcome, **recall at
  capacity** the share of units with an outcome that were listed;
- for a threshold capacity (re-referral: a decision at each closure) the threshold is
  fixed on the calibration slice to select the intended share of families, and the
  test window is judged at that threshold: no future closure is needed to decide.

:func:`backtest` reports, per quarter, what the lists would have held and what became of
those families, beside the prior-referral rule's lists. :func:`monthly_backtest` does the
same for the monthly step-down list (``stratify step-down``): per month of closures, the
families listed and not listed and how many of each were re-referred, with 95 % CIs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from stratify.core.text import SUPPRESSED
from stratify.features.config import Capacity
from stratify.features.listing import (
    family_frame,
    family_of,
    listed_children,
    rank_within,
    select,
    threshold_for_share,
)
from stratify.training.data import quarter_label
from stratify.training.evaluation import BacktestRow, MonthRow

#: Models the backtest sets side by side.
BACKTEST_MODELS = ("lightgbm", "rule")


def children_frame(keys: pd.DataFrame, y: np.ndarray, locality: pd.Series | None) -> pd.DataFrame:
    """Return the listing's view of eligible decision points (one row each, same order).

    Parameters
    ----------
    keys : DataFrame
        ``person_id``, ``household_id``, ``as_of_date`` of eligible points.
    y : ndarray
        Their labels.
    locality : Series or None
        The home's locality on the date (the audit table's), aligned with ``keys``.
    """
    out = pd.DataFrame(
        {
            "date": keys["as_of_date"].to_numpy(),
            "family": family_of(keys["household_id"], keys["person_id"]),
            "eligible": True,
            "label": np.asarray(y, dtype=np.int64),
        }
    )
    if locality is not None:
        out["locality"] = locality.to_numpy()
    return out


@dataclass(frozen=True)
class Lists:
    """Each model's lists over a window of eligible decision points.

    ``units`` holds one row per family and date (``date``, ``family``, ``label``,
    ``locality``); ``unit_scores`` and ``unit_selected`` are aligned with it, per model;
    ``row_selected`` says, per child row, whether its family was listed.
    """

    units: pd.DataFrame
    unit_scores: dict[str, np.ndarray]
    unit_selected: dict[str, np.ndarray]
    row_selected: dict[str, np.ndarray]


def _units(children: pd.DataFrame) -> pd.DataFrame:
    g = children.groupby(["date", "family"], sort=True)
    units = g.agg(label=("label", "max")).reset_index()
    if "locality" in children.columns:
        units["locality"] = g["locality"].first().to_numpy()
    return units


def _draw(
    children: pd.DataFrame,
    scores: Mapping[str, np.ndarray],
    choose: Callable[[str, pd.DataFrame], np.ndarray],
) -> Lists:
    """Draw each model's lists: ``choose(model, families)`` says which families are on."""
    units = _units(children)
    unit_scores, unit_selected, row_selected = {}, {}, {}
    for model, score in scores.items():
        fam = family_frame(children.assign(score=np.asarray(score, dtype=float)))
        chosen = choose(model, fam)
        lookup = fam.assign(_on=chosen)[["date", "family", "family_score", "_on"]]
        aligned = units[["date", "family"]].merge(lookup, on=["date", "family"], how="left")
        unit_scores[model] = aligned["family_score"].to_numpy(dtype=float)
        unit_selected[model] = aligned["_on"].to_numpy(dtype=bool)
        row_selected[model] = listed_children(children, fam, chosen)
    return Lists(units, unit_scores, unit_selected, row_selected)


def make_lists(
    children: pd.DataFrame,
    scores: Mapping[str, np.ndarray],
    capacity: Capacity,
    thresholds: Mapping[str, float] | None = None,
) -> Lists:
    """Draw every model's lists with :func:`stratify.features.listing.select`."""
    return _draw(
        children,
        scores,
        lambda model, fam: select(
            fam, capacity, threshold=None if thresholds is None else thresholds.get(model)
        ),
    )


def share_thresholds(
    children: pd.DataFrame, scores: Mapping[str, np.ndarray], share: float
) -> dict[str, float]:
    """Return, per model, the family score selecting ``share`` of the slice's families."""
    out = {}
    for model, score in scores.items():
        fam = family_frame(children.assign(score=np.asarray(score, dtype=float)))
        out[model] = threshold_for_share(fam["family_score"].to_numpy(), share)
    return out


def select_share_per_date(
    children: pd.DataFrame, scores: Mapping[str, np.ndarray], share: Mapping[object, float]
) -> Lists:
    """Draw lists taking, on each date, ``share[date]`` of that date's families (rounded up).

    Used where a sample stands for the population (the ground-truth sample): the same
    share of families the deployed list takes of all eligible families that date.
    """

    def choose(_: str, fam: pd.DataFrame) -> np.ndarray:
        size = fam.groupby("date")["family"].transform("size").to_numpy()
        wanted = fam["date"].map(share).fillna(0.0).to_numpy(dtype=float) * size
        return rank_within(fam, ["date"]) <= np.ceil(wanted - 1e-9)

    return _draw(children, scores, choose)


def listed_share(lists: Lists, model: str = "lightgbm") -> dict[object, float]:
    """Return, per date, the share of eligible families the model's list took."""
    on = pd.Series(lists.unit_selected[model]).groupby(lists.units["date"].to_numpy()).mean()
    return {k: float(v) for k, v in on.items()}


def _shown(count: int, min_count: int) -> int | str:
    return SUPPRESSED if 0 < count < min_count else int(count)


def backtest(
    lists: Lists, *, min_count: int, models: tuple[str, ...] = BACKTEST_MODELS
) -> tuple[BacktestRow, ...]:
    """Return, per quarter and model, the listed families and how many reached the outcome.

    A quarter of re-referral closures holds every closure date in it; an escalation
    quarter is one snapshot date.
    """
    units = lists.units
    quarter = quarter_label(pd.Series(units["date"]))
    label = units["label"].to_numpy(dtype=bool)
    rows = []
    for q in sorted(set(quarter)):
        inside = quarter == q
        for model in (m for m in models if m in lists.unit_selected):
            on = lists.unit_selected[model] & inside
            rows.append(
                BacktestRow(
                    quarter=str(q),
                    model=model,
                    listed=_shown(int(on.sum()), min_count),
                    listed_with_outcome=_shown(int((on & label).sum()), min_count),
                    eligible_families=_shown(int(inside.sum()), min_count),
                    families_with_outcome=_shown(int((inside & label).sum()), min_count),
                )
            )
    return tuple(rows)


def wilson(successes: int, n: int) -> tuple[float, float, float] | None:
    """Return the share and its 95 % Wilson interval, or None when ``n`` is 0."""
    if n == 0:
        return None
    ci = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    return (successes / n, float(ci.low), float(ci.high))


def monthly_backtest(
    lists: Lists, *, min_count: int, model: str = "lightgbm"
) -> tuple[MonthRow, ...]:
    """Return, per month of decision dates, the listed and not-listed families' outcomes.

    ``lists`` are the re-referral test window's lists at the operating threshold
    (:func:`make_lists`), so the figures describe what monthly step-down lists would
    have held. A group with fewer than ``min_count`` families or outcomes is suppressed.
    """
    units = lists.units
    frame = pd.DataFrame({
        "month": pd.PeriodIndex(pd.to_datetime(units["date"]), freq="M").astype(str),
        "family": units["family"].to_numpy(),
        "on": lists.unit_selected[model], "label": units["label"].to_numpy(dtype=bool),
    })  # fmt: skip
    fam = frame.groupby(["month", "family"], sort=True)[["on", "label"]].max().reset_index()
    rows = []
    for month, part in fam.groupby("month", sort=True):
        shown: dict[str, tuple[int | str, int | str]] = {}
        rates: dict[str, tuple[float, float, float] | None] = {}
        for name, group in (("listed", part[part["on"]]), ("not_listed", part[~part["on"]])):
            n, k = len(group), int(group["label"].sum())
            hidden = 0 < n < min_count or 0 < k < min_count
            shown[name] = _shown(n, min_count), _shown(k, min_count)
            rates[name] = None if hidden else wilson(k, n)
        rows.append(MonthRow(
            month=str(month), listed=shown["listed"][0], listed_with_outcome=shown["listed"][1],
            not_listed=shown["not_listed"][0], not_listed_with_outcome=shown["not_listed"][1],
            listed_rate=rates["listed"], not_listed_rate=rates["not_listed"],
        ))  # fmt: skip
    return tuple(rows)


def whole_window(lists: Lists, *, min_count: int, model: str = "lightgbm") -> MonthRow:
    """Return the listed and not-listed families' outcomes over the whole test window.

    A family counts once: listed when any of its closures in the window was listed.
    """
    first = lists.units["date"].min()
    single = Lists(lists.units.assign(date=first), lists.unit_scores, lists.unit_selected,
                   lists.row_selected)  # fmt: skip
    (row,) = monthly_backtest(single, min_count=min_count, model=model)
    return MonthRow(**{**row.as_dict(), "month": "whole test window"})
