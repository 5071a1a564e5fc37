"""The audit as people read it: every dimension and group in words, never a code.

:func:`labelled` returns a copy of an :class:`AuditResult` whose tables name each
dimension and group through :mod:`stratify.features.labels` (``sex`` "1" becomes
"Sex", "Male"; ``imd_quintile`` "1" becomes "Area deprivation", "Most deprived fifth of
areas"). The card and the ATRS record are written from it; ``audit.json`` keeps the
codes, for machines.
"""

from __future__ import annotations

import dataclasses
from typing import overload

import pandas as pd

from stratify.features.labels import dimension_label, group_label
from stratify.training.audit.report import AuditResult


@overload
def _frame(table: pd.DataFrame, *, reference: bool = False) -> pd.DataFrame: ...
@overload
def _frame(table: None, *, reference: bool = False) -> None: ...
def _frame(table: pd.DataFrame | None, *, reference: bool = False) -> pd.DataFrame | None:
    if table is None or "dimension" not in table.columns:
        return table
    out = table.copy()
    dims = table["dimension"].astype(str)
    if "group" in out.columns:
        out["group"] = [group_label(d, g) for d, g in zip(dims, table["group"], strict=True)]
    if reference and "reference" in out.columns:
        out["reference"] = [
            group_label(d, g) for d, g in zip(dims, table["reference"], strict=True)
        ]
    out["dimension"] = [dimension_label(d) for d in dims]
    return out


def labelled(audit: AuditResult) -> AuditResult:
    """Return ``audit`` with its dimensions and groups in words (figures unchanged)."""
    checks = tuple(
        dataclasses.replace(
            c,
            dimension=dimension_label(c.dimension),
            group=group_label(c.dimension, c.group),
            reference=group_label(c.dimension, c.reference),
        )
        for c in audit.checks
    )
    what_if = audit.what_if
    if what_if is not None:
        dim = what_if.dimension
        groups = what_if.groups.copy()
        groups["group"] = [group_label(dim, g) for g in groups["group"]]
        what_if = dataclasses.replace(
            what_if,
            dimension=dimension_label(dim),
            reference=group_label(dim, what_if.reference),
            groups=groups,
        )
    settings = dict(audit.settings)
    settings["groups"] = [dimension_label(str(g)) for g in settings.get("groups", [])]
    return dataclasses.replace(
        audit,
        groups=_frame(audit.groups),
        disparities=_frame(audit.disparities, reference=True),
        checks=checks,
        calibration=_frame(audit.calibration),
        true_need=_frame(audit.true_need),
        proxy=_frame(audit.proxy),
        proxy_features=_frame(audit.proxy_features),
        what_if=what_if,
        settings=settings,
    )
