"""Champion against challenger on decision points neither model learnt from.

The champion (the registered model in use) learnt from every decision point up to its
own latest slice. A new extract completes the label windows of the points after it:
those points, eligible ones only, are the **comparison window**. The challenger's trees
never saw them either (its registered refit keeps its latest slice apart from the trees),
but its early stopping and calibration did use that slice: its ranking figures (AUC,
average precision, the lists) are fair to both models, its calibration figures favour
it. The report says so beside the figures.

:func:`compare` scores the window with both models, draws both models' lists with the
listing the deployed lists use (:mod:`stratify.training.operating`), and returns paired
family-bootstrap differences (challenger minus champion) of the headline figures, each
model's calibration, and the fairness checks of both on the same points.
:func:`recommend` turns that, the verdicts and the drift into promote / keep the
champion / needs review, with reasons.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from stratify.core.text import fmt_ci
from stratify.features.build.cohorts import add_months
from stratify.features.config import AuditConfig, Capacity
from stratify.training.audit.checks import CRITERIA
from stratify.training.audit.report import AuditResult, audit
from stratify.training.evaluation import Interval
from stratify.training.metrics.evaluate import evaluate
from stratify.training.metrics.recalibration import calibration_fit
from stratify.training.operating import children_frame, make_lists
from stratify.training.policy import FairnessBar

Decision = Literal["promote", "keep the champion", "needs review"]
MODELS = ("challenger", "champion")
#: Figures at capacity are per listed family; the rest per eligible child.
HEADLINE = ("precision_at_capacity", "recall_at_capacity")
RANKING = ("roc_auc", "average_precision")
CALIBRATION = ("brier", "ece", "calibration_slope", "calibration_intercept")
ERR_EMPTY_WINDOW = (
    "no eligible decision point of {target} has a complete label window after the "
    "champion's last ({last}) by the extract date {extract}: the new extract adds no "
    "outcome the champion has not seen, so the two cannot be compared on new data"
)


@dataclass(frozen=True)
class Window:
    """The comparison window: eligible points after the champion's data, labels complete."""

    start: str
    end: str
    rows: int
    positives: int
    families: int
    why: str


def comparison_rows(
    as_of: pd.Series,
    eligible: np.ndarray,
    *,
    champion_last: dt.date,
    extract_date: dt.date,
    horizon_months: int,
) -> np.ndarray:
    """Return the eligible points after ``champion_last`` whose label window is complete."""
    days = pd.to_datetime(as_of).dt.date
    complete = days.map(lambda d: add_months(d, horizon_months) <= extract_date).to_numpy(bool)
    later = (days > champion_last).to_numpy(dtype=bool)
    return complete & later & np.asarray(eligible, dtype=bool)


@dataclass(frozen=True)
class Comparison:
    """Both models on the comparison window.

    ``figures[model][metric]`` and ``difference[metric]`` (challenger minus champion,
    paired: the same family resamples for both) are :class:`Interval`; ``audits`` holds
    each model's fairness audit on the window; ``listed`` each model's listed families.
    """

    window: Window
    figures: dict[str, dict[str, Interval]]
    difference: dict[str, Interval]
    audits: dict[str, AuditResult] = field(repr=False)
    listed: dict[str, int]

    def fairness_deltas(self) -> pd.DataFrame:
        """Return every fairness check of both models on the window, and the change."""
        frames = []
        for model in MODELS:
            rows = [c.to_dict() for c in self.audits[model].checks]
            frame = pd.DataFrame(rows)[["dimension", "group", "criterion", "value", "outcome"]]
            frames.append(frame.rename(columns={"value": model, "outcome": f"{model}_outcome"}))
        keys = ["dimension", "group", "criterion"]
        both = frames[0].merge(frames[1], on=keys, how="outer")
        numeric = pd.to_numeric(both["challenger"], errors="coerce")
        both["change"] = numeric - pd.to_numeric(both["champion"], errors="coerce")
        return both

    def as_dict(self) -> dict[str, Any]:
        """Return the comparison as JSON-ready fields (audits as their verdicts)."""
        return {
            "window": self.window.__dict__,
            "figures": {m: {k: v.as_dict() for k, v in f.items()} for m, f in self.figures.items()},
            "difference": {k: v.as_dict() for k, v in self.difference.items()},
            "fairness_verdicts": {m: a.verdict.to_dict() for m, a in self.audits.items()},
            "listed": self.listed,
        }


def _window(keys: pd.DataFrame, y: np.ndarray, why: str) -> Window:
    dates = pd.to_datetime(keys["as_of_date"])
    return Window(
        start=str(dates.min().date()),
        end=str(dates.max().date()),
        rows=len(keys),
        positives=int(y.sum()),
        families=int(keys["household_id"].nunique()),
        why=why,
    )


def _intervals(per: dict[str, dict[str, float]], keep: tuple[str, ...]) -> dict[str, Interval]:
    return {k: Interval.from_dict(v) for k, v in per.items() if k in keep}


@dataclass(frozen=True)
class Rules:
    """How both models are judged: the list, the audit, the bootstrap.

    ``thresholds`` holds each model's registered operating threshold (a threshold
    capacity only).
    """

    capacity: Capacity
    thresholds: dict[str, float | None]
    audit: AuditConfig
    fairness: FairnessBar
    n_boot: int
    seed: int


def compare(
    frame: pd.DataFrame, scores: dict[str, np.ndarray], rules: Rules, why: str
) -> Comparison:
    """Compare ``challenger`` and ``champion`` scores on the window's points.

    Parameters
    ----------
    frame : DataFrame
        The window's eligible points: ``person_id``, ``household_id``, ``as_of_date``,
        ``label`` and the audit columns.
    scores : dict
        ``challenger`` and ``champion`` probabilities, row for row.
    rules : Rules
        The capacity and thresholds, the audit and fairness bar, and the family
        bootstrap (the same resamples for both models: a paired bootstrap).
    why : str
        Why this window, in words, for the report.
    """
    y = frame["label"].to_numpy(dtype=int)
    keys = frame[["person_id", "household_id", "as_of_date"]]
    children = children_frame(keys, y, frame.get("locality"))
    n_boot, seed = rules.n_boot, rules.seed
    use = None
    if rules.capacity.is_threshold:
        use = {m: float(rules.thresholds.get(m) or 0.0) for m in MODELS}
    lists = make_lists(children, scores, rules.capacity, use)
    child = evaluate(y, scores, lists.row_selected, family=children["family"], n_boot=n_boot,
                     seed=seed, compare_to="challenger")  # fmt: skip
    fam = evaluate(lists.units["label"].to_numpy(), lists.unit_scores, lists.unit_selected,
                   family=lists.units["family"], n_boot=n_boot, seed=seed,
                   compare_to="challenger")  # fmt: skip
    figures = {}
    for m in MODELS:
        figures[m] = {**_intervals(child["metrics"][m], RANKING + CALIBRATION[:2]),
                      **_intervals(fam["metrics"][m], HEADLINE)}  # fmt: skip
        slope = calibration_fit(y, scores[m], family=children["family"], n_boot=n_boot, seed=seed)
        figures[m] |= _intervals(slope, CALIBRATION[2:])
    difference = {**_intervals(child["lift_over"]["champion"], RANKING),
                  **_intervals(fam["lift_over"]["champion"], HEADLINE)}  # fmt: skip
    audits = {
        m: audit(frame.assign(score=scores[m], selected=lists.row_selected[m]),
                 config=rules.audit, policy=rules.fairness, seed=seed)
        for m in MODELS
    }  # fmt: skip
    listed = {m: int(lists.unit_selected[m].sum()) for m in MODELS}
    return Comparison(_window(keys, y, why), figures, difference, audits, listed)


@dataclass(frozen=True)
class Recommendation:
    """What the report recommends, and why (it never promotes by itself)."""

    decision: Decision
    reasons: tuple[str, ...]


def _worse(difference: dict[str, Interval]) -> list[str]:
    return [
        f"the challenger's {name.replace('_', ' ')} is lower than the champion's, the whole "
        f"95 % interval of the difference below zero ({d.value:+.3f}, {d.low:+.3f} to "
        f"{d.high:+.3f})"
        for name, d in difference.items()
        if name in HEADLINE + RANKING and d.high < 0
    ]


def _clearly_outside(row: Any, bar: FairnessBar) -> bool:
    """Whether a check's whole 95 % interval lies outside its limits (not noise)."""
    key = next((k for k, words in CRITERIA.items() if words == row.criterion), None)
    limits = getattr(bar, key) if key else None
    low, high = _num(row.low), _num(row.high)
    if limits is None or not (np.isfinite(low) and np.isfinite(high)):
        return False
    return bool(high < limits.low or low > limits.high)


def fairness_losses(comparison: Comparison, bar: FairnessBar) -> list[str]:
    """Return, in words, each check the champion met and the challenger clearly fails.

    Clearly: the challenger's whole 95 % interval lies outside the limits. On a window
    of one quarter many point estimates sit near a limit, and a check that flips from
    met to not met by chance is shown in the report's table but is no reason to hold a
    challenger back.
    """
    rows = {(c.dimension, c.group, c.criterion): c for c in comparison.audits["challenger"].checks}
    out = []
    for c in comparison.audits["champion"].checks:
        mine = rows.get((c.dimension, c.group, c.criterion))
        if (
            c.outcome == "met"
            and mine is not None
            and mine.outcome == "not met"
            and (_clearly_outside(mine, bar))
        ):
            figure = Interval(_num(mine.value), _num(mine.low), _num(mine.high))
            out.append(
                f"{c.dimension} {c.group}: {c.criterion} met by the champion; the "
                f"challenger's {fmt_ci(figure)} lies wholly outside the limits"
            )
    return out


def _num(value: float | str) -> float:
    """Return a check's figure as a number (NaN where it is withheld)."""
    return float(value) if isinstance(value, (int, float)) else float("nan")


def recommend(
    difference: Mapping[str, Interval],
    *,
    verdicts: Mapping[str, str],
    fairness: list[str],
    drift_flags: list[str],
) -> Recommendation:
    """Recommend promote, keep the champion, or needs review, with the reasons.

    - **keep the champion** when the challenger's lists are worse on the window
      (precision or recall at capacity, the paired 95 % interval wholly below zero), or
      its ranking of children is (ROC AUC or average precision: a quarter's lists hold
      few positives, so they cannot show a difference a whole quarter's ranking shows),
      or its performance verdict fails where the champion's held;
    - **needs review** when neither is so but the challenger loses a fairness check the
      champion met on the same points, or major drift is flagged (the new data differ
      from what the champion learnt from: a person should look before either is used);
    - **promote** otherwise: the challenger is no worse on new data and has learnt from
      more recent records.

    Parameters
    ----------
    difference : mapping
        Challenger minus champion on the comparison window (:attr:`Comparison.difference`).
    verdicts : dict
        ``challenger`` and ``champion`` performance verdicts against the policy.
    fairness : list of str
        Fairness checks the champion met and the challenger does not
        (:func:`fairness_losses`).
    drift_flags : list of str
        Major drift found, in words (empty: none).
    """
    worse = _worse(dict(difference))
    if verdicts.get("challenger") != "met" and verdicts.get("champion") == "met":
        worse.append("the challenger does not meet the performance bar the champion met")
    if worse:
        return Recommendation("keep the champion", tuple(worse))
    review = list(fairness) + [f"major drift: {flag}" for flag in drift_flags]
    if review:
        return Recommendation("needs review", tuple(review))
    reasons = ["on the comparison window the challenger is no worse than the champion (no "
               "paired 95 % interval of precision or recall at capacity, ROC AUC or average "
               "precision lies below zero)", "it has learnt from the newest records"]  # fmt: skip
    if verdicts.get("challenger") != "met":
        reasons.append(
            "its performance verdict is 'not met', as the champion's was: promotion needs the "
            "override again, with its reason recorded"
        )
    return Recommendation("promote", tuple(reasons))
