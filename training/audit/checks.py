"""The working group's fairness bar, checked group by group.

For every dimension the policy names and every group other than the reference: the
ratio of the group's recall at capacity to the reference group's (the headline measure
for an assistive intervention with limited capacity) and the selection rate ratio must
lie within the policy's limits. Every group, the reference included, must also be
calibrated: observed positives over the sum of its predicted probabilities
(observed/expected) within the policy's limits. A check is not met when its point
estimate lies outside its limits; its family-bootstrap 95 % interval is reported beside
it. A check whose figures are suppressed or undefined (no positives selected in the
reference group, say) is *not assessable*, never silently passed; the overall verdict
is "met" only while every check of the policy's required dimensions could be assessed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from stratify.core.text import SUPPRESSED
from stratify.training.audit.suppress import Cell
from stratify.training.policy import FairnessBar, Outcome, RatioLimits

#: Policy key -> the criterion's words, in the order the checks are listed.
CRITERIA = {
    "recall_ratio": "recall at capacity ratio",
    "selection_rate_ratio": "selection rate ratio",
    "calibration_ratio": "calibration (observed/expected)",
}
#: Comparisons with the reference group: policy key -> metric of the disparity table.
COMPARISONS = {"recall_ratio": "recall", "selection_rate_ratio": "selection_rate"}
#: The per-group calibration check reads this column of the group table.
CALIBRATION = "observed_expected"
NOTE_SUPPRESSED = "too few people or positives to report"
NOTE_REFERENCE = "the reference group is suppressed"
NOTE_UNDEFINED = "undefined (a rate of zero or no people to compare)"
NOTE_NOT_AUDITED = "dimension not audited"


@dataclass(frozen=True)
class Check:
    """One fairness criterion for one group (against its reference, for ratios)."""

    dimension: str
    group: str
    reference: str
    criterion: str
    limit: str
    value: float | str
    low: float | str
    high: float | str
    outcome: Outcome
    note: str = ""
    #: Whether the dimension must be assessable for the bar to be met.
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Return the check as a JSON-ready mapping (NaN as None)."""
        return {k: _plain(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class FairnessVerdict:
    """The overall fairness outcome and how many checks had each outcome.

    ``required_not_assessable`` counts the not assessable checks of required
    dimensions: while it is above zero the overall outcome cannot be "met".
    """

    overall: Outcome
    met: int
    not_met: int
    not_assessable: int
    required_not_assessable: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the verdict as a JSON-ready mapping."""
        return asdict(self)


def _plain(v: object) -> object:
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def _limits(lim: RatioLimits) -> str:
    return f"between {lim.low:g} and {lim.high:g}"


def _judged(base: dict[str, Any], value: float, low: float, high: float, lim: RatioLimits) -> Check:
    """Return the check of a point estimate against ``lim`` (undefined: not assessable)."""
    if not np.isfinite(value):
        outcome: Outcome = "not assessable"
        note = NOTE_UNDEFINED
    else:
        outcome, note = ("met" if lim.contains(value) else "not met"), ""
    return Check(**base, value=value, low=low, high=high, outcome=outcome, note=note)


def _ratio_check(row: pd.Series | None, base: dict[str, Any], name: str, bar: FairnessBar) -> Check:
    lim: RatioLimits = getattr(bar, name)
    base = base | {"criterion": CRITERIA[name], "limit": _limits(lim)}
    if row is None:
        return _judged(base, np.nan, np.nan, np.nan, lim)
    return _judged(
        base, float(row["ratio"]), float(row["ratio_low"]), float(row["ratio_high"]), lim
    )


def _calibration_check(row: pd.Series, base: dict[str, Any], bar: FairnessBar) -> Check:
    lim = bar.calibration_ratio
    base = base | {  # an absolute check: no group to compare with
        "reference": "",
        "criterion": CRITERIA["calibration_ratio"],
        "limit": _limits(lim),
    }
    low, high = float(row[f"{CALIBRATION}_low"]), float(row[f"{CALIBRATION}_high"])
    return _judged(base, float(row[CALIBRATION]), low, high, lim)


def _blocked(base: dict[str, Any], note: str, bar: FairnessBar) -> list[Check]:
    return [
        Check(
            **base,
            criterion=words,
            limit=_limits(getattr(bar, name)),
            value=SUPPRESSED,
            low=SUPPRESSED,
            high=SUPPRESSED,
            outcome="not assessable",
            note=note,
        )
        for name, words in CRITERIA.items()
    ]


def _comparison(disparities: pd.DataFrame, base: dict[str, Any], versus: str) -> pd.DataFrame:
    """Return the disparity rows of one group against its reference (or overall)."""
    d = disparities
    keep = (d["dimension"] == base["dimension"]) & (d["group"] == base["group"])
    return d[keep & (d["versus"] == versus)]


def _group_checks(
    row: pd.Series, base: dict[str, Any], mine: pd.DataFrame | None, bar: FairnessBar
) -> list[Check]:
    """Return a shown group's ratio checks (none for the reference), then calibration."""
    checks = []
    if mine is not None:
        for name, metric in COMPARISONS.items():
            found = mine[mine["metric"] == metric]
            checks.append(_ratio_check(found.iloc[0] if len(found) else None, base, name, bar))
    return [*checks, _calibration_check(row, base, bar)]


def _dimension_checks(
    dim: str,
    groups: pd.DataFrame,
    disparities: pd.DataFrame,
    *,
    ref: int,
    hidden: frozenset[Cell],
    bar: FairnessBar,
) -> list[Check]:
    versus = "overall" if ref == 0 else "reference"
    checks: list[Check] = []
    for i, row in groups[groups["dimension"] == dim].iterrows():
        base = {
            "dimension": dim,
            "group": str(row["group"]),
            "reference": str(groups.at[ref, "group"]),
            "required": dim in bar.required,
        }
        if (dim, base["group"]) in hidden:
            checks += _blocked(base, NOTE_SUPPRESSED, bar)
            continue
        # the reference's own calibration is checked too: it is no comparison
        mine = None if i == ref else _comparison(disparities, base, versus)
        checks += _group_checks(row, base, mine, bar)
    return checks


def fairness_checks(
    groups: pd.DataFrame,
    disparities: pd.DataFrame,
    refs: dict[str, int],
    hidden: frozenset[Cell],
    bar: FairnessBar,
) -> tuple[Check, ...]:
    """Return every check of ``bar`` for every group of the dimensions it names.

    Ratios are checked for every group but the reference; calibration (observed over
    expected), being no comparison, for the reference group as well.

    Parameters
    ----------
    groups, disparities : DataFrame
        The unsuppressed group and disparity tables (figures of hidden cells are
        withheld here, in the checks themselves).
    refs : dict of str to int
        Each dimension's reference cell (row of ``groups``).
    hidden : frozenset of (str, str)
        Cells whose figures are withheld.
    bar : FairnessBar
    """
    checks: list[Check] = []
    for dim in bar.dimensions:
        audited = (groups["dimension"] == dim).any()
        if audited and dim in refs:
            checks += _dimension_checks(
                dim, groups, disparities, ref=refs[dim], hidden=hidden, bar=bar
            )
            continue
        note = NOTE_REFERENCE if audited else NOTE_NOT_AUDITED
        base = {
            "dimension": dim,
            "group": "(all)",
            "reference": "",
            "required": dim in bar.required,
        }
        checks += _blocked(base, note, bar)
    return tuple(checks)


def verdict(checks: tuple[Check, ...]) -> FairnessVerdict:
    """Return the overall outcome of ``checks`` and the count of each outcome.

    "not met" if any check is not met; otherwise "not assessable" if any check of a
    required dimension could not be assessed (or none could be at all); otherwise "met".
    """
    n = Counter(c.outcome for c in checks)
    required_gaps = sum(c.required and c.outcome == "not assessable" for c in checks)
    if n["not met"]:
        overall: Outcome = "not met"
    elif required_gaps or not n["met"]:
        overall = "not assessable"
    else:
        overall = "met"
    return FairnessVerdict(overall, n["met"], n["not met"], n["not assessable"], required_gaps)
