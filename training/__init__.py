"""stratify.training: temporal splits, baselines, LightGBM, calibration and evaluation.

Keeps MLflow behind one module. Filled in by the training issue; nothing here yet.
"""
