"""The benchmark's reference: a bare BentoML service that only predicts and runs TreeSHAP.

Same model, same records, same scoring core as stratify's service (encoding, calibrated
probability, TreeSHAP by :mod:`stratify.serving.treeshap`), and the same BentoML
settings (workers, one thread, no access log), but no authentication, validation,
reasons or audit log. It returns the probability and the three largest contributions
(feature, value), a payload of about the size of stratify's, so the comparison is not
one of JSON volume. The model folder comes from ``$REFERENCE_MODEL_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import bentoml
import numpy as np

from stratify.serving.scoring import Scorer


@bentoml.service(
    name="reference",
    workers=2,  # as the benchmark starts stratify's own service
    threads=1,
    logging={"access": {"enabled": False}},
)
class Reference:
    """Probability and SHAP values, nothing else."""

    def __init__(self) -> None:
        self.scorer = Scorer.from_mlflow_dir(Path(os.environ["REFERENCE_MODEL_DIR"]), 0, 1)

    @bentoml.api(route="/predict")
    def predict(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Return each record's probability and its three largest SHAP contributions."""
        X = self.scorer.encode_rows(records)
        p, contrib = self.scorer.probabilities(X), self.scorer.contributions(X)
        top = np.argsort(-contrib, axis=1)[:, :3]
        names = self.scorer.order
        return {
            "probability": p.tolist(),
            "top": [
                [(names[j], float(c[j])) for j in t] for c, t in zip(contrib, top, strict=True)
            ],
        }
