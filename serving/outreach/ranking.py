"""The outreach list: the families an early help team could contact first, and why.

:func:`build_list` takes one date's escalation cohort (the feature and audit tables of
:func:`stratify.serving.outreach.cohort.cohort_at`) and the champion's :class:`Scorer`, and

1. scores every child of the cohort through the service's scoring code;
2. leaves out families that are not eligible on the date (anyone in the household open
   to statutory social care or with an open referral: the build's ``eligible`` column,
   :mod:`stratify.features.build.eligibility`);
3. ranks the eligible families by their highest child's score and takes the capacity
   with :mod:`stratify.features.listing`, the functions the model card's figures were
   computed with: K borough-wide (a locality's list is its part of the borough's list)
   or K per locality, as the run config's capacity says;
4. if asked, keeps one locality;
5. explains only what is shown: SHAP values for the listed families' children only,
   and per family the top three distinct reasons across its children;
6. compares the list's make-up with the eligible cohort (:mod:`stratify.serving.outreach.fairness`).

Pure: no file is read or written here. Identifiers are the warehouse's pseudonyms.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from stratify.features.config import Capacity
from stratify.features.listing import family_frame, family_of, select
from stratify.serving.outreach.fairness import UNKNOWN, fairness_table
from stratify.serving.reasons import NEVER_REASONS, TOP_REASONS, Reason

ERR_CAPACITY = "capacity must be at least 1 family, got {capacity}"
ERR_THRESHOLD_CAPACITY = (
    "an outreach list needs a number of families (families_per_quarter or per_locality), "
    "not a share: {capacity}"
)
ERR_NO_ELIGIBLE = "the cohort has no 'eligible' column: rebuild it with this version"
ERR_ALIGNED = "the feature and audit tables must hold the same children in the same order"
ERR_EMPTY = "the cohort is empty"
REASON_COLUMNS = tuple(f"reason_{i + 1}" for i in range(TOP_REASONS))
#: Features never given as a reason on the list though the model uses them (declared in
#: the catalogue, ``as_reason=False``): area, the child's age and household size, which
#: a practitioner can neither check in the records as a concern nor act on.
UNSHOWN_REASONS = NEVER_REASONS


class ScorerLike(Protocol):
    """What the outreach list needs of :class:`stratify.serving.scoring.Scorer`."""

    version: int
    columns: list[str]

    def score(self, records: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Return probabilities and bands."""
        ...

    def explain(self, records: pd.DataFrame, top: int = TOP_REASONS) -> list[list[Reason]]:
        """Return each record's top reasons."""
        ...


@dataclass(frozen=True)
class OutreachList:
    """One outreach list and the figures that describe it.

    Attributes
    ----------
    as_of, capacity, locality, model_version
        What was asked for, and the model that answered (``locality`` None: all);
        ``capacity`` is how many families this list can hold.
    capacity_rule : str
        The capacity in words (e.g. "200 families per quarter, borough-wide").
    scored_children : int
        Children of the whole cohort scored on the date.
    cohort_children, cohort_families : int
        The cohort in the list's locality.
    excluded_children, excluded_families : int
        Of those, in families that are not eligible on the date (anyone open to
        statutory social care or with an open referral).
    eligible_children, eligible_families : int
        The rest, from whom the list is drawn.
    families : DataFrame
        One row per listed family, by rank: ``rank``, ``family``, ``family_score``,
        ``band``, ``locality``, ``children`` and ``reason_1`` .. ``reason_3``.
    children : DataFrame
        One row per listed child, by rank then score: ``rank``, ``family``, ``child``,
        ``age_band``, ``child_score``, ``child_band``.
    fairness : DataFrame
        :func:`stratify.serving.outreach.fairness.fairness_table` of the list.
    reason_features : list of list of str
        The catalogue features behind each family's reasons.
    """

    as_of: dt.date
    capacity: int
    capacity_rule: str
    locality: str | None
    model_version: int
    scored_children: int
    cohort_children: int
    cohort_families: int
    excluded_children: int
    excluded_families: int
    eligible_children: int
    eligible_families: int
    families: pd.DataFrame
    children: pd.DataFrame
    fairness: pd.DataFrame
    reason_features: list[list[str]]


def model_records(
    features: pd.DataFrame, audit: pd.DataFrame, columns: Sequence[str]
) -> pd.DataFrame:
    """Return the feature rows with any model input the audit table holds added.

    A model trained with protected characteristics as inputs
    (``training.include_protected``) reads them from the audit table.
    """
    extra = [c for c in columns if c not in features.columns and c in audit.columns]
    if not extra:
        return features
    return features.assign(**{c: audit[c].to_numpy() for c in extra})


def score_children(features: pd.DataFrame, audit: pd.DataFrame, scorer: ScorerLike) -> pd.DataFrame:
    """Score every child and return one row per child with the family's key facts."""
    if len(features) == 0:
        raise ValueError(ERR_EMPTY)
    same = len(features) == len(audit) and np.array_equal(
        features["person_id"].to_numpy(), audit["person_id"].to_numpy()
    )
    if not same:
        raise ValueError(ERR_ALIGNED)
    if "eligible" not in features.columns:
        raise ValueError(ERR_NO_ELIGIBLE)
    p, band = scorer.score(model_records(features, audit, scorer.columns))
    locality = audit["locality"].astype(object).where(audit["locality"].notna(), UNKNOWN)
    return pd.DataFrame(
        {
            "date": features["as_of_date"].to_numpy(),
            "child": features["person_id"].to_numpy(),
            "family": family_of(features["household_id"], features["person_id"]),
            "score": np.asarray(p, dtype=np.float64),
            "band": np.asarray(band, dtype=np.int64),
            "eligible": features["eligible"].to_numpy(dtype=bool),
            "age_band": audit["age_band"].to_numpy(),
            "locality": locality.to_numpy(),
        }
    )


def list_capacity(capacity: Capacity | int, locality: str | None) -> Capacity:
    """Return the capacity a list applies: the config's, or ``K`` families asked for.

    A number asked for with a locality is that locality's own K; without one, the
    borough's K.

    Raises
    ------
    ValueError
        If the number is below 1, or the capacity is a share (a threshold capacity
        belongs to decisions taken one at a time, not to a quarterly list).
    """
    if isinstance(capacity, int):
        if capacity < 1:
            raise ValueError(ERR_CAPACITY.format(capacity=capacity))
        if locality is None:
            return Capacity(families_per_quarter=capacity)
        return Capacity(per_locality={locality: capacity})
    if capacity.is_threshold:
        raise ValueError(ERR_THRESHOLD_CAPACITY.format(capacity=capacity.describe()))
    return capacity


def rank_families(
    children: pd.DataFrame, capacity: Capacity | int, locality: str | None = None
) -> pd.DataFrame:
    """Return the listed families, highest family score first.

    Parameters
    ----------
    children : DataFrame
        One row per child of one date: ``date``, ``family``, ``score``, ``band``,
        ``eligible``, ``locality``.
    capacity : Capacity or int
        The list's capacity (:func:`list_capacity`).
    locality : str, optional
        Keep only this locality's families of the list.

    Returns
    -------
    DataFrame
        ``rank`` (1..), ``family``, ``family_score`` (the highest eligible child score),
        ``band`` (that child's band), ``locality``, ``children``; only eligible families,
        ties broken by family pseudonym (:mod:`stratify.features.listing`).
    """
    fam = family_frame(children, extra={"band": "max"})  # bands rise with the score
    top = fam.loc[select(fam, list_capacity(capacity, locality))]
    if locality is not None:
        top = top.loc[top["locality"] == locality]
    top = top[["family", "family_score", "band", "locality", "children"]].reset_index(drop=True)
    top.insert(0, "rank", np.arange(1, len(top) + 1))
    return top


def _rule_words(rule: Capacity, locality: str | None) -> str:
    if rule.per_locality is not None:
        return rule.describe()
    if locality is None:
        return f"{rule.describe()}, borough-wide"
    return f"{rule.describe()} borough-wide; this is {locality}'s part of that list"


def family_reasons(reasons: Sequence[Sequence[Reason]], top: int = TOP_REASONS) -> list[Reason]:
    """Return a family's top ``top`` distinct reasons across its children's reasons.

    The highest contributions first; a feature (or a sentence) already given by another
    child is not repeated, and :data:`UNSHOWN_REASONS` are left out.
    """
    shown = (r for rs in reasons for r in rs if r.feature not in UNSHOWN_REASONS)
    merged = sorted(shown, key=lambda r: -r.contribution)
    out: list[Reason] = []
    seen: set[str] = set()
    for r in merged:
        if r.feature in seen or r.text in seen:
            continue
        seen |= {r.feature, r.text}
        out.append(r)
        if len(out) == top:
            break
    return out


def _explain(
    features: pd.DataFrame,
    audit: pd.DataFrame,
    scorer: ScorerLike,
    rows: np.ndarray,
    families: pd.Series,
) -> tuple[list[list[str]], list[list[str]]]:
    """Return each listed family's reason texts and features (SHAP for ``rows`` only)."""
    if len(rows) == 0:
        return [], []
    records = model_records(features.iloc[rows], audit.iloc[rows], scorer.columns)
    per_child = scorer.explain(records, top=TOP_REASONS)
    by_family: dict[str, list[list[Reason]]] = {}
    own = family_of(features["household_id"], features["person_id"])[rows]
    for family, reasons in zip(own, per_child, strict=True):
        by_family.setdefault(str(family), []).append(reasons)
    chosen = [family_reasons(by_family.get(str(f), [])) for f in families]
    return [[r.text for r in rs] for rs in chosen], [[r.feature for r in rs] for rs in chosen]


def _listed_children(children: pd.DataFrame, top: pd.DataFrame) -> pd.DataFrame:
    rank = dict(zip(top["family"], top["rank"], strict=True))
    listed = children.loc[children["family"].isin(rank)].copy()
    listed.insert(0, "rank", listed["family"].map(rank).astype(np.int64))
    listed = listed.rename(columns={"score": "child_score", "band": "child_band"})
    listed = listed.sort_values(["rank", "child_score", "child"], ascending=[True, False, True])
    return listed


def build_list(
    features: pd.DataFrame,
    audit: pd.DataFrame,
    scorer: ScorerLike,
    *,
    as_of: dt.date,
    capacity: Capacity | int,
    locality: str | None = None,
    dimensions: Sequence[str] = (),
    min_people: int = 10,
) -> OutreachList:
    """Build the outreach list of one date's cohort.

    Parameters
    ----------
    features, audit : DataFrame
        The cohort's feature table and audit table (same children, same order).
    scorer : Scorer
        The champion, through the service's scoring code.
    as_of : datetime.date
        The cohort's date (recorded on the list).
    capacity : Capacity or int
        The run config's capacity (the one the model card's figures describe), or a
        number of families asked for (:func:`list_capacity`).
    locality : str, optional
        Keep only families living in this locality.
    dimensions : sequence of str
        The fairness check's audit dimensions.
    min_people : int
        Small-cell threshold of the fairness check.

    Returns
    -------
    OutreachList
    """
    children = score_children(features, audit, scorer)
    rule = list_capacity(capacity, locality)
    scope = children if locality is None else children.loc[children["locality"] == locality]
    excluded = ~scope["eligible"].to_numpy(dtype=bool)
    top = rank_families(children, rule, locality)
    listed = _listed_children(children, top)
    texts, feats = _explain(features, audit, scorer, listed.index.to_numpy(), top["family"])
    for i, col in enumerate(REASON_COLUMNS):
        top[col] = [t[i] if i < len(t) else "" for t in texts]
    eligible = scope.loc[~excluded]
    fairness = fairness_table(
        audit.iloc[eligible.index.to_numpy()],
        eligible["family"].isin(set(top["family"])).to_numpy(),
        dimensions,
        min_people=min_people,
    )
    held = (
        rule.for_locality(locality) if rule.per_locality is not None or locality is None else None
    )
    return OutreachList(
        as_of=as_of,
        capacity=len(top) if held is None else int(held),
        capacity_rule=_rule_words(rule, locality),
        locality=locality,
        model_version=scorer.version,
        scored_children=len(children),
        cohort_children=len(scope),
        cohort_families=int(scope["family"].nunique()),
        excluded_children=int(excluded.sum()),
        excluded_families=int(scope.loc[excluded, "family"].nunique()),
        eligible_children=len(eligible),
        eligible_families=int(eligible["family"].nunique()),
        families=top,
        children=listed[
            ["rank", "family", "child", "age_band", "child_score", "child_band"]
        ].reset_index(drop=True),
        fairness=fairness,
        reason_features=feats,
    )
