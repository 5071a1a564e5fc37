"""Realism of a continuation's new months: published figures, allowing for chance.

A continuation adds a few months (:mod:`stratify.features.simulate.continuation`). Its
new months are checked against the published figures of
:mod:`stratify.features.simulate.realism` as one period: flows annualised, stocks on
the new extract date. A quarter of a borough holds a quarter of a year's events, so
chance moves its figures more than a census year's; each figure is judged within ``z``
standard errors of the published range (:func:`~stratify.features.simulate.realism.
standard_error`: Poisson for counts, binomial for shares, with the variance doubled
because referrals come in families), the error of a borough of this size whose true
figures are the published ones; a figure kept on a flat tolerance (``realism.FLAT``)
has that tolerance widened by ``z`` standard errors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd

from stratify.features.simulate.realism import (
    FLAT,
    Z,
    connect,
    period_figures,
    realism_table,
    standard_error,
)


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
    table = realism_table(figures, z)  # the period's own standard errors
    flat = table["key"].isin(FLAT)  # a flat tolerance is widened by chance too
    table.loc[flat, "accepted_low"] = (table["accepted_low"] - z * table["se"]).clip(lower=0.0)
    table.loc[flat, "accepted_high"] = table["accepted_high"] + z * table["se"]
    inside = table["simulated"].between(table["accepted_low"], table["accepted_high"])
    table.loc[flat, "result"] = inside.map({True: "pass", False: "FAIL"})
    table["passed"] = table["result"] != "FAIL"
    return table


__all__ = ["realism_with_chance", "recent_figures", "standard_error"]
