"""The step-down list of one month's closures: pure, no file read or written.

:func:`build_stepdown` takes the month's re-referral decision points (one per child and
RC7-RC9 closure; the feature and audit tables of the rereferral build) and the champion, and

1. scores every point through the service's scoring code
   (:func:`stratify.serving.outreach.ranking.score_children`);
2. groups points into families (the household, or the child alone); a family is left
   out, and counted, when it is not eligible on its latest closure date in the month
   (someone in the household open to statutory social care or with an open referral);
3. lists the families whose highest score is at or above the champion's operating
   threshold, highest first, ties by family pseudonym;
4. explains only the listed families (up to three reasons each, the outreach list's
   :func:`~stratify.serving.outreach.ranking.family_reasons`), and says whether the family
   had an early help episode open before the closure;
5. compares the list with all eligible closures by group (the outreach fairness check).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stratify.serving.outreach.fairness import fairness_table
from stratify.serving.outreach.ranking import (
    REASON_COLUMNS,
    ScorerLike,
    family_reasons,
    model_records,
    score_children,
)

#: Features that say early help was already open (the household's, then the child's).
EARLY_HELP_FEATURES = ("household_early_help_open", "early_help_open")
ERR_THRESHOLD = "the re-referral champion has no operating_threshold in its metadata"


@dataclass(frozen=True)
class StepDownList:
    """One month's step-down list and the figures that describe it.

    Attributes
    ----------
    month : datetime.date
        The month's first day.
    locality : str or None
        The list's locality (None: all).
    model_version : int
    threshold : float
        The operating threshold fixed at training.
    closures, closure_families : int
        Closure points (children) and families in the list's locality.
    excluded_families, eligible_families : int
        Families left out (not eligible on their latest closure date) and the rest.
    families : DataFrame
        One row per listed family, by rank: ``rank``, ``family``, ``family_score``,
        ``band``, ``locality``, ``children``, ``closure_date``, ``early_help_open``,
        ``reason_1`` .. ``reason_3``.
    children : DataFrame
        One row per listed closure point: ``rank``, ``family``, ``child``,
        ``closure_date``, ``age_band``, ``child_score``.
    scored : DataFrame
        Every family of the scope: ``family``, ``family_score``, ``eligible``,
        ``locality`` (the audit sample is drawn from it).
    fairness : DataFrame
        :func:`stratify.serving.outreach.fairness.fairness_table` (list vs eligible closures).
    """

    month: dt.date
    locality: str | None
    model_version: int
    threshold: float
    closures: int
    closure_families: int
    excluded_families: int
    eligible_families: int
    families: pd.DataFrame
    children: pd.DataFrame
    scored: pd.DataFrame
    fairness: pd.DataFrame


def early_help_flags(features: pd.DataFrame) -> np.ndarray:
    """Return per point whether early help was open (False when no such feature exists)."""
    flag = np.zeros(len(features), dtype=bool)
    for name in EARLY_HELP_FEATURES:
        if name in features.columns:
            flag |= features[name].fillna(False).to_numpy(dtype=bool)
    return flag


def family_table(points: pd.DataFrame) -> pd.DataFrame:
    """Return one row per family of the month's scored points.

    ``points``: ``family``, ``date``, ``score``, ``band``, ``eligible``, ``locality``,
    ``early_help``. A family is eligible when every point on its latest closure date is.
    """
    latest = points.groupby("family")["date"].transform("max")
    last = points.loc[points["date"] == latest]
    eligible = last.groupby("family")["eligible"].all()
    fam = points.groupby("family", sort=False).agg(
        family_score=("score", "max"), band=("band", "max"), locality=("locality", "first"),
        children=("child", "nunique"), closure_date=("date", "max"),
        early_help_open=("early_help", "any"),
    )  # fmt: skip
    fam["eligible"] = eligible.reindex(fam.index).to_numpy(dtype=bool)
    fam = fam.reset_index().sort_values(
        ["family_score", "family"], ascending=[False, True], kind="stable"
    )
    return fam.reset_index(drop=True)


def _reasons(
    features: pd.DataFrame, audit: pd.DataFrame, scorer: ScorerLike, rows: np.ndarray, *,
    own: np.ndarray, families: Sequence[str],
) -> list[list[str]]:  # fmt: skip
    if len(rows) == 0:
        return [[] for _ in families]
    records = model_records(features.iloc[rows], audit.iloc[rows], scorer.columns)
    by_family: dict[str, list] = {}
    for fam, rs in zip(own[rows], scorer.explain(records), strict=True):
        by_family.setdefault(str(fam), []).append(rs)
    return [[r.text for r in family_reasons(by_family.get(str(f), []))] for f in families]


def build_stepdown(
    features: pd.DataFrame,
    audit: pd.DataFrame,
    scorer: ScorerLike,
    *,
    month: dt.date,
    threshold: float,
    locality: str | None = None,
    dimensions: Sequence[str] = (),
    min_people: int = 10,
) -> StepDownList:
    """Build the step-down list of one month's closures.

    Parameters
    ----------
    features, audit : DataFrame
        The month's rereferral feature and audit tables (same points, same order).
    scorer : ScorerLike
        The re-referral champion.
    month : datetime.date
        The month's first day (recorded on the list).
    threshold : float
        The champion's operating threshold: families scoring at least this are listed.
    locality : str, optional
        Keep only this locality's families.
    dimensions : sequence of str
        The fairness check's audit dimensions.
    min_people : int
        Small-cell threshold of the fairness check.

    Returns
    -------
    StepDownList
    """
    features, audit = features.reset_index(drop=True), audit.reset_index(drop=True)
    kids = score_children(features, audit, scorer).assign(early_help=early_help_flags(features))
    in_scope = np.ones(len(kids), dtype=bool)
    if locality is not None:
        in_scope = (kids["locality"] == locality).to_numpy()
    points = kids.loc[in_scope]
    fam = family_table(points) if len(points) else family_table(kids.iloc[:0])
    eligible = fam.loc[fam["eligible"]]
    top = eligible.loc[eligible["family_score"] >= threshold].reset_index(drop=True)
    top.insert(0, "rank", np.arange(1, len(top) + 1))
    rank = dict(zip(top["family"], top["rank"], strict=True))
    listed = points.loc[points["family"].isin(rank)]
    texts = _reasons(features, audit, scorer, listed.index.to_numpy(),
                     own=kids["family"].to_numpy(), families=list(top["family"]))  # fmt: skip
    for i, col in enumerate(REASON_COLUMNS):
        top[col] = [t[i] if i < len(t) else "" for t in texts]
    children = listed.assign(rank=listed["family"].map(rank).astype(np.int64)).rename(
        columns={"score": "child_score", "date": "closure_date"}
    )
    children = children.sort_values(["rank", "child_score", "child"], ascending=[True, False, True])
    ok = points.loc[points["family"].isin(set(eligible["family"]))]
    fairness = fairness_table(
        audit.iloc[ok.index.to_numpy()], ok["family"].isin(rank).to_numpy(), dimensions,
        min_people=min_people,
    )  # fmt: skip
    cols = ["rank", "family", "family_score", "band", "locality", "children", "closure_date",
            "early_help_open", *REASON_COLUMNS]  # fmt: skip
    return StepDownList(
        month=month, locality=locality, model_version=scorer.version, threshold=threshold,
        closures=len(points), closure_families=len(fam),
        excluded_families=int((~fam["eligible"]).sum()), eligible_families=len(eligible),
        families=top[cols],
        children=children[["rank", "family", "child", "closure_date", "age_band",
                           "child_score"]].reset_index(drop=True),
        scored=fam[["family", "family_score", "eligible", "locality"]],
        fairness=fairness,
    )  # fmt: skip
