"""stratify: risk stratification with fairness auditing for children's services.

One distribution, four packages, in the order data flows through them:

- :mod:`stratify.features`: validate, pseudonymise and load extracts into the DuckDB
  warehouse; simulate a synthetic borough; cohorts, labels and the family-context table.
- :mod:`stratify.training`: temporal splits, baselines, LightGBM, evaluation with
  confidence intervals, the fairness audit and the model card; MLflow behind one module.
- :mod:`stratify.serving`: the BentoML scoring service and the outreach lists.
- this package: the ``stratify`` console script (:mod:`stratify.cli`) and the demo
  pipeline (:mod:`stratify.demo`), which only compose the others.

It supports professional judgement; it never decides anything about a child or family.
Importing this package does nothing but define it.
"""

__all__: list[str] = []
