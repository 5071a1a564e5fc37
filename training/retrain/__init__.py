"""stratify.training.retrain: the quarterly retraining report, built from pure parts.

Each quarter data scientists retrain on a new extract and compare the candidate with the
champion. The report's sections are pure functions of frames the caller has read;
:mod:`.drift` is the drift section (``psi``, ``feature_drift``, ``score_drift``,
``cohort_by_locality``, ``base_rate_by_quarter``, and ``drift_report`` building a
:class:`~.drift.DriftReport`).
"""

from stratify.training.retrain.drift import DriftReport, drift_report, psi

__all__ = ["DriftReport", "drift_report", "psi"]
