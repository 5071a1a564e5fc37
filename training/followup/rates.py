"""Contact and "not appropriate" rates by group, with family-bootstrap CIs and suppression.

Rates are over the listed children whose family has a decision (a child carries its
family's decision), so a group is measured the way the list's fairness check and the
audit measure it: children, by ethnic group, sex, disability, age band, IMD quintile and
locality. The bootstrap resamples families, because a family's children share one
decision. For each group the "not appropriate" rate is compared with the rest of the
decided list (the group's rate minus the others'); a group is *flagged* when that
difference's 95 % interval lies above zero: managers set the list aside for it more
often than for everyone else. Groups with fewer than ``min_people`` children (and the
cells that would give them back by subtraction) are suppressed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from stratify.core.text import SUPPRESSED
from stratify.features.decisions.codes import CONTACTED, NOT_APPROPRIATE
from stratify.training.audit.suppress import OVERALL, apply_suppression, hidden_cells
from stratify.training.metrics.bootstrap import family_codes, percentile_ci, resample_weights

DIMENSIONS = ("ethnic_group", "sex", "has_disability", "age_band", "imd_quintile", "locality")
RATES = ("contacted", "not_appropriate")
FIGURES = (
    "children", "families", "contacted", "contacted_low", "contacted_high", "not_appropriate",
    "not_appropriate_low", "not_appropriate_high", "difference", "difference_low",
    "difference_high",
)  # fmt: skip


def group_label(values: pd.Series) -> pd.Series:
    """Return group labels as text (missing: ``Unknown``)."""
    return values.astype(object).where(values.notna(), "Unknown").astype(str)


def cells(frame: pd.DataFrame, dims: Sequence[str]) -> list[tuple[str, str, np.ndarray]]:
    """Return ``(dimension, group, row mask)`` for Overall and every group of ``dims``."""
    out = [(OVERALL, OVERALL, np.ones(len(frame), bool))]
    for dim in dims:
        labels = group_label(frame[dim])
        for group in sorted(labels.unique()):
            out.append((dim, group, (labels == group).to_numpy()))
    return out


def _family_sums(
    children: pd.DataFrame, found: list[tuple[str, str, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return per family and cell: children, contacted children, set-aside children."""
    fam, n_fam = family_codes(children["family"])
    contacted = children["decision"].isin(CONTACTED).to_numpy(float)
    set_aside = (children["decision"] == NOT_APPROPRIATE).to_numpy(float)
    n = np.zeros((n_fam, len(found)))
    c, a = np.zeros_like(n), np.zeros_like(n)
    for j, (_, _, mask) in enumerate(found):
        n[:, j] = np.bincount(fam[mask], minlength=n_fam)
        c[:, j] = np.bincount(fam[mask], weights=contacted[mask], minlength=n_fam)
        a[:, j] = np.bincount(fam[mask], weights=set_aside[mask], minlength=n_fam)
    return n, c, a


def _bootstrap(
    n: np.ndarray, c: np.ndarray, a: np.ndarray, n_boot: int, seed: int
) -> dict[str, np.ndarray]:
    """Return replicate rates per cell (column 0 is Overall): contacted, set aside, diff."""
    reps: dict[str, list[np.ndarray]] = {k: [] for k in ("contacted", "not_appropriate", "diff")}
    for w in resample_weights(n.shape[0], n_boot, seed):
        wn, wc, wa = w @ n, w @ c, w @ a
        with np.errstate(invalid="ignore", divide="ignore"):
            reps["contacted"].append(wc / wn)
            reps["not_appropriate"].append(wa / wn)
            reps["diff"].append(wa / wn - (wa[:, :1] - wa) / (wn[:, :1] - wn))
    return {k: np.vstack(v) for k, v in reps.items()}


def rates_by_group(
    children: pd.DataFrame,
    dims: Sequence[str] = DIMENSIONS,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    min_people: int = 10,
) -> pd.DataFrame:
    """Return per group the contact and not-appropriate rates with CIs, and the flag.

    Parameters
    ----------
    children : DataFrame
        One row per listed child with a decided family: ``family``, ``decision`` and
        the ``dims`` columns.
    dims : sequence of str
        The dimensions.
    n_boot, seed : int
        Family-bootstrap replicates and seed.
    min_people : int
        Groups with fewer children are suppressed.

    Returns
    -------
    DataFrame
        ``dimension``, ``group`` and :data:`FIGURES` (rates as shares; ``difference``:
        the group's not-appropriate rate minus the rest's) and ``flagged``; suppressed
        figures read ``"suppressed"``.
    """
    found = cells(children, dims)
    n, c, a = _family_sums(children, found)
    boot = _bootstrap(n, c, a, n_boot, seed)
    rows = []
    tot_n, tot_a = n.sum(axis=0), a.sum(axis=0)
    for j, (dim, group, _) in enumerate(found):
        others = tot_n[0] - tot_n[j]
        diff = tot_a[j] / tot_n[j] - (tot_a[0] - tot_a[j]) / others if others else float("nan")
        row = {"dimension": dim, "group": group, "children": int(tot_n[j]),
               "families": int((n[:, j] > 0).sum()), "contacted": c[:, j].sum() / tot_n[j],
               "not_appropriate": tot_a[j] / tot_n[j], "difference": diff}  # fmt: skip
        for key, name in (("contacted", "contacted"), ("not_appropriate", "not_appropriate"),
                          ("diff", "difference")):  # fmt: skip
            row[f"{name}_low"], row[f"{name}_high"] = percentile_ci(boot[key][:, j])
        if dim == OVERALL:
            row["difference"] = row["difference_low"] = row["difference_high"] = float("nan")
        rows.append(row)
    table = pd.DataFrame(rows)
    table["flagged"] = table["difference_low"] > 0
    counts = table[["dimension", "group", "children"]].assign(positives=0)
    hidden = hidden_cells(counts, min_people=min_people, min_positives=0, people="children")
    table = apply_suppression(table, hidden, keep=("flagged",))
    table.loc[table["children"].eq(SUPPRESSED), "flagged"] = False
    return table[["dimension", "group", *FIGURES, "flagged"]]


def largest_disparity(table: pd.DataFrame) -> pd.Series | None:
    """Return the shown group with the largest not-appropriate difference from the rest."""
    shown = table.loc[(table["dimension"] != OVERALL) & (table["children"] != SUPPRESSED)]
    diffs = pd.to_numeric(shown["difference"], errors="coerce")
    if diffs.notna().sum() == 0:
        return None
    return shown.iloc[int(np.argmax(diffs.fillna(-np.inf).to_numpy()))]
