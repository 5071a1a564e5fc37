"""The scoring core: records in, calibrated probabilities, bands and reasons out.

:class:`Scorer` wraps one registered model (the scikit-learn pipeline logged by
training: an ordinal encoder, then a calibrated LightGBM) and its metadata. Scoring
needs no BentoML server, so the batch outreach job uses it as it is; a scorer is built
from a model folder, or from what :mod:`stratify.serving.store` located in the store
(the dependency runs one way: this module uses the store, never the reverse).

Two things make a single record cheap: records are encoded straight into the booster's
column order with the encoder's own category codes (no DataFrame per request; checked
against the pipeline's encoder when the scorer is built), and sigmoid or isotonic
calibration is applied to the booster's probabilities directly. Any other calibration
goes through the fitted scikit-learn calibrator. TreeSHAP values are computed only for
the records asked about, by :mod:`stratify.serving.treeshap` (LightGBM's own
``pred_contrib`` values, in about a third of the time), checked against ``pred_contrib`` on
probe records the first time a scorer explains anything, and by ``pred_contrib``
itself for a booster that module cannot serve or that fails the check.

Band: 1-10, the decile of the probability among the training population. The nine cut
points are the model's ``band_edges``; band = 1 + the number of cut points <= p.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from stratify.core.targets import Target
from stratify.features.model_input import model_frame
from stratify.serving import treeshap
from stratify.serving.reasons import TOP_REASONS, Reason, explainable, render
from stratify.serving.store import StoredModel, locate_champion

ERR_COLUMNS = "the model's booster columns do not match its input columns: {names}"
ERR_ENCODING = "the fast encoding disagrees with the model's own encoder; cannot serve it"
ERR_EDGES = "band_edges must be 9 ascending cut points, got {n}"
_FAST_CALIBRATION = ("sigmoid", "isotonic")
#: made-up records on which the fast TreeSHAP must equal LightGBM's before it is used
SHAP_PROBES = 64
log = logging.getLogger(__name__)


class Scorer:
    """Score and explain family-context records with one model version.

    Parameters
    ----------
    pipeline : Pipeline
        ``encode`` (ColumnTransformer) then ``model`` (CalibratedClassifierCV of a
        frozen LightGBM classifier), as logged by training.
    metadata : mapping
        The model's MLflow metadata: ``input_columns``, ``band_edges``, ``target`` ...
    version : int
        The registered MLflow version.
    threads : int
        LightGBM threads per call (0: LightGBM's default). The service uses 1 per worker.
    """

    def __init__(
        self, pipeline: Pipeline, metadata: Mapping[str, Any], version: int, threads: int = 0
    ) -> None:
        self.pipeline = pipeline
        self.metadata = dict(metadata)
        self.version = int(version)
        self.target: str = str(metadata["target"])
        self.columns: list[str] = list(metadata["input_columns"])
        self.edges = np.asarray(metadata["band_edges"], dtype=np.float64)
        if self.edges.shape != (9,) or np.any(np.diff(self.edges) < 0):
            raise ValueError(ERR_EDGES.format(n=self.edges.size))
        self.threads = threads
        encode, calibrated = pipeline.named_steps["encode"], pipeline.named_steps["model"]
        self._calibrated = calibrated
        self._booster = calibrated.calibrated_classifiers_[0].estimator.estimator.booster_
        self.order: list[str] = list(self._booster.feature_name())
        if sorted(self.order) != sorted(self.columns):
            raise ValueError(ERR_COLUMNS.format(names=sorted(set(self.order) ^ set(self.columns))))
        self._codes = _category_codes(encode)
        self._features = explainable(self.order)
        self._calibrator = _fast_calibrator(calibrated)
        # scikit-learn calibrates the decision function when the estimator has one
        # (LightGBM's raw margin), else the positive-class probability
        self._margin = hasattr(calibrated.calibrated_classifiers_[0].estimator, "decision_function")
        self._check_fast_path()
        self._shap: treeshap.TreeShap | None = None
        self._shap_checked = False  # (a flag, not a sentinel object: scorers are pickled)

    @classmethod
    def from_mlflow_dir(cls, path: Path, version: int, threads: int = 0) -> Scorer:
        """Load a downloaded MLflow model folder (its MLmodel metadata included)."""
        import mlflow.sklearn
        from mlflow.models import Model

        meta = Model.load(str(path)).metadata or {}
        return cls(mlflow.sklearn.load_model(str(path)), meta, version, threads)

    @classmethod
    def from_stored(cls, stored: StoredModel, threads: int = 0) -> Scorer:
        """Load a champion located in the BentoML store (:func:`.store.locate_champion`)."""
        return cls.from_mlflow_dir(stored.path, stored.champion.mlflow_version, threads)

    @classmethod
    def from_store(cls, work_dir: Path, target: Target, threads: int = 0) -> Scorer:
        """Load the champion of ``target`` imported into the store under ``work_dir``.

        Raises
        ------
        LookupError
            If no champion of ``target`` has been imported.
        """
        return cls.from_stored(locate_champion(work_dir, target), threads)

    # -- encoding -------------------------------------------------------------------

    def encode_rows(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Return validated records as the booster's float matrix (booster column order)."""
        X = np.empty((len(rows), len(self.order)), dtype=np.float64)
        for j, c in enumerate(self.order):
            codes = self._codes.get(c)
            if codes is None:
                X[:, j] = [math.nan if r[c] is None else float(r[c]) for r in rows]
            else:
                X[:, j] = [codes.get(str(r[c]), math.nan) for r in rows]
        return X

    def encode_frame(self, records: pd.DataFrame) -> np.ndarray:
        """Return a records frame as the booster's float matrix (via ``model_frame``)."""
        frame = model_frame(records, self.columns)
        X = np.empty((len(frame), len(self.order)), dtype=np.float64)
        for j, c in enumerate(self.order):
            codes = self._codes.get(c)
            col = frame[c]
            if codes is None:
                X[:, j] = col.to_numpy(dtype=np.float64)
            else:
                X[:, j] = [math.nan if v is None else codes.get(v, math.nan) for v in col]
        return X

    # -- prediction -----------------------------------------------------------------

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        """Return the calibrated probabilities of encoded records."""
        if self._calibrator is None:
            encoded = pd.DataFrame(X, columns=self.order)
            return np.asarray(self._calibrated.predict_proba(encoded)[:, 1], dtype=np.float64)
        raw = self._booster.predict(X, raw_score=self._margin, num_threads=self.threads)
        return _calibrate(self._calibrator, np.asarray(raw, dtype=np.float64))

    def bands(self, probabilities: np.ndarray) -> np.ndarray:
        """Return the band (1-10) of each probability."""
        return np.searchsorted(self.edges, probabilities, side="right") + 1

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Return TreeSHAP log-odds contributions (booster column order, no bias column)."""
        fast = self.fast_shap()
        if fast is not None:
            return fast.contributions(X)
        return self._lightgbm_contributions(X)

    def _lightgbm_contributions(self, X: np.ndarray) -> np.ndarray:
        out = self._booster.predict(X, pred_contrib=True, num_threads=self.threads)
        return np.asarray(out)[:, :-1]

    def fast_shap(self) -> treeshap.TreeShap | None:
        """Return the fast TreeSHAP of this model, built and checked on first use.

        None when :mod:`.treeshap` cannot serve the booster or disagrees with LightGBM's
        ``pred_contrib`` on :data:`SHAP_PROBES` made-up records (a warning says so, and
        LightGBM's own values are used). The service calls it at start-up.
        """
        if not self._shap_checked:
            fast = treeshap.build(self._booster.dump_model())
            if fast is not None:
                probes = treeshap.probe_rows(fast, SHAP_PROBES)
                expected = self._lightgbm_contributions(probes)
                if not np.allclose(fast.contributions(probes), expected, rtol=1e-9, atol=1e-9):
                    log.warning("fast TreeSHAP disagrees with LightGBM for %s v%d: using "
                                "LightGBM's pred_contrib", self.target, self.version)  # fmt: skip
                    fast = None
            self._shap, self._shap_checked = fast, True
        return self._shap

    def reasons(
        self, X: np.ndarray, values: np.ndarray, top: int = TOP_REASONS
    ) -> list[list[Reason]]:
        """Return each record's top reasons; ``values`` holds the raw values (booster order)."""
        contrib = self.contributions(X)
        return [render(self._features, contrib[i], values[i], top) for i in range(len(X))]

    def raw_values(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Return the records' raw values as an object matrix in booster column order."""
        return np.array([[r[c] for c in self.order] for r in rows], dtype=object)

    # -- the public API the outreach job uses ---------------------------------------

    def score(self, records: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Return the probabilities and bands of a records frame."""
        p = self.probabilities(self.encode_frame(records))
        return p, self.bands(p)

    def explain(self, records: pd.DataFrame, top: int = TOP_REASONS) -> list[list[Reason]]:
        """Return the top reasons of each record of a frame (SHAP for these rows only)."""
        frame = model_frame(records, self.columns)
        values = frame[self.order].to_numpy(dtype=object)
        return self.reasons(self.encode_frame(records), values, top)

    def _check_fast_path(self) -> None:
        """Check the fast encoding and calibration against the pipeline on made-up records.

        Raises
        ------
        ValueError
            If the encodings differ (the calibration falls back to scikit-learn's).
        """
        rows = [_probe(self.columns, self._codes, k) for k in range(3)]
        fast = self.encode_rows(rows)
        frame = model_frame(pd.DataFrame(rows), self.columns)
        reference = self.pipeline.named_steps["encode"].transform(frame)[self.order]
        if not np.allclose(fast, reference.to_numpy(dtype=np.float64), equal_nan=True):
            raise ValueError(ERR_ENCODING)
        if self._calibrator is not None:
            expected = self._calibrated.predict_proba(reference)[:, 1]
            if not np.allclose(self.probabilities(fast), expected, rtol=1e-9, atol=1e-12):
                self._calibrator = None


def _category_codes(encode: Any) -> dict[str, dict[str, float]]:
    """Return column -> value -> ordinal code, from the fitted ColumnTransformer."""
    codes: dict[str, dict[str, float]] = {}
    for name, transformer, cols in encode.transformers_:
        if name != "categories" or not len(cols):  # a model without category inputs
            continue
        for col, cats in zip(cols, transformer.categories_, strict=True):
            codes[col] = {str(v): float(i) for i, v in enumerate(cats) if v is not None}
    return codes


def _fast_calibrator(calibrated: Any) -> Any | None:
    """Return the one binary sigmoid/isotonic calibrator, or None to use scikit-learn's."""
    members = calibrated.calibrated_classifiers_
    if len(members) != 1 or members[0].method not in _FAST_CALIBRATION:
        return None
    member = members[0]
    if len(member.calibrators) != 1 or list(calibrated.classes_) != [0, 1]:
        return None
    return member.calibrators[0]


def _calibrate(calibrator: Any, raw: np.ndarray) -> np.ndarray:
    """Apply a fitted sigmoid or isotonic calibrator as scikit-learn does.

    Without scikit-learn's input checks, which cost a fifth of a single record's scoring.
    """
    if hasattr(calibrator, "a_"):  # _SigmoidCalibration: expit(-(a T + b))
        return np.asarray(1.0 / (1.0 + np.exp(calibrator.a_ * raw + calibrator.b_)))
    if getattr(calibrator, "out_of_bounds", None) == "clip":  # IsotonicRegression
        return np.interp(raw, calibrator.X_thresholds_, calibrator.y_thresholds_)
    return np.asarray(calibrator.predict(raw), dtype=np.float64)


def _probe(
    columns: Sequence[str], codes: Mapping[str, Mapping[str, float]], k: int
) -> dict[str, Any]:
    """Return a made-up record: counts k, and the k-th category (or none)."""
    row: dict[str, Any] = {}
    for c in columns:
        if c in codes:
            values = list(codes[c])
            row[c] = values[k % len(values)] if values and k < 2 else None
        else:
            row[c] = float(k)
    return row
