"""Drift between the champion's training data and a new extract: the retraining report's section.

Pure functions of frames; the caller chooses the rows (the reference is the champion's
training decision points, the current the new extract's latest decision points):

- :func:`psi`: the population stability index of one variable;
- :func:`feature_drift`: the PSI of each model feature, its level and each side's mean
  (or top category), largest shift first;
- :func:`score_drift`: the PSI of the model's score;
- :func:`cohort_by_locality` and :func:`base_rate_by_quarter`: where the decision points
  are and how often the outcome followed;
- :func:`drift_report`: all of them in one :class:`DriftReport` (``as_dict`` for JSON).

The PSI of a variable is ``sum over bins of (a - e) ln(a / e)``, where ``e`` and ``a``
are the shares of the reference (expected) and current (actual) samples in the bin.
Bins of a numeric variable are cut at the reference's quantiles (deduplicated: a count
that is mostly zero gets fewer bins); a variable with at most ``bins`` distinct values in
the reference gets one bin per value instead, plus one below and one above the
reference's range. Bins are intervals closed on the left, the first and last
open-ended: beyond the reference's range, a current value of a quantile-binned variable
lands in the end bins. Strings and booleans get one bin per category, including categories seen only
in the current sample. Missing values are a bin of their own in both cases. Each share
is floored at :data:`EPSILON`, so a bin empty on one side adds a large but finite term
instead of infinity (and a bin empty on both sides adds nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from scipy.stats import binomtest

from stratify.features.catalogue import FEATURE_BY_NAME
from stratify.features.config import DriftConfig
from stratify.training.data import quarter_label

#: The floor of a bin's share: an empty bin counts as 1 in 10,000 (an empty bin against
#: a share ``a`` adds about ``a ln(a / 1e-4)``: 0.46 for ``a`` = 0.05).
EPSILON = 1e-4
Level = Literal["stable", "moderate", "major"]
#: A sample: a Series, an array or a list.
Values = pd.Series | np.ndarray | ExtensionArray | Sequence[Any]
#: The locality of decision points whose home is unknown.
UNKNOWN_LOCALITY = "(unknown)"
#: The group of a compared column the catalogue does not declare (a protected column
#: a config adds as a model input).
NOT_IN_CATALOGUE = "not in the catalogue"

ERR_EMPTY = "psi needs values on both sides (expected: {e}, actual: {a})"
ERR_COLUMN = "the {side} frame has no column {column!r}"
ERR_LENGTH = "keys have {keys} rows but labels {labels}"

FEATURE_COLUMNS = ["feature", "description", "group", "psi", "level", "reference", "current"]


def _is_numeric(values: pd.Series) -> bool:
    return is_numeric_dtype(values.dtype) and not is_bool_dtype(values.dtype)


def _numeric_codes(
    expected: np.ndarray, actual: np.ndarray, bins: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Return each sample's bin codes and the number of bins (missing values: the last)."""
    known = np.sort(expected[~np.isnan(expected)])
    distinct = known[np.r_[True, known[1:] != known[:-1]]] if len(known) else known
    if not len(distinct):
        cuts = distinct
    elif len(distinct) <= bins:
        # One bin per value, and one each below and above the reference's range: a
        # variable constant in the reference still shows a change.
        cuts = np.r_[distinct, np.nextafter(distinct[-1], np.inf)]
    else:
        cuts = np.unique(np.quantile(known, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    n_bins = len(cuts) + 2

    def code(values: np.ndarray) -> np.ndarray:
        codes = np.searchsorted(cuts, values, side="right")
        codes[np.isnan(values)] = n_bins - 1
        return codes

    return code(expected), code(actual), n_bins


def _category_codes(expected: pd.Series, actual: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Return each sample's category codes and the number of bins (missing: the last)."""
    both = pd.concat([expected, actual], ignore_index=True)
    codes, categories = pd.factorize(both, use_na_sentinel=True)
    n_bins = len(categories) + 1
    codes = np.where(codes < 0, n_bins - 1, codes)
    return codes[: len(expected)], codes[len(expected) :], n_bins


def _shares(codes: np.ndarray, n_bins: int) -> np.ndarray:
    return np.maximum(np.bincount(codes, minlength=n_bins) / len(codes), EPSILON)


def psi(expected: Values, actual: Values, *, bins: int = 10) -> float:
    """Return the population stability index of ``actual`` against ``expected``.

    Parameters
    ----------
    expected : array-like or Series
        The reference sample; its quantiles cut a numeric variable's bins.
    actual : array-like or Series
        The current sample.
    bins : int
        Quantile bins of a numeric variable (one per value when it has no more distinct
        values than this). Ignored for strings and booleans.

    Returns
    -------
    float
        ``sum (a - e) ln(a / e)`` over the bins (see the module docstring); 0 when both
        samples have the same shares.

    Raises
    ------
    ValueError
        If either sample is empty.

    Examples
    --------
    Shares 0.5 / 0.5 against 0.7 / 0.3: 0.2 ln(1.4) - 0.2 ln(0.6) = 0.1695.

    >>> round(psi(["a"] * 5 + ["b"] * 5, ["a"] * 7 + ["b"] * 3), 4)
    0.1695
    """
    e, a = pd.Series(expected), pd.Series(actual)
    if e.empty or a.empty:
        raise ValueError(ERR_EMPTY.format(e=len(e), a=len(a)))
    if _is_numeric(e) and _is_numeric(a):
        codes_e, codes_a, n_bins = _numeric_codes(
            e.to_numpy(dtype=float, na_value=np.nan), a.to_numpy(dtype=float, na_value=np.nan), bins
        )
    else:
        codes_e, codes_a, n_bins = _category_codes(e, a)
    share_e, share_a = _shares(codes_e, n_bins), _shares(codes_a, n_bins)
    return float(np.sum((share_a - share_e) * np.log(share_a / share_e)))


def drift_level(value: float, thresholds: DriftConfig) -> Level:
    """Return "stable" below ``psi_moderate``, "moderate" below ``psi_major``, else "major"."""
    if value < thresholds.psi_moderate:
        return "stable"
    return "moderate" if value < thresholds.psi_major else "major"


def _summary(values: pd.Series) -> float | str | None:
    """Return the mean (the share true for booleans), or the most common category."""
    if _is_numeric(values) or is_bool_dtype(values.dtype):
        return float(values.astype(float).mean())
    top = values.value_counts(dropna=True)
    return str(top.index[0]) if len(top) else None


def _require(frame: pd.DataFrame, columns: Sequence[str], side: str) -> None:
    for column in columns:
        if column not in frame.columns:
            raise ValueError(ERR_COLUMN.format(side=side, column=column))


def feature_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str],
    thresholds: DriftConfig,
) -> pd.DataFrame:
    """Return the PSI of each feature, largest first.

    Parameters
    ----------
    reference, current : DataFrame
        The champion's training decision points and the new extract's.
    features : sequence of str
        The columns to compare (catalogue features; any other column is described as
        :data:`NOT_IN_CATALOGUE`).
    thresholds : DriftConfig
        The PSI levels and the number of bins.

    Returns
    -------
    DataFrame
        One row per feature: ``feature``, ``description`` and ``group`` (from the
        catalogue), ``psi``, ``level`` (:func:`drift_level`), and ``reference`` and
        ``current``: the side's mean over non-missing values (the share true for a
        boolean), or its most common category for a categorical feature. Sorted by
        ``psi`` descending (ties in the given order).

    Raises
    ------
    ValueError
        If either frame lacks a feature.
    """
    _require(reference, features, "reference")
    _require(current, features, "current")
    rows = []
    for name in features:
        declared = FEATURE_BY_NAME.get(name)
        value = psi(reference[name], current[name], bins=thresholds.bins)
        rows.append(
            {
                "feature": name,
                "description": declared.description if declared else NOT_IN_CATALOGUE,
                "group": declared.group if declared else NOT_IN_CATALOGUE,
                "psi": value,
                "level": drift_level(value, thresholds),
                "reference": _summary(reference[name]),
                "current": _summary(current[name]),
            }
        )
    table = pd.DataFrame(rows, columns=FEATURE_COLUMNS)
    return table.sort_values("psi", ascending=False, kind="stable", ignore_index=True)


@dataclass(frozen=True)
class ScoreDrift:
    """The shift in the model's score: its PSI and level, and the mean score each side."""

    psi: float
    level: Level
    reference_mean: float
    current_mean: float


def score_drift(
    reference_scores: Values,
    current_scores: Values,
    thresholds: DriftConfig,
) -> ScoreDrift:
    """Return the PSI of the current scores against the reference scores, with its level.

    Parameters
    ----------
    reference_scores, current_scores : array-like of float
        The champion's scores of the reference and of the current decision points.
    thresholds : DriftConfig
        The PSI levels and the number of (reference-quantile) bins.

    Returns
    -------
    ScoreDrift
    """
    ref = np.asarray(reference_scores, dtype=float)
    cur = np.asarray(current_scores, dtype=float)
    value = psi(ref, cur, bins=thresholds.bins)
    return ScoreDrift(
        psi=value,
        level=drift_level(value, thresholds),
        reference_mean=float(np.nanmean(ref)),
        current_mean=float(np.nanmean(cur)),
    )


def _locality_counts(audit: pd.DataFrame) -> pd.Series:
    return audit["locality"].astype(object).fillna(UNKNOWN_LOCALITY).value_counts()


def cohort_by_locality(reference_audit: pd.DataFrame, current_audit: pd.DataFrame) -> pd.DataFrame:
    """Return the decision points per locality on each side, and the change in its share.

    Parameters
    ----------
    reference_audit, current_audit : DataFrame
        Audit tables with a ``locality`` column (missing: :data:`UNKNOWN_LOCALITY`).

    Returns
    -------
    DataFrame
        One row per locality (alphabetical, unknown last): ``reference`` and ``current``
        (rows), ``reference_share`` and ``current_share`` (of the side's rows), and
        ``change_pct``: the relative change in the locality's share, in % (a share of
        20 % becoming 25 % is +25 %). Shares rather than counts are compared because the
        reference spans several years and the current one quarter.
    """
    _require(reference_audit, ["locality"], "reference audit")
    _require(current_audit, ["locality"], "current audit")
    counts = pd.DataFrame(
        {"reference": _locality_counts(reference_audit), "current": _locality_counts(current_audit)}
    )
    counts = counts.fillna(0).astype(int)
    order = sorted(counts.index, key=lambda name: (name == UNKNOWN_LOCALITY, name))
    table = counts.loc[order].rename_axis("locality").reset_index()
    for side in ("reference", "current"):
        table[f"{side}_share"] = table[side] / table[side].sum() if table[side].sum() else np.nan
    table["change_pct"] = 100 * (table["current_share"] / table["reference_share"] - 1)
    table.loc[table["reference"] == 0, "change_pct"] = np.nan
    return table[
        ["locality", "reference", "current", "reference_share", "current_share", "change_pct"]
    ]


def base_rate_by_quarter(keys: pd.DataFrame, labels: Values) -> pd.DataFrame:
    """Return positives, labelled rows and the base rate per quarter of ``as_of_date``.

    Parameters
    ----------
    keys : DataFrame
        Decision points with an ``as_of_date`` column.
    labels : array-like
        1, 0, or missing (NaN / NA: the label window is not complete); aligned with
        ``keys``. Unlabelled rows are left out, and so is a quarter with none labelled.

    Returns
    -------
    DataFrame
        ``quarter`` (``YYYYQn``, ascending), ``positives``, ``rows``, ``base_rate``.
    """
    _require(keys, ["as_of_date"], "keys")
    y = pd.Series(labels).to_numpy(dtype=float, na_value=np.nan)
    if len(y) != len(keys):
        raise ValueError(ERR_LENGTH.format(keys=len(keys), labels=len(y)))
    # Few distinct dates: label each once.
    codes, dates = pd.factorize(keys["as_of_date"])
    labelled = ~np.isnan(y) & (codes >= 0)
    quarters = quarter_label(pd.Series(dates)) if len(dates) else np.array([], dtype=object)
    frame = pd.DataFrame({"quarter": quarters[codes[labelled]], "label": y[labelled]})
    table = frame.groupby("quarter", sort=True)["label"].agg(positives="sum", rows="size")
    table["positives"] = table["positives"].astype(int)
    table["base_rate"] = table["positives"] / table["rows"]
    return table.reset_index()


@dataclass(frozen=True)
class Flagged:
    """What the report flags: the features at "major" (largest first) and the score's level."""

    features: tuple[str, ...]
    score: Level


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the rows as JSON-ready dicts (missing values as None)."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return [{str(k): v for k, v in row.items()} for row in rows]


@dataclass(frozen=True)
class DriftReport:
    """The drift section of the retraining report.

    Attributes
    ----------
    features : DataFrame
        :func:`feature_drift`.
    score : ScoreDrift
        :func:`score_drift`.
    localities : DataFrame
        :func:`cohort_by_locality`.
    base_rates : DataFrame
        :func:`base_rate_by_quarter` of each side, with a first column ``side``
        ("reference" or "current").
    thresholds : DriftConfig
        The levels and bins used.
    reference_rows, current_rows : int
        The decision points compared.
    """

    features: pd.DataFrame
    score: ScoreDrift
    localities: pd.DataFrame
    base_rates: pd.DataFrame
    thresholds: DriftConfig
    reference_rows: int
    current_rows: int

    @property
    def flagged(self) -> Flagged:
        """Return the features at "major" and the score's level."""
        major = self.features.loc[self.features["level"] == "major", "feature"]
        return Flagged(features=tuple(major), score=self.score.level)

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready fields (missing values as None)."""
        flagged = self.flagged
        return {
            "thresholds": self.thresholds.model_dump(),
            "rows": {"reference": self.reference_rows, "current": self.current_rows},
            "flagged": {"features": list(flagged.features), "score": flagged.score},
            "score": asdict(self.score),
            "features": _records(self.features),
            "localities": _records(self.localities),
            "base_rates": _records(self.base_rates),
        }


def drift_report(
    reference_features: pd.DataFrame,
    current_features: pd.DataFrame,
    *,
    reference_audit: pd.DataFrame,
    current_audit: pd.DataFrame,
    reference_scores: Values,
    current_scores: Values,
    features: Sequence[str],
    thresholds: DriftConfig,
) -> DriftReport:
    """Compare the champion's training decision points with the new extract's.

    Parameters
    ----------
    reference_features, current_features : DataFrame
        Rows of the build's feature tables (``features.parquet``: ``as_of_date``,
        ``label`` and the catalogue features), chosen by the caller.
    reference_audit, current_audit : DataFrame
        The matching rows of the audit tables (``audit.parquet``; ``locality`` is used).
    reference_scores, current_scores : array-like of float
        The champion's scores of each side's decision points.
    features : sequence of str
        The feature columns to compare (the champion's inputs).
    thresholds : DriftConfig
        ``config.drift``.

    Returns
    -------
    DriftReport
    """
    _require(reference_features, ["label"], "reference")
    _require(current_features, ["label"], "current")
    base_rates = pd.concat(
        [
            base_rate_by_quarter(frame, frame["label"]).assign(side=side)
            for side, frame in (("reference", reference_features), ("current", current_features))
        ],
        ignore_index=True,
    )
    return DriftReport(
        features=feature_drift(reference_features, current_features, features, thresholds),
        score=score_drift(reference_scores, current_scores, thresholds),
        localities=cohort_by_locality(reference_audit, current_audit),
        base_rates=base_rates[["side", "quarter", "positives", "rows", "base_rate"]],
        thresholds=thresholds,
        reference_rows=len(reference_features),
        current_rows=len(current_features),
    )


SOURCE_COLUMNS = ("group", "reference_per_month", "current_per_month", "ratio", "p_value", "level")
#: Below this p-value a change in a source's referral rate is not put down to chance.
P_MAJOR = 0.01


def source_drift(
    reference: Mapping[str, int],
    current: Mapping[str, int],
    *,
    reference_months: float,
    current_months: float,
    thresholds: DriftConfig,
) -> pd.DataFrame:
    """Return referrals per month by source group on each side, and which changed.

    A group's change is "major" when its rate ratio (current per month over reference
    per month) is beyond ``thresholds.rate_ratio_major`` (or its inverse) and a two-sided
    exact test of the current side's share of the group's referrals, given the months
    on each side, gives p < :data:`P_MAJOR`; "moderate" when only the ratio is beyond;
    "stable" otherwise. Sorted by p-value.
    """
    rows = []
    share = current_months / (current_months + reference_months)
    limit = thresholds.rate_ratio_major
    for group in sorted(set(reference) | set(current)):
        ref, cur = int(reference.get(group, 0)), int(current.get(group, 0))
        ref_rate, cur_rate = ref / reference_months, cur / current_months
        ratio = cur_rate / ref_rate if ref_rate else np.inf if cur_rate else np.nan
        p = float(binomtest(cur, ref + cur, share).pvalue) if ref + cur else 1.0
        beyond = bool(np.isfinite(ratio) and (ratio >= limit or ratio <= 1 / limit)) or (
            ratio == np.inf
        )
        level = "major" if beyond and p < P_MAJOR else "moderate" if beyond else "stable"
        rows.append((group, ref_rate, cur_rate, ratio, p, level))
    table = pd.DataFrame(rows, columns=SOURCE_COLUMNS)
    return table.sort_values("p_value", kind="stable", ignore_index=True)
