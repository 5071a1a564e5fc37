"""Read a built feature table for training, with its audit attributes and any ground truth.

The feature table, its audit table and its metadata come from ``stratify features``
(:func:`stratify.features.build.pipeline.write_build`). On a synthetic borough the
simulator's ground truth (each sampled decision point's true label probability, each
child's true need) is joined by pseudonym; it is used only for evaluation and the audit,
never as input.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stratify.core.targets import Target
from stratify.features.build.output import AUDIT_FILE, FEATURES_FILE, METADATA_FILE
from stratify.features.model_input import input_columns, model_frame
from stratify.features.simulate import load_truth
from stratify.features.warehouse.pseudonymise import pseudonymise, resolve_key
from stratify.training.models import RULE_COLUMNS

ERR_NO_TABLE = (
    "no feature table for {target} in {folder}: run `stratify features --target {target}`"
)
ERR_MISMATCH = "{folder}: {a} and {b} are not from the same build (their keys differ)"
ERR_FEW_LABELS = "{folder}: only {n} labelled decision points; training needs at least {need}"
MIN_LABELLED = 200
KEYS = ["person_id", "as_of_date"]


@dataclass(frozen=True)
class TrainingTable:
    """The labelled decision points of one target, ready for the splits and models.

    Attributes
    ----------
    keys : DataFrame
        ``person_id``, ``household_id``, ``as_of_date`` (datetime.date), ``quarter``.
    X : DataFrame
        The model's input frame (:func:`stratify.features.model_input.model_frame`).
    y : ndarray of int
        The labels.
    audit : DataFrame
        Protected characteristics and area, aligned with ``X``.
    truth : DataFrame or None
        ``p_true`` (NaN when not sampled) and ``in_need`` (NA when unknown), aligned.
    metadata : dict
        The build's metadata.json, plus ``feature_table_hash``.
    """

    target: Target
    keys: pd.DataFrame
    X: pd.DataFrame
    y: np.ndarray
    audit: pd.DataFrame
    truth: pd.DataFrame | None
    metadata: dict[str, Any]

    @property
    def extract_date(self) -> dt.date:
        """The extract date of the warehouse the table was built from."""
        return dt.date.fromisoformat(self.metadata["extract_date"])

    @property
    def categories(self) -> dict[str, list[str]]:
        """Category values per category column (from the build, plus protected columns)."""
        cats = dict(self.metadata["categories"])
        for c in self.X.columns:
            if self.X[c].dtype == object and c not in cats:
                cats[c] = sorted(v for v in self.X[c].dropna().unique())
        return cats


ERR_EXCLUDE = "training.exclude_features: {names} {verb} not {what} of {target}"
ERR_EXCLUDE_RULE = (
    "training.exclude_features cannot remove {names}: the prior-referral rule baseline "
    "ranks by them"
)
ERR_NO_ELIGIBLE = (
    "the feature table in {folder} has no 'eligible' column (built by an older version): "
    "run `stratify features --target {target}` again"
)


def _inputs(target: Target, protected: tuple[str, ...], exclude: tuple[str, ...]) -> list[str]:
    """Return the input columns of ``target`` without ``exclude`` (checked by name)."""
    columns = input_columns(target, protected)
    unknown = sorted(set(exclude) - set(columns))
    if unknown:
        verb = "is" if len(unknown) == 1 else "are"
        raise ValueError(ERR_EXCLUDE.format(names=", ".join(unknown), verb=verb,
                                            what="features", target=target))  # fmt: skip
    needed = sorted(set(exclude) & set(RULE_COLUMNS))
    if needed:
        raise ValueError(ERR_EXCLUDE_RULE.format(names=", ".join(needed)))
    return [c for c in columns if c not in set(exclude)]


def quarter_label(dates: pd.Series) -> np.ndarray:
    """Return ``YYYYQn`` for each date."""
    return pd.PeriodIndex(pd.to_datetime(dates), freq="Q").astype(str).to_numpy()


def file_hash(path: Path) -> str:
    """Return the first 16 hex characters of the SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def load_table(
    folder: Path,
    target: Target,
    protected: tuple[str, ...] = (),
    truth_dir: Path | None = None,
    *,
    pseudonym_secret: str | None = None,
    exclude: tuple[str, ...] = (),
) -> TrainingTable:
    """Read ``folder`` (features, audit, metadata) and keep the labelled decision points.

    ``exclude`` names catalogue features left out of the model inputs
    (``training.exclude_features``).

    Raises
    ------
    FileNotFoundError
        If the feature table is missing (the message says which command builds it).
    ValueError
        If the audit table does not match, or too few points are labelled.
    """
    paths = {
        n: folder / f for n, f in (("f", FEATURES_FILE), ("a", AUDIT_FILE), ("m", METADATA_FILE))
    }
    if not all(p.exists() for p in paths.values()):
        raise FileNotFoundError(ERR_NO_TABLE.format(target=target, folder=folder))
    features = pd.read_parquet(paths["f"])
    audit = pd.read_parquet(paths["a"])
    metadata = {**json.loads(paths["m"].read_text()), "feature_table_hash": file_hash(paths["f"])}
    if (
        len(audit) != len(features)
        or not (audit["person_id"].to_numpy() == features["person_id"].to_numpy()).all()
    ):
        raise ValueError(ERR_MISMATCH.format(folder=folder, a=FEATURES_FILE, b=AUDIT_FILE))
    keep = features["label"].notna().to_numpy()
    if keep.sum() < MIN_LABELLED:
        raise ValueError(ERR_FEW_LABELS.format(folder=folder, n=int(keep.sum()), need=MIN_LABELLED))
    features = features[keep].reset_index(drop=True)
    audit = audit[keep].reset_index(drop=True)
    if "eligible" not in features.columns:
        raise ValueError(ERR_NO_ELIGIBLE.format(folder=folder, target=target))
    keys = features[["person_id", "household_id", "as_of_date", "eligible"]].copy()
    keys["eligible"] = keys["eligible"].astype(bool)
    keys["as_of_date"] = pd.to_datetime(keys["as_of_date"]).dt.date
    keys["quarter"] = quarter_label(keys["as_of_date"])
    # features the build left out for want of a source table (stratify.features.sources)
    unavailable = tuple(n for g in metadata.get("unavailable", []) for n in g["features"])
    inputs = _inputs(target, protected, tuple(dict.fromkeys(exclude + unavailable)))
    X = model_frame(features.join(audit[list(protected)]), inputs)
    truth = None if truth_dir is None else _truth(keys, target, truth_dir, pseudonym_secret)
    y = features["label"].to_numpy().astype(np.int8)
    return TrainingTable(target, keys, X, y, audit, truth, metadata)


def _truth(
    keys: pd.DataFrame, target: Target, truth_dir: Path, secret: str | None
) -> pd.DataFrame | None:
    """Join the simulator's truth to ``keys``; None when it is absent or does not match.

    The truth holds the simulator's identifiers: they are pseudonymised with the key the
    warehouse used (``secret``, or the demo key: the truth exists only for synthetic data).
    """
    if not (truth_dir / "decision_points.parquet").exists():
        return None
    key = resolve_key(secret, synthetic=True)
    dp, need = load_truth(truth_dir, lambda ids: pseudonymise(ids.astype(str), "person", key))
    dp = dp[dp["target"] == target][["person_id", "as_of_date", "p_true"]]
    dp["as_of_date"] = pd.to_datetime(dp["as_of_date"]).dt.date
    out = keys[KEYS].merge(dp, on=KEYS, how="left")
    out["in_need"] = need_at_start(keys, need).to_numpy()
    if out["in_need"].isna().all():
        return None  # the truth is of another borough or another key
    return out[["p_true", "in_need"]]


def need_at_start(keys: pd.DataFrame, need: pd.DataFrame) -> pd.Series:
    """Return each decision point's true need at the start of its ``as_of_date``'s month.

    The simulator writes a month's row, dated that month's first day, *after* stepping
    through the month (:class:`stratify.features.simulate.run._NeedWriter`): the row
    dated M holds the need at the end of M. The need in force at the start of month M is
    therefore the row dated the month before M; with no such row it is unknown (NA).

    Parameters
    ----------
    keys : DataFrame
        ``person_id`` and ``as_of_date`` per decision point.
    need : DataFrame
        ``person_id``, ``month`` (first day of the month written) and ``in_need``.

    Returns
    -------
    Series of boolean
        Aligned with ``keys`` (positional index).
    """
    month = pd.to_datetime(keys["as_of_date"]).dt.to_period("M").dt.to_timestamp()
    start = month - pd.DateOffset(months=1)  # the row written at the end of last month
    probe = pd.DataFrame({"person_id": keys["person_id"].to_numpy(), "month": start.to_numpy()})
    written = pd.to_datetime(need["month"]).dt.to_period("M").dt.to_timestamp()
    need = pd.DataFrame(
        {"person_id": need["person_id"], "month": written, "in_need": need["in_need"]}
    )
    found = probe.merge(need, on=["person_id", "month"], how="left", validate="many_to_one")
    return found["in_need"].astype("boolean")
