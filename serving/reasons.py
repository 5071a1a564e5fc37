"""Plain-language reasons: the top positive SHAP contributions, through the catalogue.

A reason is shown only when it reads truthfully as a reason for concern:

- the feature is in the catalogue and is not a protected characteristic (a model that
  was given one as an input may still rank on it, but never names it);
- its value is known (a missing ``months_since_*`` would read "nan months");
- a flag is true (its template describes the flag being set);
- a count of events or people is above zero ("0 referrals" or "0 early help episodes
  ended needs met" is the absence of a factor, which reads as no reason at all);
- its contribution to the log-odds is positive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stratify.features.catalogue import FEATURE_BY_NAME, FEATURES, Feature, reason
from stratify.features.config import PROTECTED_COLUMNS

TOP_REASONS = 3
#: stats whose value counts events or people (a zero is never shown as a reason)
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


#: Never a reason, even when the model uses them: protected characteristics, and the
#: child's age (age band is a protected characteristic; "the child is 150 months old"
#: tells a practitioner nothing they can act on).
NEVER_REASONS = frozenset(PROTECTED_COLUMNS) | frozenset(
    f.name for f in FEATURES if f.stat == "age"
)


def explainable(columns: Sequence[str]) -> list[Feature | None]:
    """Return the catalogue feature of each column, or None where it may never be a reason."""
    out: list[Feature | None] = []
    for c in columns:
        f = FEATURE_BY_NAME.get(c)
        out.append(None if f is None or c in NEVER_REASONS else f)
    return out


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _display(feature: Feature, value: object) -> object | None:
    """Return the value as the template shows it, or None when it is not a reason."""
    if _missing(value):
        return None
    if feature.dtype == "category":
        return str(value)
    number = float(value)  # type: ignore[arg-type]
    if feature.dtype == "bool":
        return True if number else None
    if feature.stat in COUNT_STATS and number <= 0:
        return None
    return int(number)


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
        Per column, from :func:`explainable` (None: never a reason).
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
        if f is None:
            continue
        shown = _display(f, values[j])
        if shown is not None:
            out.append(Reason(f.name, reason(f, shown), c))
    return out
