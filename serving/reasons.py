"""Plain-language reasons: the top positive SHAP contributions, through the catalogue.

A reason says "this raised the concern about this child", so it is shown only when it
reads truthfully as that and names something a manager can check in the family's
records:

- the feature is in the catalogue and declared ``as_reason`` there (never the area the
  family lives in, the child's age or household size alone; never a protected
  characteristic, which the catalogue does not declare though a model may be given one);
- its contribution to the log-odds is positive: it raised this child's score;
- the catalogue expects the value shown to raise the risk. A "raises" feature is shown
  when it is above the low end of its range (a flag set, a count above zero: "0
  referrals" is the absence of a factor, not a reason). A "lowers" feature is shown only
  when its template states a quantity whose small values are the concern ("less than a
  month since the last referral"): its flag or count would state a protective factor
  ("two parents or carers at home"). A feature with no expected direction ("none") is
  never shown, as there is no reviewed reading of it as a concern;
- its value is known (a missing ``months_since_*`` would read "nan months").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stratify.features.catalogue import FEATURE_BY_NAME, FEATURES, Feature, reason
from stratify.features.config import PROTECTED_COLUMNS

TOP_REASONS = 3
#: stats whose value counts events or people: its template states that something is there
COUNT_STATS = frozenset({"count", "members_count", "members_with", "members_open"})


@dataclass(frozen=True)
class Reason:
    """One rendered reason.

    Attributes
    ----------
    feature : str
        The catalogue feature.
    text : str
        The plain-language sentence.
    contribution : float
        The feature's SHAP contribution to the model's log-odds (TreeSHAP).
    """

    feature: str
    text: str
    contribution: float

    def as_dict(self) -> dict[str, str | float]:
        """Return the reason as a JSON-ready mapping."""
        return {
            "feature": self.feature,
            "text": self.text,
            "contribution": round(self.contribution, 6),
        }


#: Never a reason, even when the model uses them: the catalogue's features declared
#: ``as_reason=False`` (area, the child's age, household size) and the protected
#: characteristics a config may add as model inputs (not catalogue features at all).
NEVER_REASONS = frozenset(PROTECTED_COLUMNS) | frozenset(
    f.name for f in FEATURES if not f.as_reason
)


def _states_presence(feature: Feature) -> bool:
    """Whether the template states that something is there (a flag set, a count)."""
    return feature.dtype == "bool" or feature.stat in COUNT_STATS


def may_explain(feature: Feature) -> bool:
    """Return whether the feature can ever be given as a reason (whatever its value).

    It must be declared ``as_reason`` and have an expected direction; a "lowers" feature
    whose template states presence would state a protective factor as a concern.
    """
    if not feature.as_reason or feature.direction == "none":
        return False
    return not (feature.direction == "lowers" and _states_presence(feature))


def explainable(columns: Sequence[str]) -> list[Feature | None]:
    """Return the catalogue feature of each column, or None where it may never be a reason."""
    features = (FEATURE_BY_NAME.get(c) for c in columns)
    return [f if f is not None and may_explain(f) else None for f in features]


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _display(feature: Feature, value: object) -> object | None:
    """Return the value as the template shows it, or None when it is not a reason.

    The value must lie on the side the catalogue expects to raise the risk: a "raises"
    feature above the low end of its range (a flag set, a count above zero), a "lowers"
    one below the top of its range.
    """
    if _missing(value):
        return None
    if feature.dtype == "category":
        return str(value)
    number = float(value)  # type: ignore[arg-type]
    low, high = feature.minimum, feature.maximum
    if feature.direction == "raises" and low is not None and number <= low:
        return None
    if feature.direction == "lowers" and high is not None and number >= high:
        return None
    return True if feature.dtype == "bool" else int(number)


def render(
    features: Sequence[Feature | None],
    contributions: np.ndarray,
    values: Sequence[object],
    top: int = TOP_REASONS,
) -> list[Reason]:
    """Return one record's top ``top`` reasons, highest contribution first.

    Parameters
    ----------
    features : sequence of Feature or None
        Per column, from :func:`explainable` (None: never a reason). Only features
        :func:`may_explain` accepts are given, whatever the caller passes.
    contributions : ndarray of shape (n_columns,)
        The record's SHAP contributions, in the same column order (no bias term).
    values : sequence
        The record's raw values, in the same column order.
    top : int
        How many reasons at most.

    Returns
    -------
    list of Reason
    """
    out: list[Reason] = []
    for j in np.argsort(-contributions, kind="stable"):
        c = float(contributions[j])
        if c <= 0 or len(out) == top:
            break
        f = features[j]
        if f is None or not may_explain(f):
            continue
        shown = _display(f, values[j])
        if shown is not None:
            out.append(Reason(f.name, reason(f, shown), c))
    return out
