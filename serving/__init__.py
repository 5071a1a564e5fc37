"""stratify.serving: the BentoML scoring service and batch outreach lists.

Reads models and the feature catalogue, never training code paths. Public API:
:class:`stratify.serving.scoring.Scorer` (probabilities, bands and SHAP reasons of records, with
or without BentoML), :mod:`stratify.serving.store` (import a champion from MLflow into the
BentoML store), :class:`stratify.serving.api.service.Stratify` (the service: ``POST /score``,
``GET /model``), :mod:`stratify.serving.api.auth` (bearer tokens), :mod:`stratify.serving.api.audit_log`, and
:func:`stratify.serving.cli.register` (``import-model``, ``serve``, ``tokens add``), and the
outreach lists: :func:`stratify.serving.outreach.ranking.build_list` (rank families, reasons for the
listed ones only), :func:`stratify.serving.outreach.run.run_outreach` (cohort, list, workbook and
page) and ``stratify outreach`` (:mod:`stratify.serving.outreach_cli`).
"""
