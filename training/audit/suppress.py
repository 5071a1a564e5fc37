"""Small-cell suppression: the one place that decides which audit figures are withheld.

A cell (one group of one dimension, or one score bin of a group) with fewer than
``min_people`` people or fewer than ``min_positives`` positives is *hidden*: every
figure about it is replaced by the string ``"suppressed"`` before any table leaves the
audit, so the card, the JSON and the plots can only ever show what survived. Rates are
withheld as well as counts, because a rate and a group size give the count back.

Secondary suppression: wherever a hidden cell could be recovered by subtraction (the
only hidden group of a dimension, set against ``Overall``; the only hidden cell of an
intersection's row, set against its margin; the only hidden bin of a group, or of a
bin across groups), the next smallest part of the same total is hidden too, until no
such cell is left.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from stratify.core.text import SUPPRESSED

#: Columns that name a cell rather than describe it; never suppressed.
KEY_COLUMNS = ("dimension", "group")
OVERALL = "Overall"
#: Joins the two dimensions (and the two groups) of an intersection.
SEP = " x "
ERR_KEYS = "a suppressed table needs the columns {keys}; got {columns}"

Cell = tuple[str, ...]


def _key_list(table: pd.DataFrame, keys: tuple[str, ...]) -> list[Cell]:
    missing = [k for k in keys if k not in table.columns]
    if missing:
        raise KeyError(ERR_KEYS.format(keys=list(keys), columns=list(table.columns)))
    cols = [table[k].astype(str) for k in keys]
    return list(zip(*cols, strict=True))


def _additive_sets(names: list[Cell]) -> list[tuple[Cell | None, list[Cell]]]:
    """Return (total, parts) sets whose parts add up to the total (None: shown elsewhere).

    A cell is ``(dimension, group, *rest)``, ``rest`` being e.g. a score bin: the groups
    of a dimension add up to ``Overall``, an intersection's cells to each margin (per
    ``rest``), and the bins of one group to that group.
    """
    sets: dict[tuple[Cell | None, Cell], list[Cell]] = {}
    for name in names:
        dim, group, rest = name[0], name[1], name[2:]
        if rest:
            sets.setdefault((None, (dim, group)), []).append(name)
        if dim == OVERALL:
            continue
        sets.setdefault(((OVERALL, OVERALL, *rest), (dim, *rest)), []).append(name)
        dims, groups = dim.split(SEP), group.split(SEP)
        if len(dims) == 2 and len(groups) == 2:
            for d, g in zip(dims, groups, strict=True):
                sets.setdefault(((d, g, *rest), (dim, *rest)), []).append(name)
    return [(total, parts) for (total, _), parts in sets.items()]


def hidden_cells(
    counts: pd.DataFrame,
    *,
    min_people: int,
    min_positives: int,
    people: str = "people",
    positives: str = "positives",
    keys: tuple[str, ...] = KEY_COLUMNS,
    given: Iterable[Cell] = (),
) -> frozenset[Cell]:
    """Return the cells whose figures must be withheld.

    Parameters
    ----------
    counts : DataFrame
        One row per cell with the ``keys`` columns and the two count columns.
    min_people, min_positives : int
        Cells below either threshold are hidden.
    people, positives : str
        The count columns to test.
    keys : tuple of str
        The columns naming a cell: ``dimension``, ``group``, then any others (such as a
        score bin); see :func:`_additive_sets` for which cells add up to which.
    given : iterable of tuple of str
        Cells already hidden for another reason.

    Returns
    -------
    frozenset of tuple of str
        Primary small cells plus the secondary cells that protect them: wherever a
        hidden cell could be recovered by subtraction, the smallest other part of the
        same total is hidden too, until no such cell is left.
    """
    names = _key_list(counts, keys)
    small = ((counts[people] < min_people) | (counts[positives] < min_positives)).to_numpy()
    size = dict(zip(names, zip(counts[positives], counts[people], strict=True), strict=True))
    hidden = {k for k, s in zip(names, small, strict=True) if s} | set(given)
    sets = _additive_sets(names)
    changed = True
    while changed:
        changed = False
        for total, parts in sets:
            members = parts if total is None or total not in size else [total, *parts]
            shown = [p for p in parts if p not in hidden]
            if sum(m in hidden for m in members) == 1 and shown:
                hidden.add(min(shown, key=lambda p: size[p]))
                changed = True
    return frozenset(hidden)


def apply_suppression(
    table: pd.DataFrame,
    hidden: Iterable[Cell],
    *,
    keys: tuple[str, ...] = KEY_COLUMNS,
    keep: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Replace every figure of every hidden cell by ``"suppressed"``.

    Parameters
    ----------
    table : DataFrame
        Any audit table with the ``keys`` columns (several rows per cell are fine, e.g.
        one per metric compared).
    hidden : iterable of tuple of str
        Cells to withhold, from :func:`hidden_cells`, keyed like ``keys``.
    keys : tuple of str
        The columns naming a cell.
    keep : tuple of str
        Other label columns left as they are (never figures).

    Returns
    -------
    DataFrame
        A copy; the figure columns of hidden rows hold the string ``"suppressed"``.
    """
    hidden = frozenset(hidden)
    out = table.copy()
    mask = pd.Series([k in hidden for k in _key_list(out, keys)], index=out.index, dtype=bool)
    if not mask.any():
        return out
    figures = [c for c in out.columns if c not in keys and c not in keep]
    out[figures] = out[figures].astype(object)
    out.loc[mask, figures] = SUPPRESSED
    return out
