"""The fairness audit of one model at its operating point (the outreach capacity).

``audit`` takes the test-window predictions (one row per decision point, with the audit
columns beside them) and returns an :class:`AuditResult`: per group and intersection the
size, base rate, selection rate, recall at capacity, false negative and false positive
rates, precision, calibration in the large (observed/expected and mean score minus
observed rate) and ROC AUC, each with a family-bootstrap 95 % interval;
differences and ratios against the overall figure and the reference group; the working
group's fairness checks; calibration curves; and, where possible, the true-need view,
the proxy check and the equal-FNR what-if. Small cells are suppressed inside ``audit``,
before the result exists, so nothing built from it can show them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from stratify.features.config import PROTECTED_COLUMNS, AuditConfig
from stratify.training.audit import stats
from stratify.training.audit.calibration import calibration_curves
from stratify.training.audit.checks import Check, FairnessVerdict, fairness_checks, verdict
from stratify.training.audit.need import WhatIf, true_need_table, what_if
from stratify.training.audit.proxy import proxy_check
from stratify.training.audit.serialise import plain, records
from stratify.training.audit.suppress import Cell, apply_suppression, hidden_cells
from stratify.training.audit.tables import disparity_table, group_table, references
from stratify.training.metrics.bootstrap import family_codes
from stratify.training.policy import FairnessBar

REQUIRED = ("person_id", "household_id", "label", "score", "selected")
ERR_MISSING = "predictions lack the columns {columns}"
ERR_EMPTY = "predictions has no rows"
ERR_LABEL = "label must be 0 or 1 in every row"
ERR_SCORE = "score must be a finite number in every row"
DISPARITY_LABELS = ("versus", "reference", "metric")


@dataclass(frozen=True)
class AuditResult:
    """Everything the audit found, small cells already suppressed.

    Attributes
    ----------
    groups : DataFrame
        One row per (dimension, group), ``Overall`` first: counts and metrics with CIs.
    disparities : DataFrame
        Differences and ratios against ``Overall`` and the reference group, with CIs.
    checks : tuple of Check
        The policy's fairness criteria, group by group.
    verdict : FairnessVerdict
        Overall outcome and the count of each outcome.
    calibration : DataFrame
        Mean score against observed rate per group and score bin.
    true_need : DataFrame or None
        The true-need view; None without ground truth.
    proxy, proxy_features : DataFrame or None
        Proxy AUC per protected dimension and its most associated features; None
        without ``X``.
    what_if : WhatIf or None
        Equal-FNR thresholds (reported, never applied).
    settings : dict
        Thresholds, resamples, seed, reference rule, rows and families audited.
    """

    groups: pd.DataFrame
    disparities: pd.DataFrame
    checks: tuple[Check, ...]
    verdict: FairnessVerdict
    calibration: pd.DataFrame
    true_need: pd.DataFrame | None
    proxy: pd.DataFrame | None
    proxy_features: pd.DataFrame | None
    what_if: WhatIf | None
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Return the whole audit as a JSON-ready mapping."""
        return {
            "settings": plain(self.settings),
            "verdict": self.verdict.to_dict(),
            "checks": [c.to_dict() for c in self.checks],
            "groups": records(self.groups),
            "disparities": records(self.disparities),
            "calibration": records(self.calibration),
            "true_need": records(self.true_need),
            "proxy": records(self.proxy),
            "proxy_features": records(self.proxy_features),
            "what_if": None if self.what_if is None else plain(self.what_if.to_dict()),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as JSON text (no NaN: missing figures are null)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def _validate(frame: pd.DataFrame, dims: list[str | tuple[str, str]]) -> None:
    needed = set(REQUIRED) | {c for d in dims for c in ([d] if isinstance(d, str) else d)}
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise ValueError(ERR_MISSING.format(columns=missing))
    if frame.empty:
        raise ValueError(ERR_EMPTY)
    if not frame["label"].isin([0, 1]).all():
        raise ValueError(ERR_LABEL)
    if not np.isfinite(frame["score"].to_numpy(dtype=float)).all():
        raise ValueError(ERR_SCORE)


def family_of(frame: pd.DataFrame) -> tuple[np.ndarray, int]:
    """Return each row's family code: its household, or the child alone if none."""
    own = "person:" + frame["person_id"].astype(str)
    return family_codes(
        frame["household_id"].astype(object).where(frame["household_id"].notna(), own)
    )


def _cell_tables(
    frame: pd.DataFrame,
    dims: list[str | tuple[str, str]],
    *,
    fam: np.ndarray,
    n_fam: int,
    n_boot: int,
    seed: int,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    cells = stats.make_cells(frame, dims)
    label, score = frame["label"].to_numpy(dtype=int), frame["score"].to_numpy(dtype=float)
    q = stats.quantities(label, frame["selected"].to_numpy(dtype=bool), score)
    points = stats.point_metrics(frame, cells)
    rep_sums, rep_auc = stats.bootstrap(
        cells,
        q,
        label,
        fam,
        auc_point=points["roc_auc"].to_numpy(),
        n_families=n_fam,
        n_boot=n_boot,
        seed=seed,
    )
    replicates = stats.rates(rep_sums) | {"roc_auc": rep_auc}
    return group_table(cells, stats.point_sums(cells, q), points, replicates), replicates


def audit(
    predictions: pd.DataFrame,
    *,
    config: AuditConfig,
    policy: FairnessBar,
    X: pd.DataFrame | None = None,  # noqa: N803 - the scikit-learn name for inputs
    seed: int = 0,
    what_if_dimension: str = "ethnic_group",
) -> AuditResult:
    """Audit one model's predictions at its operating point.

    Parameters
    ----------
    predictions : DataFrame
        One row per decision point: ``person_id``, ``household_id``, ``label`` (0/1),
        ``score``, ``selected`` (in the outreach list), the audit columns, and
        optionally ``in_need`` (the simulator's truth, NA where unknown).
    config : AuditConfig
        Groups, intersections, suppression thresholds and bootstrap resamples.
    policy : FairnessBar
        The working group's fairness bar.
    X : DataFrame, optional
        The model's inputs, row for row with ``predictions``, for the proxy check.
    seed : int
        Seed of the family bootstrap (and the proxy subsample).
    what_if_dimension : str
        The dimension of the equal-FNR what-if.

    Returns
    -------
    AuditResult
    """
    dims: list[str | tuple[str, str]] = [*config.groups, *config.intersections]
    _validate(predictions, dims)
    # The products are many and small: one BLAS thread is as fast unloaded and several
    # times faster when other work (training, tests) shares the machine.
    with threadpool_limits(limits=1, user_api="blas"):
        return _audit(
            predictions, dims, config=config, policy=policy, X=X, seed=seed,
            what_if_dimension=what_if_dimension,
        )  # fmt: skip


def _audit(
    predictions: pd.DataFrame,
    dims: list[str | tuple[str, str]],
    *,
    config: AuditConfig,
    policy: FairnessBar,
    X: pd.DataFrame | None,
    seed: int,
    what_if_dimension: str,  # noqa: N803
) -> AuditResult:
    frame = predictions.reset_index(drop=True)
    fam, n_fam = family_of(frame)
    raw, replicates = _cell_tables(
        frame, dims, fam=fam, n_fam=n_fam, n_boot=config.n_boot, seed=seed
    )
    hidden = hidden_cells(raw, min_people=config.min_people, min_positives=config.min_positives)
    refs = references(raw, hidden, policy.reference)
    disparities = disparity_table(raw, replicates, refs)
    checks = fairness_checks(raw, disparities, refs, hidden, policy)
    proxy, proxy_features = _proxy(X, frame, config, fam, seed)
    return AuditResult(
        groups=apply_suppression(raw, hidden),
        disparities=apply_suppression(disparities, hidden, keep=DISPARITY_LABELS),
        checks=checks,
        verdict=verdict(checks),
        calibration=calibration_curves(
            frame,
            config.groups,
            hidden=hidden,
            min_people=config.min_people,
            min_positives=config.min_positives,
        ),
        true_need=_true_need(frame, dims, hidden, config),
        proxy=proxy,
        proxy_features=proxy_features,
        what_if=_what_if(frame, raw, hidden, what_if_dimension),
        settings={
            "min_people": config.min_people,
            "min_positives": config.min_positives,
            "n_boot": config.n_boot,
            "seed": seed,
            "reference": policy.reference,
            "rows": len(frame),
            "families": n_fam,
            "groups": list(config.groups),
            "intersections": [list(i) for i in config.intersections],
            "fairness_bar": policy.model_dump(mode="json"),
        },
    )


def _true_need(
    frame: pd.DataFrame,
    dims: list[str | tuple[str, str]],
    hidden: frozenset[Cell],
    config: AuditConfig,
) -> pd.DataFrame | None:
    if "in_need" not in frame or not frame["in_need"].notna().any():
        return None
    return true_need_table(
        frame, dims, hidden=hidden, min_people=config.min_people, min_positives=config.min_positives
    )


def _proxy(
    X: pd.DataFrame | None,
    frame: pd.DataFrame,
    config: AuditConfig,
    fam: np.ndarray,
    seed: int,  # noqa: N803
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    if X is None:
        return None, None
    protected = [g for g in config.groups if g in PROTECTED_COLUMNS]
    return proxy_check(X, frame, protected, fam, min_class=config.min_people, seed=seed)


def _what_if(
    frame: pd.DataFrame, raw: pd.DataFrame, hidden: frozenset[Cell], dim: str
) -> WhatIf | None:
    # always against the largest group: with reference "overall" there is no group to match
    largest = references(raw, hidden, "largest").get(dim)
    if largest is None:
        return None
    return what_if(frame, dim, str(raw.at[largest, "group"]), hidden)
