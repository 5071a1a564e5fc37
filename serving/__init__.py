"""stratify.serving: the BentoML scoring service and batch outreach lists.

Reads models and the feature catalogue, never training code paths. Public API:
:class:`stratify.serving.scoring.Scorer` (probabilities, bands and SHAP reasons of
records, with or without BentoML), :mod:`stratify.serving.store` (import a champion from
MLflow into the BentoML store; :class:`~stratify.serving.store.Champion`),
:class:`stratify.serving.settings.Settings` (resolved once, at an edge),
:class:`stratify.serving.api.service.Stratify` (the service: ``POST /score``,
``GET /model``), :mod:`stratify.serving.api.auth` (bearer tokens),
:mod:`stratify.serving.api.audit_log`, the outreach lists
(:func:`stratify.serving.outreach.ranking.build_list`,
:func:`stratify.serving.outreach.run.run_outreach`), :func:`stratify.serving.cli.register`
(``import-model``, ``serve``, ``tokens add``, ``outreach``) and the serving part of
``stratify demo`` (:mod:`stratify.serving.demo`).
"""
