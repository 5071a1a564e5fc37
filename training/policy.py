"""The working group's bar: the performance and fairness a model must meet to be used.

The policy is a YAML file the working group owns (``config/policy.yaml`` is the
documented example, equal to the defaults here). It is set before anyone sees a run's
results, and every run states, criterion by criterion, whether it is met.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stratify.features.config import AUDIT_DIMENSIONS, ConfigError, _describe, read_mapping

Outcome = Literal["met", "not met", "not assessable"]
ERR_POLICY_FILE = "policy file {path} could not be read: {reason}"
ERR_POLICY_INVALID = "policy file {path} is invalid:\n{details}"
ERR_REPLACED = "{old} is no longer a policy key: it was replaced by {new}"
ERR_REQUIRED = "required_dimensions {extra} are not among the checked dimensions"
#: Policy keys of earlier versions and the key that replaced each.
REPLACED_KEYS = {
    "max_calibration_gap": "calibration_ratio (observed/expected within each group)",
    "false_negative_rate_ratio": "recall_ratio (the recall at capacity ratio)",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PerTarget(_Frozen):
    """A threshold per target."""

    escalation: float = Field(ge=0.0, le=1.0)
    rereferral: float = Field(ge=0.0, le=1.0)


class PerformanceBar(_Frozen):
    """What a model must reach on the final test window."""

    min_average_precision: PerTarget = PerTarget(escalation=0.08, rereferral=0.45)
    min_precision_at_capacity: PerTarget = PerTarget(escalation=0.10, rereferral=0.50)
    #: Share of the eligible families with the outcome whom the list reached. A list of
    #: the same size drawn at random reaches about 1.5 % of them (escalation: 200 of
    #: some 13,000 eligible families a quarter in the demo borough) or 20 % (re-referral).
    min_recall_at_capacity: PerTarget = PerTarget(escalation=0.10, rereferral=0.30)
    #: LightGBM must beat every baseline on average precision and precision at capacity
    #: with the lower end of the paired bootstrap 95 % CI of the difference above zero.
    must_beat_baselines: bool = True


class RatioLimits(_Frozen):
    """A closed interval a ratio must lie in (of two groups' rates, or observed/expected)."""

    low: float = Field(gt=0.0)
    high: float = Field(gt=0.0)

    @model_validator(mode="after")
    def _ordered(self) -> RatioLimits:
        if self.low > self.high:
            raise ValueError("low must not exceed high")
        return self

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the closed interval."""
        return self.low <= value <= self.high


class FairnessBar(_Frozen):
    """Limits at the operating point, per group (calibration) or against the reference.

    A check is not met when its point estimate lies outside its limits; its family
    bootstrap 95 % interval is reported beside it, never used to pass or fail it.
    """

    reference: Literal["largest", "overall"] = "largest"
    #: Recall at capacity (share of a group's positives whose family is on the list),
    #: group over reference. A ratio of recalls binds at any recall level, where a
    #: ratio of false negative rates stops binding as they near 1.
    recall_ratio: RatioLimits = RatioLimits(low=0.8, high=1.25)
    selection_rate_ratio: RatioLimits = RatioLimits(low=0.8, high=1.25)
    #: Observed positives over the sum of predicted probabilities, within each group.
    calibration_ratio: RatioLimits = RatioLimits(low=0.8, high=1.25)
    #: Which audit dimensions the checks apply to (intersections are reported, not gated).
    dimensions: tuple[str, ...] = AUDIT_DIMENSIONS
    #: Dimensions whose every check must be assessable for the bar to be met; None means
    #: all of ``dimensions``. A check not met fails the bar in any dimension.
    required_dimensions: tuple[str, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _replaced(cls, data: object) -> object:
        if isinstance(data, dict):
            for old, new in REPLACED_KEYS.items():
                if old in data:
                    raise ValueError(ERR_REPLACED.format(old=old, new=new))
        return data

    @model_validator(mode="after")
    def _required_audited(self) -> FairnessBar:
        extra = sorted(set(self.required_dimensions or ()) - set(self.dimensions))
        if extra:
            raise ValueError(ERR_REQUIRED.format(extra=extra))
        return self

    @property
    def required(self) -> tuple[str, ...]:
        """The dimensions whose checks must all be assessable."""
        return self.dimensions if self.required_dimensions is None else self.required_dimensions


class Policy(_Frozen):
    """The whole bar."""

    owner: str = "risk-stratification working group (example policy: set your own)"
    performance: PerformanceBar = PerformanceBar()
    fairness: FairnessBar = FairnessBar()


def load_policy(path: Path | str | None = None) -> Policy:
    """Load the policy at ``path``; None gives the defaults (equal to the example file).

    Raises
    ------
    stratify.features.config.ConfigError
        If the file cannot be read, is not a mapping, or has an unknown key or bad value.
    """
    if path is None:
        return Policy()
    path = Path(path)
    data = read_mapping(path, ERR_POLICY_FILE)
    try:
        return Policy.model_validate(data)
    except ValidationError as err:
        raise ConfigError(ERR_POLICY_INVALID.format(path=path, details=_describe(err))) from None
