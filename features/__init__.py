"""stratify.features: from a council's records to the family-context table.

Validate and pseudonymise an extract, load it into the canonical DuckDB warehouse,
simulate a synthetic borough, build cohorts, labels and point-in-time features.
This package imports neither MLflow nor BentoML.

Public modules:

- ``config``: ``load_config`` (YAML -> frozen pydantic models)
- ``schema``, ``codes``: the warehouse tables and the DfE code lists
- ``ingest``: ``load_extract``; ``validate``, ``pseudonymise``, ``warehouse``
- ``simulate``: ``simulate``, ``run``, ``load_truth`` (the synthetic borough)
- ``realism``: published-style figures against England's
- ``catalogue``: the feature catalogue (``FEATURES``, ``reason``, ``catalogue_hash``)
- ``cohorts``: decision points and labels; ``build``: ``build``, ``write_build``
- ``reference``: the slow, obvious reimplementation the tests compare ``build`` with
"""
