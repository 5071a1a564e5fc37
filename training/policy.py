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
    #: LightGBM must beat every baseline on average precision and precision at capacity
    #: with the lower end of the paired bootstrap 95 % CI of the difference above zero.
    must_beat_baselines: bool = True


class RatioLimits(_Frozen):
    """An interval a ratio between a group and the reference group must lie in."""

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
    """Disparity limits at the operating point, each group against the reference group."""

    reference: Literal["largest", "overall"] = "largest"
    false_negative_rate_ratio: RatioLimits = RatioLimits(low=0.8, high=1.25)
    selection_rate_ratio: RatioLimits = RatioLimits(low=0.8, high=1.25)
    max_calibration_gap: float = Field(0.05, ge=0.0, le=1.0)
    #: Which audit dimensions the checks apply to (intersections are reported, not gated).
    dimensions: tuple[str, ...] = AUDIT_DIMENSIONS


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
