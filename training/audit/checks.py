"""The working group's fairness bar, checked group by group.

For every dimension the policy names and every group other than the reference: the
false negative rate ratio and the selection rate ratio must lie within the policy's
limits, and the group's calibration gap (mean score minus observed rate) must be at most
the policy's maximum in size. A check whose figures are suppressed or undefined (no
positives in the reference group, say) is *not assessable*, never silently passed.
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

CRITERIA = {
    "false_negative_rate_ratio": "false negative rate ratio",
    "selection_rate_ratio": "selection rate ratio",
    "calibration_gap": "calibration gap (mean score minus observed rate)",
}
NOTE_SUPPRESSED = "too few people or positives to report"
NOTE_REFERENCE = "the reference group is suppressed"
NOTE_UNDEFINED = "undefined (a rate of zero or no people to compare)"
NOTE_NOT_AUDITED = "dimension not audited"


@dataclass(frozen=True)
class Check:
    """One fairness criterion for one group against its reference."""

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

    def to_dict(self) -> dict[str, Any]:
        """Return the check as a JSON-ready mapping (NaN as None)."""
        return {k: _plain(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class FairnessVerdict:
    """The overall fairness outcome and how many checks had each outcome."""

    overall: Outcome
    met: int
    not_met: int
    not_assessable: int

    def to_dict(self) -> dict[str, Any]:
        """Return the verdict as a JSON-ready mapping."""
        return asdict(self)


def _plain(v: object) -> object:
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def _limits(lim: RatioLimits) -> str:
    return f"between {lim.low:g} and {lim.high:g}"


def _outcome(value: float, ok: bool) -> tuple[Outcome, str]:
    if not np.isfinite(value):
        return "not assessable", NOTE_UNDEFINED
    return ("met" if ok else "not met"), ""


def _ratio_check(row: pd.Series | None, base: dict[str, str], name: str, lim: RatioLimits) -> Check:
    base = base | {"criterion": CRITERIA[name], "limit": _limits(lim)}
    if row is None:
        return Check(
            **base,
            value=np.nan,
            low=np.nan,
            high=np.nan,
            outcome="not assessable",
            note=NOTE_UNDEFINED,
        )
    value = float(row["ratio"])
    outcome, note = _outcome(value, np.isfinite(value) and lim.contains(value))
    return Check(
        **base,
        value=value,
        low=float(row["ratio_low"]),
        high=float(row["ratio_high"]),
        outcome=outcome,
        note=note,
    )


def _gap_check(row: pd.Series, base: dict[str, str], max_gap: float) -> Check:
    base = base | {  # an absolute check: no group to compare with
        "reference": "",
        "criterion": CRITERIA["calibration_gap"],
        "limit": f"at most {max_gap:g} in size",
    }
    value = float(row["calibration_gap"])
    outcome, note = _outcome(value, abs(value) <= max_gap)
    return Check(
        **base,
        value=value,
        low=float(row["calibration_gap_low"]),
        high=float(row["calibration_gap_high"]),
        outcome=outcome,
        note=note,
    )


def _blocked(base: dict[str, str], note: str, bar: FairnessBar) -> list[Check]:
    out = []
    for name in CRITERIA:
        lim = bar.max_calibration_gap
        limit = (
            f"at most {lim:g} in size" if name == "calibration_gap" else _limits(getattr(bar, name))
        )
        out.append(
            Check(
                **base,
                criterion=CRITERIA[name],
                limit=limit,
                value=SUPPRESSED,
                low=SUPPRESSED,
                high=SUPPRESSED,
                outcome="not assessable",
                note=note,
            )
        )
    return out


def fairness_checks(
    groups: pd.DataFrame,
    disparities: pd.DataFrame,
    refs: dict[str, int],
    hidden: frozenset[Cell],
    bar: FairnessBar,
) -> tuple[Check, ...]:
    """Return every check of ``bar`` for every group of the dimensions it names.

    Ratios are checked for every group but the reference; the calibration gap, being
    no comparison, for the reference group as well.

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
        part = groups[groups["dimension"] == dim]
        if part.empty or dim not in refs:
            note = NOTE_NOT_AUDITED if part.empty else NOTE_REFERENCE
            checks += _blocked({"dimension": dim, "group": "(all)", "reference": ""}, note, bar)
            continue
        ref = refs[dim]
        versus = "overall" if ref == 0 else "reference"
        for i, row in part.iterrows():
            base = {
                "dimension": dim,
                "group": str(row["group"]),
                "reference": str(groups.at[ref, "group"]),
            }
            if (dim, str(row["group"])) in hidden:
                checks += _blocked(base, NOTE_SUPPRESSED, bar)
                continue
            if i == ref:  # the reference's own calibration is checked too: it is no ratio
                checks.append(_gap_check(row, base, bar.max_calibration_gap))
                continue
            mine = disparities[
                (disparities["dimension"] == dim)
                & (disparities["group"] == row["group"])
                & (disparities["versus"] == versus)
            ]
            for name in ("false_negative_rate_ratio", "selection_rate_ratio"):
                found = mine[mine["metric"] == name.removesuffix("_ratio")]
                lim = getattr(bar, name)
                checks.append(_ratio_check(found.iloc[0] if len(found) else None, base, name, lim))
            checks.append(_gap_check(row, base, bar.max_calibration_gap))
    return tuple(checks)


def verdict(checks: tuple[Check, ...]) -> FairnessVerdict:
    """Return "met" only if no check is "not met" and at least one could be assessed."""
    n = Counter(c.outcome for c in checks)
    if n["not met"]:
        overall: Outcome = "not met"
    elif n["met"]:
        overall = "met"
    else:
        overall = "not assessable"
    return FairnessVerdict(overall, n["met"], n["not met"], n["not assessable"])
