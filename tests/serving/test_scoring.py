"""The scoring core against the registered model: probabilities, bands, SHAP reasons."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest

from stratify.core.targets import TARGETS, Target
from stratify.features.model_input import model_frame
from stratify.serving import store
from stratify.serving.reasons import COUNT_STATS, explainable
from stratify.serving.scoring import ERR_EDGES, Scorer
from stratify.training import tracking
from tests.serving import factory


@pytest.fixture(scope="module", params=TARGETS)
def scorer(request: pytest.FixtureRequest, served_work: Path) -> Scorer:
    return Scorer.from_store(served_work, request.param)


def _pyfunc(work: Path, target: Target, version: int) -> mlflow.pyfunc.PyFuncModel:
    return tracking.load_pyfunc(factory.config(work), target, version)


def test_probabilities_equal_the_registered_pyfunc(scorer: Scorer, served_work: Path):
    records = factory.records(scorer.target, 300, seed=11)
    expected = np.asarray(_pyfunc(served_work, scorer.target, scorer.version).predict(
        model_frame(records, scorer.columns)))[:, 1]  # fmt: skip
    p, bands = scorer.score(records)
    np.testing.assert_allclose(p, expected, rtol=1e-12, atol=0)
    rows = records.to_dict("records")
    np.testing.assert_allclose(scorer.probabilities(scorer.encode_rows(rows)), expected, rtol=1e-12)
    np.testing.assert_array_equal(bands, np.searchsorted(scorer.edges, p, side="right") + 1)


def test_fallback_calibration_gives_the_same_probabilities(scorer: Scorer):
    records = factory.records(scorer.target, 50, seed=12)
    X = scorer.encode_frame(records)
    fast = scorer.probabilities(X)
    slow = Scorer(scorer.pipeline, scorer.metadata, scorer.version)
    slow._calibrator = None
    np.testing.assert_allclose(slow.probabilities(X), fast, rtol=1e-12)


def test_bands_are_deciles_of_the_edges(scorer: Scorer):
    edges = scorer.edges
    p = np.concatenate([[0.0], edges, edges - 1e-9, [1.0]])
    bands = scorer.bands(p)
    assert bands[0] == 1 and bands[-1] == 10
    np.testing.assert_array_equal(bands[1:10], np.arange(2, 11))  # a cut point opens its band
    np.testing.assert_array_equal(bands[10:19], np.arange(1, 10))


def test_reasons_are_the_top_positive_eligible_shap_values(scorer: Scorer):
    records = factory.records(scorer.target, 60, seed=13)
    reasons = scorer.explain(records)
    Xe = scorer.pipeline.named_steps["encode"].transform(model_frame(records, scorer.columns))
    contrib = scorer._booster.predict(Xe[scorer.order], pred_contrib=True)[:, :-1]
    features = explainable(scorer.order)
    for i, got in enumerate(reasons):
        by_name = dict(zip(scorer.order, contrib[i], strict=True))
        assert [r.contribution for r in got] == pytest.approx([by_name[r.feature] for r in got])
        assert all(r.contribution > 0 for r in got) and len(got) <= 3
        assert [r.contribution for r in got] == sorted((r.contribution for r in got), reverse=True)
        # slow reference: every eligible positive contribution, largest first
        eligible = []
        for j, f in enumerate(features):
            v = records.iloc[i][scorer.order[j]]
            if f is None or v is None or contrib[i, j] <= 0 or (f.dtype == "bool" and not v):
                continue
            if f.stat in COUNT_STATS and v == 0:
                continue
            eligible.append((contrib[i, j], f.name))
        assert [r.feature for r in got] == [n for _, n in sorted(eligible, reverse=True)[:3]]


def test_edges_must_be_nine_ascending(scorer: Scorer):
    meta = {**scorer.metadata, "band_edges": [0.1, 0.2]}
    with pytest.raises(ValueError, match=ERR_EDGES.format(n=2)):
        Scorer(scorer.pipeline, meta, scorer.version)


def test_from_store_loads_the_recorded_champion(served_work: Path):
    stored = store.locate_champion(served_work, "escalation")
    scorer = Scorer.from_stored(stored, threads=1)
    assert scorer.version == stored.champion.mlflow_version and scorer.target == "escalation"
    assert stored.champion.tag == f"stratify-escalation:v{scorer.version}"
    assert stored.path.is_relative_to(store.store_home(served_work))
    assert Scorer.from_store(served_work, "escalation").version == scorer.version


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_direct_calibration_equals_scikit_learns(method: str):
    """The scorer's calibration without scikit-learn's checks gives its values exactly."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression

    from stratify.serving.scoring import _calibrate

    rng = np.random.default_rng(5)
    X = rng.normal(size=(600, 3))
    y = (X[:, 0] + rng.normal(size=600) > 0).astype(int)
    model = LogisticRegression().fit(X[:300], y[:300])
    calibrated = CalibratedClassifierCV(FrozenEstimator(model), method=method)
    calibrated.fit(X[300:], y[300:])
    calibrator = calibrated.calibrated_classifiers_[0].calibrators[0]
    raw = np.concatenate([rng.normal(scale=4, size=200), [-50.0, 50.0, 0.0]])  # and beyond
    np.testing.assert_allclose(_calibrate(calibrator, raw), calibrator.predict(raw), rtol=1e-13)
