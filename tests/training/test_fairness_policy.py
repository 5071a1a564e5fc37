"""The fairness bar in the policy file: replaced keys, required dimensions."""

from __future__ import annotations

import pytest

from stratify.features.config import ConfigError
from stratify.training.policy import FairnessBar, load_policy


@pytest.mark.parametrize(
    ("old", "new"),
    [("max_calibration_gap: 0.05", "calibration_ratio"),
     ("false_negative_rate_ratio: {low: 0.8, high: 1.25}", "recall_ratio")],
)  # fmt: skip
def test_a_replaced_key_says_what_replaced_it(tmp_path, old, new):
    path = tmp_path / "p.yaml"
    path.write_text(f"fairness:\n  {old}\n")
    with pytest.raises(ConfigError, match=f"no longer a policy key: it was replaced by {new}"):
        load_policy(path)


def test_required_dimensions_default_to_every_checked_dimension(tmp_path):
    assert FairnessBar(dimensions=("sex", "locality")).required == ("sex", "locality")
    bar = FairnessBar(dimensions=("sex", "locality"), required_dimensions=("sex",))
    assert bar.required == ("sex",)
    assert FairnessBar(dimensions=("sex",), required_dimensions=()).required == ()
    path = tmp_path / "p.yaml"
    path.write_text("fairness:\n  dimensions: [sex]\n  required_dimensions: [locality]\n")
    with pytest.raises(ConfigError, match=r"required_dimensions \['locality'\] are not among"):
        load_policy(path)


def test_limits_are_ordered(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("fairness:\n  calibration_ratio: {low: 1.25, high: 0.8}\n")
    with pytest.raises(ConfigError, match="low must not exceed high"):
        load_policy(path)
