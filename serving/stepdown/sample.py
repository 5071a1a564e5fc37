"""The audit sample: a stratified random sample of a month's closures, reproducible.

Quality assurance should not audit only the highest-scored cases. The month's closing
families (all of them, listed or not, eligible or not) are ordered by family score,
highest first (ties by pseudonym), and cut into three strata of as equal size as
possible: high, middle and low (the larger strata come first when the count does not
divide by three). From each stratum ``per_stratum`` families (all, if fewer) are drawn
without replacement with NumPy's ``default_rng(seed)``; the same families, seed and
size always give the same sample.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

STRATA = ("high", "middle", "low")
DEFAULT_PER_STRATUM = 5
ERR_PER_STRATUM = "per_stratum must be at least 1, got {n}"


def default_seed(month: dt.date) -> int:
    """Return the month's default seed (``YYYYMM``), so a rerun draws the same sample."""
    return month.year * 100 + month.month


def strata(families: pd.DataFrame) -> pd.Series:
    """Return each family's stratum (``high``, ``middle``, ``low``) by family score."""
    order = families.sort_values(["family_score", "family"], ascending=[False, True],
                                 kind="stable").index  # fmt: skip
    label = pd.Series("", index=families.index, dtype=object)
    for name, part in zip(STRATA, np.array_split(np.asarray(order), 3), strict=True):
        label.loc[part] = name
    return label


def audit_sample(
    families: pd.DataFrame, *, seed: int, per_stratum: int = DEFAULT_PER_STRATUM
) -> pd.DataFrame:
    """Return the stratified sample of ``families`` (``family``, ``family_score`` ...).

    Returns
    -------
    DataFrame
        The sampled families with ``stratum`` and ``stratum_size``, by stratum (high
        first) then score descending.
    """
    if per_stratum < 1:
        raise ValueError(ERR_PER_STRATUM.format(n=per_stratum))
    fam = families.reset_index(drop=True)
    fam = fam.assign(stratum=strata(fam))
    rng = np.random.default_rng(seed)
    parts = []
    for name in STRATA:
        part = fam.loc[fam["stratum"] == name].sort_values("family", kind="stable")
        take = rng.choice(len(part), size=min(per_stratum, len(part)), replace=False)
        parts.append(part.iloc[np.sort(take)].assign(stratum_size=len(part)))
    out = pd.concat(parts, ignore_index=True)
    out["_s"] = out["stratum"].map({s: i for i, s in enumerate(STRATA)})
    out = out.sort_values(["_s", "family_score", "family"], ascending=[True, False, True])
    return out.drop(columns="_s").reset_index(drop=True)


def design(seed: int, per_stratum: int, sizes: dict[str, int]) -> list[tuple[str, str]]:
    """Return the sample's design in words for its sheet: (heading, text) pairs."""
    counts = ", ".join(f"{s} {sizes.get(s, 0):,}" for s in STRATA)
    return [
        ("Purpose", "A sample of the month's closures for the quality-assurance case audit, "
         "so that audits are not only of the highest-scored cases."),
        ("Design", "All families whose referral closed in the month (RC7-RC9), listed or "
         "not, ordered by family score and cut into three equal strata (high, middle, low "
         f"score). Families per stratum: {counts}. Up to {per_stratum} families drawn at "
         "random from each stratum, without replacement."),
        ("Seed", f"{seed} (NumPy default_rng; the same seed gives the same sample)."),
    ]  # fmt: skip
