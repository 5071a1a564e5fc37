"""Realism of what the mechanisms produce: the social gradient, repeat plans, durations, ethnicity.

These figures check *why* the borough looks as it does (see
``features/data/simulator_mechanisms.md``), pooled over the last three census years.
Each is judged against sampling error at the borough's size, not a flat percentage:
the simulated figure's standard error (binomial for shares, Poisson for rates and
rate ratios, its variance doubled because children come in families) gives a 95 % CI
that the report prints, and the figure passes when the published range lies within
``Z`` standard errors of it. A figure whose 95 % CI is wider than ``TOO_SMALL`` times
its published value cannot be judged at this size and is reported as such.

``TUNED`` names the figures the parameters were tuned to (see
``features/data/simulator_calibration.md``); the others are held out as a check.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stratify.features.simulate.realism import connect

#: Variance against independent events: siblings share plans and care.
CLUSTERING = 2.0
#: Standard errors within which the published range must lie.
Z = 3.0
#: A figure whose 95 % CI is wider than this multiple of its published value cannot be judged.
TOO_SMALL = 1.0
DURATION_BINS = ("<=3m", "3-6m", "6-12m", "1-2y", "2y+")
#: days at the upper edge of each duration band (the last is open)
_EDGES = (91, 182, 365, 730)
GROUPS = ("Mixed", "Asian", "Black")
ETHNIC_PREFIX = {"W": "White", "M": "Mixed", "A": "Asian", "C": "Other", "B": "Black", "O": "Other"}


@dataclass(frozen=True)
class Target:
    """A published figure of a mechanism, with its source."""

    key: str
    label: str
    low: float
    high: float
    source: str


_DFE = "DfE Characteristics of children in need 2024"
_CWIP = "Bywaters et al. 2020, Child Welfare Inequalities Project final report"
TARGETS: tuple[Target, ...] = (
    Target("gradient_cp", "CP at 31 March, decile 1 / decile 10 (x)", 10, 14, _CWIP),
    Target("gradient_lac", "looked after at 31 March, decile 1 / decile 10 (x)", 9, 12, _CWIP),
    Target("repeat_cp_pct", "CP plans started: second or subsequent (%)", 22, 25, _DFE + " (24.7)"),
    *(
        Target(f"cp_open_{b}", f"CP open at 31 March for {b} (%)", v, v, _DFE + " table D5")
        for b, v in zip(DURATION_BINS, (29.7, 24.7, 27.1, 16.0, 2.6), strict=True)
    ),
    *(
        Target(f"cp_ended_{b}", f"CP ended in the year after {b} (%)", v, v, "DfE 2025 table D7")
        for b, v in zip(DURATION_BINS, (15.9, 11.0, 43.5, 25.2, 4.4), strict=True)
    ),
    # relative rates against White children: DfE CIN census by ethnicity (2023-24) and
    # CWIP (Bywaters et al. 2017, "Out of sight, out of mind"), approximate ranges
    Target("eth_cin_Black", "children in need, Black / White (x)", 1.3, 1.9, _DFE),
    Target("eth_cin_Mixed", "children in need, Mixed / White (x)", 1.2, 1.8, _DFE),
    Target("eth_cin_Asian", "children in need, Asian / White (x)", 0.4, 0.75, _DFE),
    Target("eth_cp_Mixed", "CP at 31 March, Mixed / White (x)", 1.2, 1.9, _DFE),
    Target("eth_cp_Asian", "CP at 31 March, Asian / White (x)", 0.3, 0.7, _DFE),
    Target("eth_lac_Black", "looked after, Black / White (x)", 1.2, 2.0, "DfE CLA 2024; " + _CWIP),
    Target("eth_lac_Asian", "looked after, Asian / White (x)", 0.3, 0.7, "DfE CLA 2024; " + _CWIP),
)
#: figures the parameters were tuned to; the rest are a check held out of tuning. The
#: children-in-need ratios joined the set after the first held-out run found Asian
#: children's rate too high (0.8-1.0 x White): ``ethnic_support`` and ``ethnic_bias`` for
#: Asian families were then tuned to them; CP and care ratios stay held out.
TUNED = frozenset(
    {
        "gradient_cp",
        "repeat_cp_pct",
        *(f"cp_ended_{b}" for b in DURATION_BINS),
        *(f"eth_cin_{g}" for g in GROUPS),
    }
)

_STOCK_BY = """
WITH kids AS (
  SELECT DISTINCT m.person_id, p.imd_decile, p.ethnicity FROM household_members m
  JOIN persons p USING (person_id)
  WHERE m.role = 'child' AND m.start_date <= $d AND (m.end_date IS NULL OR m.end_date >= $d)
    AND p.birth_date <= $d AND p.birth_date > $d - INTERVAL 18 YEAR),
cin AS (SELECT DISTINCT person_id FROM referrals
  WHERE referral_date <= $d AND (closure_date IS NULL OR closure_date > $d)),
cp AS (SELECT DISTINCT person_id FROM cp_plans
  WHERE start_date <= $d AND (end_date IS NULL OR end_date > $d)),
lac AS (SELECT DISTINCT person_id FROM looked_after
  WHERE start_date <= $d AND (end_date IS NULL OR end_date > $d))
SELECT k.imd_decile AS decile, k.ethnicity, count(*) AS children,
  count(cin.person_id) AS cin, count(cp.person_id) AS cp, count(lac.person_id) AS lac
FROM kids k LEFT JOIN cin USING (person_id) LEFT JOIN cp USING (person_id)
  LEFT JOIN lac USING (person_id) GROUP BY 1, 2
"""
_REPEAT = """
SELECT count(*) AS n, count(*) FILTER (WHERE EXISTS (
  SELECT 1 FROM cp_plans q WHERE q.person_id = c.person_id AND q.start_date < c.start_date))
  AS repeats
FROM cp_plans c WHERE c.start_date BETWEEN $y0 AND $d
"""
_OPEN = (
    "SELECT date_diff('day', start_date, $d) AS days FROM cp_plans"
    " WHERE start_date <= $d AND (end_date IS NULL OR end_date > $d)"
)
_ENDED = (
    "SELECT date_diff('day', start_date, end_date) AS days FROM cp_plans"
    " WHERE end_date BETWEEN $y0 AND $d"
)


def duration_counts(days: np.ndarray) -> np.ndarray:
    """Count plan lengths in days into the DfE bands (``DURATION_BINS``)."""
    band = np.searchsorted(np.asarray(_EDGES), np.asarray(days), side="left")
    return np.bincount(band, minlength=len(DURATION_BINS))


def gradient(rates: pd.DataFrame, col: str) -> tuple[float, float]:
    """Decile-1 / decile-10 rate ratio of a log-linear Poisson fit, and its standard error.

    The fit (rate = exp(a + b x decile), by iteratively reweighted least squares) uses
    every decile, so its ratio exp(-9 b) is far steadier than the two end deciles'
    counts; the error is the fit's, times ``sqrt(CLUSTERING)``, by the delta method.
    """
    x = rates.index.to_numpy(float)
    y = rates[col].to_numpy(float)
    if y.sum() == 0 or (y > 0).sum() < 2:  # no slope to fit from one decile or none
        return math.nan, math.nan
    off = np.log(rates["children"].to_numpy(float))
    design = np.column_stack([np.ones_like(x), x])
    beta = np.array([math.log(max(y.sum(), 0.5) / np.exp(off).sum()), 0.0])
    for _ in range(50):
        mu = np.exp(design @ beta + off)
        step = np.linalg.solve(design.T @ (design * mu[:, None]), design.T @ (y - mu))
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    mu = np.exp(design @ beta + off)
    cov = np.linalg.inv(design.T @ (design * mu[:, None])) * CLUSTERING
    ratio = math.exp(-9 * beta[1])
    return ratio, ratio * 9 * math.sqrt(cov[1, 1])


def _ratio(stock: pd.DataFrame, col: str, group: str) -> tuple[float, float]:
    """Rate ratio of ``group`` against White children, and its standard error (delta method)."""
    g = stock.groupby("group")[[col, "children"]].sum()
    counts = dict(zip(g.index, g.to_numpy(float), strict=True))
    a, na = counts.get(group, (0.0, 1.0))
    b, nb = counts["White"]
    if a == 0 or b == 0:
        return math.nan, math.nan
    ratio = (a / na) / (b / nb)
    return ratio, ratio * math.sqrt(CLUSTERING * (1 / a + 1 / b))


def _share(k: float, n: float) -> tuple[float, float]:
    p = k / n if n else math.nan
    return 100 * p, 100 * math.sqrt(CLUSTERING * p * (1 - p) / n) if n else math.nan


def mechanism_figures(
    tables: Mapping[str, pd.DataFrame], end_date: dt.date, years: int = 3
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Figures of the mechanisms, pooled over the last ``years`` census years.

    Returns
    -------
    tuple of pandas.DataFrame
        The figures (index key; columns value, se) and the rates per 10,000 children by
        IMD decile (index decile; columns children, cp, lac, cp_rate, lac_rate).
    """
    con = connect(tables)
    stock, repeat = [], np.zeros(2)
    opened, ended = np.zeros(len(DURATION_BINS)), np.zeros(len(DURATION_BINS))
    for k in range(years):
        d = end_date.replace(year=end_date.year - k)
        prm = {"d": d, "y0": d.replace(year=d.year - 1) + dt.timedelta(days=1)}
        stock.append(con.execute(_STOCK_BY, {"d": d}).fetchdf())
        repeat += np.asarray(con.execute(_REPEAT, prm).fetchone(), float)
        opened += duration_counts(np.asarray(con.execute(_OPEN, {"d": d}).fetchnumpy()["days"]))
        ended += duration_counts(np.asarray(con.execute(_ENDED, prm).fetchnumpy()["days"]))
    all_stock = pd.concat(stock)
    all_stock["group"] = all_stock["ethnicity"].str[0].map(ETHNIC_PREFIX)
    deciles = all_stock.groupby("decile")[["children", "cin", "cp", "lac"]].sum()
    deciles = deciles.reindex(range(1, 11), fill_value=0)
    for col in ("cp", "lac"):
        deciles[f"{col}_rate"] = 10_000 * deciles[col] / deciles["children"].clip(lower=1)
    out: dict[str, tuple[float, float]] = {
        "gradient_cp": gradient(deciles[deciles["children"] > 0], "cp"),
        "gradient_lac": gradient(deciles[deciles["children"] > 0], "lac"),
        "repeat_cp_pct": _share(repeat[1], repeat[0]),
    }
    for i, b in enumerate(DURATION_BINS):
        out[f"cp_open_{b}"] = _share(opened[i], opened.sum())
        out[f"cp_ended_{b}"] = _share(ended[i], ended.sum())
    for t in TARGETS:
        if t.key.startswith("eth_"):
            _, col, group = t.key.split("_")
            out[t.key] = _ratio(all_stock, col, group)
    figures = pd.DataFrame.from_dict(out, orient="index", columns=["value", "se"])
    return figures, deciles


def mechanism_table(figures: pd.DataFrame, z: float = Z) -> pd.DataFrame:
    """Judge each mechanism figure against its published range, allowing for chance.

    Returns
    -------
    pandas.DataFrame
        Columns: key, figure, simulated, ci_low, ci_high, published, tuned, result
        (``pass``, ``FAIL`` or ``too small to judge``), source.
    """
    rows = []
    for t in TARGETS:
        value, se = figures.loc[t.key, ["value", "se"]].to_numpy(float)
        half = 1.96 * se
        if math.isnan(value) or half > TOO_SMALL * t.high:
            result = "too small to judge"
        elif value + z * se >= t.low and value - z * se <= t.high:
            result = "pass"
        else:
            result = "FAIL"
        rows.append(
            dict(
                key=t.key,
                figure=t.label,
                simulated=value,
                ci_low=max(value - half, 0.0),
                ci_high=value + half,
                published=f"{t.low:g}" if t.low == t.high else f"{t.low:g}-{t.high:g}",
                tuned=t.key in TUNED,
                result=result,
                source=t.source,
            )
        )
    return pd.DataFrame(rows)


def plot_deciles(deciles: pd.DataFrame, path: Path) -> None:
    """Draw the CP and looked-after rates by IMD decile (log scale) to ``path`` (PNG/SVG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for col, label in (("cp_rate", "child protection plan"), ("lac_rate", "looked after")):
        ax.plot(deciles.index, deciles[col].clip(lower=0.5), marker="o", label=label)
    ax.set_yscale("log")
    ax.set_xticks(range(1, 11))
    ax.set_xlabel("IMD decile of the child's area (1 = most deprived)")
    ax.set_ylabel("per 10,000 children at 31 March")
    ax.set_title("The social gradient (mean of three census dates)")
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
