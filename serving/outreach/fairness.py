"""The outreach list's fairness check: who is on the list, against who could have been.

For each audit dimension (ethnic group, sex, disability, age band, IMD quintile,
locality) and each of its groups: the children of the eligible cohort (families not
open to social care, in the list's locality), the children on the list, each as a count
and a share, the group's selection rate (listed / eligible) and its ratio to the
selection rate of the dimension's largest shown group. A ratio well below 1 means the
group is on the list less often than the largest group; it is a prompt to look, not a
finding of bias (the need the records show may differ between groups).

Small cells are suppressed as in the model's audit: a group with fewer than
``min_people`` eligible or listed children shows ``"suppressed"`` instead of every
figure, and when that leaves exactly one group of a dimension hidden, the next smallest
group is hidden too, so no hidden figure can be recovered by subtraction from the
dimension's total.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from stratify.features import labels

SUPPRESSED = "suppressed"
UNKNOWN = labels.UNKNOWN
COLUMNS = (
    "dimension",
    "group",
    "eligible",
    "eligible_share",
    "listed",
    "listed_share",
    "selection_rate",
    "ratio",
    "compared_with",
)
#: The figures a hidden group withholds.
FIGURES = ("eligible", "eligible_share", "listed", "listed_share", "selection_rate", "ratio")
#: Dimension -> its name in words (one owner: :mod:`stratify.features.labels`).
DIMENSION_NAMES = {
    d: labels.dimension_label(d)
    for d in ("ethnic_group", "sex", "has_disability", "age_band", "imd_quintile", "locality")
}
ERR_LENGTH = "listed has {n} flags for {rows} eligible children"
ERR_DIMENSION = "the audit table has no column {name}"


def group_label(dimension: str, values: pd.Series) -> pd.Series:
    """Return each child's group in ``dimension`` in words (missing: ``"Unknown"``)."""
    known = values.notna().to_numpy()
    present = values[known]
    out = np.full(len(values), UNKNOWN, dtype=object)
    if dimension == "has_disability":
        present = present.astype(bool)
    elif dimension == "imd_quintile":
        present = present.astype(int)
    words = {v: labels.group_label(dimension, v) for v in pd.unique(present)}
    out[known] = present.map(words).to_numpy(dtype=object)
    return pd.Series(out, index=values.index, dtype=object)


def _order(dimension: str, groups: Sequence[str]) -> list[str]:
    """Return the groups in their code list's order (youngest age first), unknown last."""
    order = list(dict.fromkeys(labels.label_lists().get(dimension, {}).values()))

    def key(g: str) -> tuple[int, int, str]:
        if g == UNKNOWN:
            return (2, 0, g)
        return (0, order.index(g), g) if g in order else (1, 0, g)

    return sorted(groups, key=key)


def hidden_groups(counts: pd.DataFrame, min_people: int) -> set[tuple[str, str]]:
    """Return the (dimension, group) cells to suppress.

    Parameters
    ----------
    counts : DataFrame
        One row per cell: ``dimension``, ``group``, ``eligible``, ``listed``.
    min_people : int
        A cell with fewer eligible or fewer listed children is hidden.

    Returns
    -------
    set of tuple of str
        The small cells and, in a dimension where exactly one cell is small, the next
        smallest cell (by eligible children) as well.
    """
    hidden: set[tuple[str, str]] = set()
    for dim, part in counts.groupby("dimension", sort=False):
        small = (part["eligible"] < min_people) | (part["listed"] < min_people)
        cells = {(str(dim), str(g)) for g in part.loc[small, "group"]}
        shown = part.loc[~small].sort_values(["eligible", "group"])
        if len(cells) == 1 and len(shown):
            cells.add((str(dim), str(shown["group"].iloc[0])))
        hidden |= cells
    return hidden


def group_counts(
    audit: pd.DataFrame, listed: np.ndarray, dimensions: Sequence[str]
) -> pd.DataFrame:
    """Return eligible and listed children per (dimension, group).

    Parameters
    ----------
    audit : DataFrame
        One row per eligible child, with a column per dimension.
    listed : ndarray of bool
        Whether each row's child is on the list.
    dimensions : sequence of str
        Audit columns to break down by.

    Returns
    -------
    DataFrame
        ``dimension``, ``group``, ``eligible``, ``listed``; groups in a readable order.
    """
    if len(listed) != len(audit):
        raise ValueError(ERR_LENGTH.format(n=len(listed), rows=len(audit)))
    flags = pd.Series(np.asarray(listed, dtype=bool), index=audit.index)
    parts = []
    for dim in dimensions:
        if dim not in audit.columns:
            raise KeyError(ERR_DIMENSION.format(name=dim))
        labels = group_label(dim, audit[dim])
        agg = flags.groupby(labels).agg(["size", "sum"])
        order = _order(dim, [str(g) for g in agg.index])
        agg = agg.loc[order]
        parts.append(
            pd.DataFrame(
                {
                    "dimension": dim,
                    "group": order,
                    "eligible": agg["size"].to_numpy(dtype=np.int64),
                    "listed": agg["sum"].to_numpy(dtype=np.int64),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["dimension", "group", "eligible", "listed"])
    return pd.concat(parts, ignore_index=True)


def _rates(part: pd.DataFrame, hidden: set[tuple[str, str]]) -> pd.DataFrame:
    """Add shares, selection rates and ratios to one dimension's counts."""
    out = part.copy()
    out["eligible_share"] = out["eligible"] / max(int(out["eligible"].sum()), 1)
    out["listed_share"] = out["listed"] / max(int(out["listed"].sum()), 1)
    out["selection_rate"] = out["listed"] / out["eligible"].clip(lower=1)
    shown = out[[(d, g) not in hidden for d, g in zip(out["dimension"], out["group"], strict=True)]]
    # the reference is the largest *shown* group: a hidden one's rate could be recovered
    # from any shown group's rate and ratio
    if len(shown) and shown["selection_rate"].max() > 0:
        ref = shown.sort_values(["eligible", "group"], ascending=[False, True]).iloc[0]
        rate = float(ref["selection_rate"])
        out["ratio"] = out["selection_rate"] / rate if rate > 0 else np.nan
        out["compared_with"] = str(ref["group"])
    else:
        out["ratio"], out["compared_with"] = np.nan, ""
    return out


def fairness_table(
    audit: pd.DataFrame, listed: np.ndarray, dimensions: Sequence[str], *, min_people: int
) -> pd.DataFrame:
    """Return the fairness check of a list, small cells suppressed.

    Parameters
    ----------
    audit : DataFrame
        One row per eligible child (protected characteristics, IMD quintile, locality).
    listed : ndarray of bool
        Whether each child is on the list.
    dimensions : sequence of str
        The audit dimensions (``AuditConfig.groups``).
    min_people : int
        Cells with fewer eligible or listed children are suppressed.

    Returns
    -------
    DataFrame
        :data:`COLUMNS`; the :data:`FIGURES` of hidden cells hold ``"suppressed"``.
    """
    counts = group_counts(audit, listed, dimensions)
    hidden = hidden_groups(counts, min_people)
    parts = [_rates(p, hidden) for _, p in counts.groupby("dimension", sort=False)]
    if not parts:
        return pd.DataFrame(columns=list(COLUMNS))
    table = pd.concat(parts, ignore_index=True)[list(COLUMNS)]
    mask = np.array(
        [(d, g) in hidden for d, g in zip(table["dimension"], table["group"], strict=True)],
        dtype=bool,
    )
    figures = list(FIGURES)
    table[figures] = table[figures].astype(object)
    table.loc[mask, figures] = SUPPRESSED
    return table
