"""stratify.serving: the BentoML scoring service and batch outreach lists.

Reads models and the feature catalogue, never training code paths. Public API:
:class:`serving.scoring.Scorer` (probabilities, bands and SHAP reasons of records, with
or without BentoML), :mod:`serving.store` (import a champion from MLflow into the
BentoML store), :class:`serving.service.Stratify` (the service: ``POST /score``,
``GET /model``), :mod:`serving.auth` (bearer tokens), :mod:`serving.audit_log`, and
:func:`serving.cli.register` (``import-model``, ``serve``, ``tokens add``), and the
outreach lists: :func:`serving.outreach.build_list` (rank families, reasons for the
listed ones only), :func:`serving.outreach_run.run_outreach` (cohort, list, workbook and
page) and ``stratify outreach`` (:mod:`serving.outreach_cli`).
"""
