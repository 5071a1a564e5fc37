"""stratify.training.audit: the fairness audit of a model at its operating point.

:func:`audit` computes, by group and chosen intersections, selection rate, recall at
capacity, false negative and false positive rates, precision, calibration (observed/
expected) and AUC (Fairlearn ``MetricFrame`` point estimates, family-bootstrap CIs in
:mod:`.stats`), suppresses small cells (:mod:`.suppress`), compares with true need on
synthetic data (:mod:`.need`), checks for proxies (:mod:`.proxy`) and states each policy
check and the overall verdict (:mod:`.checks`).
"""

from stratify.training.audit.checks import FairnessVerdict, fairness_checks
from stratify.training.audit.report import AuditResult, audit

__all__ = ["AuditResult", "FairnessVerdict", "audit", "fairness_checks"]
