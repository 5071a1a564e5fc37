"""Run configuration: one YAML file parsed once into frozen pydantic models.

Unknown keys are errors (``extra="forbid"``), so a misspelt option fails loudly with
its name instead of silently falling back to a default. Secrets never live here: the
pseudonymisation key comes only from the environment.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

HOME_ENV = "STRATIFY_HOME"
DEFAULT_HOME = Path("work")

ERR_CONFIG_FILE = "config file {path} could not be read: {reason}"
ERR_CONFIG_INVALID = "config file {path} is invalid:\n{details}"


class Frozen(BaseModel):
    """Base for config sections: immutable, and unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class SimulationConfig(Frozen):
    """Size and shape of the synthetic borough."""

    seed: int = 20261123
    children: int = Field(40_000, ge=200, description="children aged 0-17 at the start")
    years: int = Field(8, ge=1, le=30, description="years written as the extract's window")
    burn_in_years: int = Field(
        3, ge=0, le=10, description="years simulated (and kept as history) before the window"
    )
    end_date: dt.date = dt.date(2025, 3, 31)
    detection_bias: float = Field(
        1.0, ge=0.0, le=3.0, description="0 = agencies detect need equally in every group"
    )
    truth_sample: int = Field(
        1_500, ge=0, description="decision points per target given a true probability"
    )
    truth_replicates: int = Field(200, ge=10, description="re-simulations per sampled point")

    @model_validator(mode="after")
    def _end_is_31_march(self) -> SimulationConfig:
        if (self.end_date.month, self.end_date.day) != (3, 31):
            raise ValueError("end_date must be a 31 March (the CIN census date)")
        return self


class FeaturesConfig(Frozen):
    """Decision points, labels and the family-context build."""

    horizon_months: int = Field(12, ge=1, le=36)
    snapshot_months: int = Field(3, ge=1, le=12)
    lookback_months: int = Field(24, ge=1, le=120)
    start_date: dt.date | None = None
    end_date: dt.date | None = None


class Config(Frozen):
    """The whole run configuration."""

    home: Path | None = None
    simulation: SimulationConfig = SimulationConfig()
    features: FeaturesConfig = FeaturesConfig()

    @property
    def work_dir(self) -> Path:
        """Working directory: ``home`` from the file, else ``$STRATIFY_HOME``, else ``./work``."""
        if self.home is not None:
            return self.home
        return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME)


class ConfigError(ValueError):
    """A config file that cannot be read or does not match the schema."""


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            lines.append(f"  {where}: unknown key")
        else:
            lines.append(f"  {where}: {e['msg']}")
    return "\n".join(lines)


def parse_config(data: dict[str, Any], source: str = "<dict>") -> Config:
    """Validate a parsed mapping into a :class:`Config`.

    Parameters
    ----------
    data : dict
        The parsed YAML document.
    source : str
        Where the mapping came from, for error messages.

    Returns
    -------
    Config
    """
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(ERR_CONFIG_INVALID.format(path=source, details=_describe(err))) from None


def load_config(path: Path | str | None = None) -> Config:
    """Load the YAML config at ``path``, or the defaults when ``path`` is None.

    Parameters
    ----------
    path : Path or str, optional
        A YAML file. Every key must be known.

    Returns
    -------
    Config
        Frozen configuration.

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or contains an unknown key or bad value.
    """
    if path is None:
        return Config()
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(ERR_CONFIG_FILE.format(path=path, reason=err)) from None
    if not isinstance(data, dict):
        raise ConfigError(ERR_CONFIG_FILE.format(path=path, reason="top level is not a mapping"))
    return parse_config(data, str(path))
