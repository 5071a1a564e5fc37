"""stratify.training: temporal splits, baselines, LightGBM, calibration and evaluation.

Keeps MLflow behind one module. So far: ``split`` (rolling-origin folds and the final
train / calibrate / test split, never training on a label unknown at test time). The
models, evaluation and MLflow tracking come with the training issue.
"""
