"""stratify.features: from a council's records to the family-context table.

Validate and pseudonymise an extract, load it into the canonical DuckDB warehouse,
simulate a synthetic borough, build cohorts, labels and point-in-time features.
This package imports neither MLflow nor BentoML.

Public modules: ``config`` (load_config), ``schema`` (the warehouse tables), ``codes``
(DfE code lists), ``ingest`` (load_extract), ``validate``, ``pseudonymise``,
``warehouse``, ``simulate`` (the synthetic borough), ``realism`` (the realism report).
"""
