"""Realism of a continuation's new months: published figures, allowing for chance.

A continuation adds a few months (:mod:`stratify.features.simulate.continuation`). Its
new months are checked against the published figures of
:mod:`stratify.features.simulate.realism` as one period: flows annualised, stocks on
the new extract date. A quarter of a borough holds a quarter of a year's events, so
chance moves its figures more than a census year's; each accepted range is widened by
``z`` standard errors of the figure (Poisson for counts, binomial for shares), with the
variance doubled because referrals come in families (siblings are referred together):
the error of a borough of this size whose true figures are the published ones.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from stratify.features.simulate.realism import PUBLISHED, connect, period_figures, realism_table

#: Variance of a figure against independent events': siblings are referred together.
CLUSTERING = 2.0
#: Standard errors by which an accepted range is widened.
Z = 3.0
FLOWS = ("referral_rate", "cp_start_rate", "s47_rate", "icpc_rate")
STOCKS = ("cin_rate", "cp_rate", "lac_rate")
#: share figure (or its prefix) -> the count it is a share of
DENOMINATORS = {
    "rereferral_pct": "n_referrals",
    "nfa_pct": "n_referrals",
    "src_": "n_referrals",
    "not_in_need_pct": "n_closed",
    "f_": "n_assessments",
    "cat_": "n_cp",
}


def recent_figures(tables: Mapping[str, pd.DataFrame], end: dt.date, months: int) -> pd.DataFrame:
    """Figures of the last ``months`` whole months up to ``end`` (a month's last day).

    Returns
    -------
    pandas.DataFrame
        One column (named ``<first day>..<end>``), one row per figure.
    """
    first = (np.datetime64(end, "M") - np.timedelta64(months - 1, "M")).astype(dt.date)
    con = connect(tables)
    return pd.DataFrame({f"{first}..{end}": period_figures(con, end, first)})


def standard_error(key: str, figures: pd.Series) -> float:
    """Return the standard error of figure ``key`` by chance alone, clustering included.

    It is the error of a borough whose true figure is the published one (the middle of
    its range), with this period's number of children, referrals, closures,
    assessments or children on a plan.
    """
    published = next(f for f in PUBLISHED if f.key == key)
    value = (published.low + published.high) / 2
    if key in FLOWS or key in STOCKS:
        annual = float(figures["annualised"]) if key in FLOWS else 1.0
        var = value * 10_000 * annual / max(float(figures["children"]), 1.0)
    else:
        denominator = next(n for k, n in DENOMINATORS.items() if key.startswith(k))
        var = value * (100 - value) / max(float(figures[denominator]), 1.0)
    return math.sqrt(CLUSTERING * var)


def realism_with_chance(figures: pd.DataFrame, z: float = Z) -> pd.DataFrame:
    """:func:`~stratify.features.simulate.realism.realism_table` with ranges widened by chance.

    Parameters
    ----------
    figures : pandas.DataFrame
        One column of figures, from :func:`recent_figures`.
    z : float
        Standard errors added on each side of every accepted range.

    Returns
    -------
    pandas.DataFrame
        As :func:`~stratify.features.simulate.realism.realism_table`.
    """
    table = realism_table(figures)
    column = figures.iloc[:, 0]
    se = table["key"].map(lambda key: standard_error(key, column))
    table["accepted_low"] = (table["accepted_low"] - z * se).clip(lower=0.0)
    table["accepted_high"] = table["accepted_high"] + z * se
    table["passed"] = table["simulated"].between(table["accepted_low"], table["accepted_high"])
    return table
