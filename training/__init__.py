"""stratify.training: temporal splits, baselines, LightGBM, evaluation, fairness audit, card.

MLflow stays behind ``tracking``. Public modules:

- ``split``: rolling-origin folds and the final train / calibrate / test split
- ``data``: ``load_table`` (a feature table, with ground truth on synthetic data)
- ``models``: the prior-referral rule, the logistic regression, the LightGBM search,
  calibration (``calibrated_pipeline``)
- ``metrics``: metrics, ``evaluate`` (family-bootstrap CIs), calibration slope and intercept
- ``train``: ``train`` (one target, pure of MLflow); ``verdict``; ``policy``
- ``evaluation``: ``Evaluation``, the typed record ``train`` hands to the verdict, the
  registry, the card and the command line (``evaluation.json`` via ``as_dict``), and
  ``RegisteredRun`` (run id, version, lineage), which travels beside it
- ``audit``: ``audit`` (the fairness audit); ``card``: ``write_card``; ``atrs``
- ``tracking``: runs, the registry, aliases, ``promote`` (every call takes the ``Config``)
- ``run``: ``train_and_register`` and ``reaudit`` (what ``stratify train`` and
  ``stratify audit`` call)
"""
