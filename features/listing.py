"""The outreach list's ranking: one function for the list a manager gets and the one evaluated.

A list is drawn on one date from the *eligible* decision points of that date
(:mod:`stratify.features.build.eligibility`). Children are grouped into families (their
household; a child without a known household is a family of one): a family's score is
its highest child's score. Families are ranked by that score, ties broken by the family
pseudonym (a keyed hash, so the order among equal scores carries no meaning), and the
capacity is taken: K families borough-wide, or K per locality when the capacity is set
per locality (:class:`stratify.features.config.Capacity`).

``stratify outreach`` and the evaluation (training's figures at capacity, the backtest,
the ceiling) both call :func:`family_frame` and :func:`select`, so the families the card
counts are the families a list holds.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from stratify.features.config import Capacity

UNKNOWN_LOCALITY = "unknown"
ERR_COLUMNS = "the children table lacks the column(s) {names}"
ERR_THRESHOLD = "a threshold capacity needs the operating threshold fixed at training"
#: Per child: the list date, the child's family and score, and whether it may be listed.
CHILD_COLUMNS = ("date", "family", "score", "eligible")


def family_of(household: pd.Series | np.ndarray, person: pd.Series | np.ndarray) -> np.ndarray:
    """Return each child's family: the household, or the child alone when it has none."""
    hh = pd.Series(np.asarray(household, dtype=object))
    alone = pd.Series(np.asarray(person, dtype=object)).map(lambda p: f"person:{p}")
    return hh.where(hh.notna(), alone).to_numpy(dtype=object)


def family_frame(children: pd.DataFrame, extra: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Return one row per (date, family) of the eligible children, highest score first.

    Parameters
    ----------
    children : DataFrame
        One row per child and date: ``date``, ``family``, ``score``, ``eligible`` and,
        if present, ``locality``; any other column can be carried by ``extra``.
    extra : mapping of str to str, optional
        Column -> pandas aggregation (e.g. ``{"label": "max", "band": "max"}``).

    Returns
    -------
    DataFrame
        ``date``, ``family``, ``family_score`` (the highest child score), ``locality``
        (the first child's; ``unknown`` when missing), ``children`` and the ``extra``
        columns; sorted by date, then score descending, then family. The index is
        0..n-1.
    """
    missing = [c for c in CHILD_COLUMNS if c not in children.columns]
    if missing:
        raise KeyError(ERR_COLUMNS.format(names=", ".join(missing)))
    kids = children.loc[children["eligible"].to_numpy(dtype=bool)]
    if "locality" in kids.columns:
        locality = kids["locality"].astype(object).where(kids["locality"].notna(), UNKNOWN_LOCALITY)
    else:
        locality = pd.Series(UNKNOWN_LOCALITY, index=kids.index, dtype=object)
    kids = kids.assign(locality=locality)
    aggs = {"family_score": ("score", "max"), "locality": ("locality", "first"),
            "children": ("score", "size")}  # fmt: skip
    aggs |= {name: (name, how) for name, how in (extra or {}).items()}
    fam = kids.groupby(["date", "family"], sort=False).agg(**aggs).reset_index()
    fam = fam.sort_values(
        ["date", "family_score", "family"], ascending=[True, False, True], kind="stable"
    )
    return fam.reset_index(drop=True)


def rank_within(families: pd.DataFrame, by: list[str]) -> np.ndarray:
    """Return each family's 1-based rank within its ``by`` group (``family_frame`` order)."""
    return families.groupby(by, sort=False).cumcount().to_numpy() + 1


def select(
    families: pd.DataFrame, capacity: Capacity, *, threshold: float | None = None
) -> np.ndarray:
    """Return which families of :func:`family_frame` are on their date's list.

    ``families_per_quarter``: the K highest on each date (all, if fewer);
    ``per_locality``: the K of each locality on each date (a locality not named gets
    none); ``top_share``: every family scoring at least ``threshold``, the operating
    threshold fixed at training to select that share (see
    :func:`threshold_for_share`).

    Raises
    ------
    ValueError
        If the capacity is a share and no threshold is given.
    """
    if capacity.top_share is not None:
        if threshold is None:
            raise ValueError(ERR_THRESHOLD)
        return families["family_score"].to_numpy(dtype=float) >= threshold
    if capacity.per_locality is not None:
        rank = rank_within(families, ["date", "locality"])
        quota = families["locality"].map(capacity.per_locality).fillna(0).to_numpy()
        return rank <= quota
    return rank_within(families, ["date"]) <= (capacity.families_per_quarter or 0)


def threshold_for_share(family_scores: np.ndarray, share: float) -> float:
    """Return the lowest score that puts at most ``share`` of the families on the list.

    The ``ceil(share * n)``-th highest family score; families tied with it are all
    listed, so the realised share can exceed ``share`` only by ties.
    """
    s = np.sort(np.asarray(family_scores, dtype=float))[::-1]
    if not len(s):
        return float("inf")
    k = max(1, int(np.ceil(share * len(s) - 1e-9)))
    return float(s[k - 1])


def listed_children(
    children: pd.DataFrame, families: pd.DataFrame, chosen: np.ndarray
) -> np.ndarray:
    """Return, per child row, whether its family is on its date's list."""
    on = families.loc[chosen, ["date", "family"]].assign(_on=True)
    hit = children[["date", "family"]].merge(on, on=["date", "family"], how="left")["_on"]
    return (hit.fillna(False).to_numpy(dtype=bool)) & children["eligible"].to_numpy(dtype=bool)
