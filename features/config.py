"""Run configuration: one YAML file parsed once into frozen pydantic models.

Unknown keys are errors (``extra="forbid"``), so a misspelt option fails loudly with
its name instead of silently falling back to a default. Secrets never live here: the
pseudonymisation key comes only from the environment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

HOME_ENV = "STRATIFY_HOME"
#: The pseudonymisation secret: only ever from the environment.
PSEUDONYM_KEY_ENV = "STRATIFY_PSEUDONYM_KEY"
DEFAULT_HOME = Path("work")

#: Columns of the audit table that describe protected characteristics (never model
#: inputs unless ``training.include_protected`` names them).
PROTECTED_COLUMNS = ("ethnicity", "ethnic_group", "sex", "disability", "has_disability", "age_band")

ERR_CONFIG_FILE = "config file {path} could not be read: {reason}"
ERR_CONFIG_INVALID = "config file {path} is invalid:\n{details}"


class Frozen(BaseModel):
    """Base for config sections: immutable, and unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class TruthReplicates(Frozen):
    """Re-simulations of each sampled decision point's label window, per target.

    Escalation is rare (1.7 % of eligible children in a year): with fewer
    re-simulations many low-risk points tie at zero and the ceiling is understated
    (measured on the demo borough: expected ROC AUC 0.914 with 100, 0.926 with 200,
    0.937 with 600). Re-referral (about a third) is resolved well by 50 (0.866, against
    0.868 with 100).
    """

    escalation: int = Field(200, ge=10)
    rereferral: int = Field(50, ge=10)


#: Named scenarios (``--scenario`` and ``simulation.scenario: <name>``).
SCENARIO_PRESETS: dict[str, dict[str, object]] = {
    "none": {},
    "police-doubling": {"police_referral_rate": 2.0},
    "new-early-help-north": {"new_early_help_locality": "North"},
}
ERR_SCENARIO_NAME = "unknown scenario {name!r}: one of {names}, or a mapping of its settings"
ERR_END_DATE = "end_date must be a 31 March (the CIN census date)"
ERR_CONTINUED_FROM = "continued_from must be a 31 March (the first simulation's end_date)"
ERR_CONTINUED_END = "a continuation's end_date must be a month's last day after continued_from"


class ScenarioConfig(Frozen):
    """A change to the world from a continuation's first month onwards, to show drift.

    The default changes nothing. A fresh simulation has no scenario; a continuation's
    holds for the months it simulates and after, until a later continuation names
    another (``none`` returns to the calibrated world).
    """

    police_referral_rate: float = Field(
        1.0,
        gt=0.0,
        le=10.0,
        description="multiplier on the police's referral hazard (2.0: they refer twice as"
        " readily; their referrals rise a little less, as some children they now refer would"
        " have been referred by another agency or are already open)",
    )
    new_early_help_locality: Literal["North", "Central", "South"] | None = Field(
        None, description="a locality that gains a new early help service"
    )
    early_help_uptake: float = Field(
        2.0,
        gt=0.0,
        le=10.0,
        description="multiplier on early help starts in new_early_help_locality",
    )

    @property
    def neutral(self) -> bool:
        """Whether the scenario leaves the world as calibrated."""
        return self.police_referral_rate == 1.0 and self.new_early_help_locality is None

    def describe(self) -> str:
        """Return the scenario in words, for summaries and the extract's description."""
        parts = []
        if self.police_referral_rate != 1.0:
            parts.append(f"police referrals x{self.police_referral_rate:g}")
        if self.new_early_help_locality is not None:
            parts.append(
                f"new early help in {self.new_early_help_locality}"
                f" (uptake x{self.early_help_uptake:g})"
            )
        return ", ".join(parts) or "none"


def scenario_preset(name: str) -> ScenarioConfig:
    """Return the named scenario of :data:`SCENARIO_PRESETS` (``ValueError`` if unknown)."""
    if name not in SCENARIO_PRESETS:
        raise ValueError(ERR_SCENARIO_NAME.format(name=name, names=", ".join(SCENARIO_PRESETS)))
    return ScenarioConfig.model_validate(SCENARIO_PRESETS[name])


class SimulationConfig(Frozen):
    """Size and shape of the synthetic borough.

    A continuation (:func:`stratify.features.simulate.continue_simulation`) has
    ``continued_from`` set to the 31 March the borough was first simulated to, and an
    ``end_date`` some months later: its extract date.
    """

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
    truth_window_months: int = Field(
        12,
        ge=1,
        le=36,
        description="true probabilities are given to decision points dated in the last this"
        " many months of complete label windows: training's test window (its test_months)",
    )
    truth_sample: int = Field(
        12_000,
        ge=0,
        description="eligible decision points per target given a true probability in that"
        " window (escalation: a random sample; re-referral: every eligible closure up to this)",
    )
    truth_replicates: TruthReplicates = Field(
        TruthReplicates(),
        description="re-simulations of each sampled point's label window: per target, or"
        " one number for both",
    )

    continued_from: dt.date | None = Field(
        None,
        description="set on continuations only: the 31 March the borough was first simulated"
        " to (end_date is then the continuation's extract date)",
    )
    scenario: ScenarioConfig | None = Field(
        None,
        description="a change to the world from a continuation's first month (a name of"
        " SCENARIO_PRESETS or the settings); none by default",
    )

    @field_validator("truth_replicates", mode="before")
    @classmethod
    def _one_number_for_both(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return {"escalation": value, "rereferral": value}
        return value

    @field_validator("scenario", mode="before")
    @classmethod
    def _named_scenario(cls, value: object) -> object:
        if isinstance(value, str):
            return scenario_preset(value)
        return value

    @model_validator(mode="after")
    def _end_is_31_march(self) -> SimulationConfig:
        if self.continued_from is None:
            if (self.end_date.month, self.end_date.day) != (3, 31):
                raise ValueError(ERR_END_DATE)
            return self
        if (self.continued_from.month, self.continued_from.day) != (3, 31):
            raise ValueError(ERR_CONTINUED_FROM)
        if self.end_date <= self.continued_from or (self.end_date + dt.timedelta(days=1)).day != 1:
            raise ValueError(ERR_CONTINUED_END)
        return self


class SparkConfig(Frozen):
    """Where and how the feature build runs when ``features.backend`` is ``pyspark``.

    ``dataset`` is the warehouse exported as Parquet (``stratify export``; default
    ``<work dir>/warehouse-parquet``). A Spark action (a kept table, a scalar, a write)
    that takes longer than ``action_timeout_seconds`` is cancelled and reported with
    the build stage it belonged to.
    """

    master: str = "local[2]"
    shuffle_partitions: int = Field(8, ge=1, le=100_000)
    driver_memory: str = "2g"
    action_timeout_seconds: float = Field(1800.0, gt=0)
    dataset: Path | None = None


class FeaturesConfig(Frozen):
    """Decision points, labels and the family-context build."""

    horizon_months: int = Field(12, ge=1, le=36)
    snapshot_months: int = Field(3, ge=1, le=12)
    lookback_months: int = Field(24, ge=1, le=120)
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    #: The engine under the same Ibis definitions: DuckDB on one machine, or Spark.
    backend: Literal["duckdb", "pyspark"] = "duckdb"
    spark: SparkConfig = SparkConfig()


class Capacity(Frozen):
    """Outreach capacity: the operating point every metric "at capacity" uses.

    Exactly one is set:

    - ``families_per_quarter``: each quarter's list holds the K eligible families with
      the highest scores, borough-wide (a locality's list is its part of that list);
    - ``per_locality``: each locality's list holds its own K (``{"North": 70, ...}``;
      a locality not named gets none), and the borough's list is their union;
    - ``top_share``: every family scoring at least a threshold fixed at training on
      the calibration slice, so that about this share of families is selected (for
      decisions taken one at a time, e.g. at a referral's closure, where waiting for a
      quarter's other closures is not possible).

    :mod:`stratify.features.listing` applies it, for the lists and for their evaluation.
    """

    families_per_quarter: int | None = Field(None, ge=1)
    per_locality: dict[str, int] | None = None
    top_share: float | None = Field(None, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _exactly_one(self) -> Capacity:
        given = [self.families_per_quarter, self.per_locality, self.top_share]
        if sum(v is not None for v in given) != 1:
            raise ValueError("set exactly one of families_per_quarter, per_locality and top_share")
        if self.per_locality is not None and (
            not self.per_locality or min(self.per_locality.values()) < 0
        ):
            raise ValueError("per_locality needs at least one locality and no negative count")
        return self

    @property
    def is_threshold(self) -> bool:
        """Whether families are selected by a score threshold rather than by rank."""
        return self.top_share is not None

    def for_locality(self, locality: str | None) -> int | None:
        """Return the families a list of ``locality`` (None: the borough) holds, if ranked."""
        if self.per_locality is not None:
            if locality is None:
                return sum(self.per_locality.values())
            return self.per_locality.get(locality, 0)
        return self.families_per_quarter

    def describe(self) -> str:
        """Return the capacity in words, for tables and cards."""
        if self.families_per_quarter is not None:
            return f"{self.families_per_quarter} families per quarter"
        if self.per_locality is not None:
            parts = ", ".join(f"{k} {v}" for k, v in sorted(self.per_locality.items()))
            return f"{sum(self.per_locality.values())} families per quarter ({parts})"
        return f"families scoring above the threshold that selects the top {self.top_share:.0%}"


def _default_capacity() -> dict[str, Capacity]:
    return {
        "escalation": Capacity(families_per_quarter=200),
        "rereferral": Capacity(top_share=0.2),
    }


class SearchSpace(Frozen):
    """The small, time-aware LightGBM search (every combination is tried)."""

    num_leaves: tuple[int, ...] = (15, 63)
    min_child_samples: tuple[int, ...] = (50, 200)
    learning_rate: float = Field(0.1, gt=0.0, le=1.0)
    max_trees: int = Field(500, ge=10)
    early_stopping_rounds: int = Field(30, ge=5)
    #: The search and the logistic regression fit on at most this many rows (whole
    #: families, sampled at random): 80 coefficients need no more, and the fits stay
    #: fast. The chosen LightGBM is then refitted on every training row.
    max_rows: int = Field(250_000, ge=1_000)


class TrainingConfig(Frozen):
    """Temporal splits, models, calibration and evaluation."""

    test_months: int = Field(12, ge=1, le=36, description="the final test window")
    calibrate_months: int = Field(6, ge=1, le=36, description="the calibration slice")
    validation_months: int = Field(6, ge=1, le=36, description="early-stopping slice")
    fold_months: int = Field(3, ge=1, le=12, description="each rolling-origin test period")
    refit_slice_months: int = Field(
        3,
        ge=1,
        le=12,
        description="the registered model's early-stopping and calibration slice: the latest "
        "months of decision points with complete labels",
    )
    learn_from: Literal["eligible", "cohort"] = Field(
        "eligible",
        description="which decision points models learn from: only those of families "
        "eligible for outreach on the date, or the whole cohort (evaluation, audit and "
        "lists always use eligible families only)",
    )
    folds: int = Field(4, ge=1, le=12, description="rolling-origin test periods")
    capacity: dict[str, Capacity] = Field(default_factory=_default_capacity)
    calibration: Literal["sigmoid", "isotonic", "temperature"] = "sigmoid"
    monotone: bool = Field(
        True, description="constrain LightGBM to the catalogue's expected directions"
    )
    search: SearchSpace = SearchSpace()
    include_protected: tuple[str, ...] = Field(
        (), description="audit columns used as model inputs (none by default)"
    )
    exclude_features: tuple[str, ...] = Field(
        (),
        description="catalogue features left out of the models' inputs (none by default; "
        "e.g. to test a challenger without a group of features)",
    )
    n_boot: int = Field(1_000, ge=50, description="family bootstrap resamples")
    seed: int = 20261201
    policy: Path | None = Field(None, description="the working group's bar (YAML)")

    @model_validator(mode="after")
    def _known_protected(self) -> TrainingConfig:
        unknown = set(self.include_protected) - set(PROTECTED_COLUMNS)
        if unknown:
            raise ValueError(f"include_protected: unknown columns {sorted(unknown)}")
        missing = {"escalation", "rereferral"} - set(self.capacity)
        if missing or set(self.capacity) - {"escalation", "rereferral"}:
            raise ValueError("capacity needs exactly the targets escalation and rereferral")
        return self


#: The audit's dimensions: the protected characteristics, deprivation and locality.
AUDIT_DIMENSIONS = ("ethnic_group", "sex", "has_disability", "age_band", "imd_quintile", "locality")


class AuditConfig(Frozen):
    """The fairness audit: groups, intersections and small-cell suppression."""

    groups: tuple[str, ...] = AUDIT_DIMENSIONS
    intersections: tuple[tuple[str, str], ...] = (
        ("ethnic_group", "sex"),
        ("ethnic_group", "imd_quintile"),
    )
    min_people: int = Field(10, ge=1, description="cells with fewer people are suppressed")
    min_positives: int = Field(5, ge=0, description="cells with fewer positives are suppressed")
    n_boot: int = Field(1_000, ge=50)


class DriftConfig(Frozen):
    """Drift between a champion's training data and a new extract (the retraining report).

    Levels of the population stability index (PSI) follow the usual rule of thumb from
    credit scoring: below 0.1 stable, 0.1 to 0.25 a moderate shift worth a look, 0.25
    and above a major shift (Siddiqi, *Credit Risk Scorecards*, Wiley 2006).
    The rule ignores sample size (Yurdakul, *Statistical Properties of Population
    Stability Index*, Western Michigan University 2018): with hundreds of thousands of
    rows, chance alone gives a PSI near (bins - 1) (1/n + 1/m), far below 0.1.
    """

    psi_moderate: float = Field(0.1, gt=0.0, description="PSI from which a shift is moderate")
    psi_major: float = Field(0.25, gt=0.0, description="PSI from which a shift is major")
    bins: int = Field(
        10, ge=2, le=100, description="quantile bins of the reference per numeric variable"
    )
    rate_ratio_major: float = Field(
        1.5,
        gt=1.0,
        description="referrals per month from a source group, new months against the "
        "champion's last training year: a ratio beyond this (or its inverse) is major "
        "when also unlikely by chance (two-sided exact test, p < 0.01)",
    )

    @model_validator(mode="after")
    def _ordered(self) -> DriftConfig:
        if self.psi_major <= self.psi_moderate:
            raise ValueError("psi_major must be above psi_moderate")
        return self


class ManagersConfig(Frozen):
    """Simulated early help managers and the borough's response (the demo's loop only).

    Per listed family, in rank order: a family with an open early help episode on the
    list date is "already supported elsewhere"; otherwise a manager sets it aside as
    "not appropriate" with ``set_aside_rate`` (times ``set_aside_more`` for a family
    with a child in the named group, ``"dimension=group"``); otherwise, while the
    team's capacity (``contact_share`` of the list) lasts, it is contacted and declines
    with ``decline_rate``, else takes the help, which opens an early help episode in the
    simulated borough (effective episodes lower the family's adversity); the rest get
    "no capacity". The default extra set-aside rate for the most deprived fifth is an
    assumption of the simulation, there for the follow-up report to find.
    """

    contact_share: float = Field(0.75, ge=0.0, le=1.0)
    set_aside_rate: float = Field(0.12, ge=0.0, le=1.0)
    set_aside_more: dict[str, float] = Field(default_factory=lambda: {"imd_quintile=1": 2.5})
    decline_rate: float = Field(0.3, ge=0.0, le=1.0)
    seed: int = 20261202


class ServingConfig(Frozen):
    """The scoring service."""

    max_batch: int = Field(1_000, ge=1, description="records per /score request")
    tokens_file: Path | None = Field(None, description="default: <work dir>/tokens.json")
    audit_log: Path | None = Field(None, description="default: <work dir>/audit/requests.jsonl")
    audit_fsync: bool = Field(
        False, description="fsync each audit line (survives a power cut; ~4 ms a request)"
    )
    audit_rotation: Literal["daily", "size", "none"] = Field(
        "daily", description="when the chained audit log starts a new file"
    )
    audit_max_bytes: int = Field(
        100_000_000, ge=1_000, description="with audit_rotation size: a new file from this size"
    )
    max_body_bytes: int = Field(
        10_000_000, ge=1_000, description="the largest /score body accepted (413 above it)"
    )
    rate_limit: int = Field(
        6_000, ge=0, description="requests per minute per token and worker (429 above; 0: none)"
    )


class Config(Frozen):
    """The whole run configuration, with what the environment said resolved once.

    :func:`load_config` fills in what the process environment contributes
    (``STRATIFY_HOME`` when the file names no ``home``, ``MLFLOW_TRACKING_URI``) at
    the moment it is called; afterwards nothing here reads the environment, so a
    config cannot change under the code that holds it.
    """

    home: Path | None = None
    simulation: SimulationConfig = SimulationConfig()
    features: FeaturesConfig = FeaturesConfig()
    training: TrainingConfig = TrainingConfig()
    audit: AuditConfig = AuditConfig()
    drift: DriftConfig = DriftConfig()
    serving: ServingConfig = ServingConfig()
    managers: ManagersConfig = ManagersConfig()
    # Resolved from the environment by load_config; never part of the file or its hash.
    _env_home: Path | None = PrivateAttr(None)
    _env_mlflow_uri: str | None = PrivateAttr(None)
    _env_pseudonym_secret: str | None = PrivateAttr(None)

    @property
    def work_dir(self) -> Path:
        """Working directory: ``home`` from the file, else ``$STRATIFY_HOME``, else ``./work``."""
        return self.home or self._env_home or Path(DEFAULT_HOME)

    @property
    def mlflow_uri(self) -> str:
        """MLflow tracking and registry: ``$MLFLOW_TRACKING_URI``, else ``<work>/mlflow.db``."""
        return self._env_mlflow_uri or sqlite_uri(self.work_dir)

    @property
    def pseudonym_secret(self) -> str | None:
        """``$STRATIFY_PSEUDONYM_KEY`` as the environment gave it (never in the file or a dump)."""
        return self._env_pseudonym_secret

    def with_environment(self, env: Mapping[str, str]) -> Config:
        """Return a copy with what ``env`` says (home, MLflow URI, pseudonymisation key)."""
        copy = self.model_copy()
        copy._env_home = Path(env[HOME_ENV]) if env.get(HOME_ENV) else None
        copy._env_mlflow_uri = env.get(MLFLOW_URI_ENV) or None
        copy._env_pseudonym_secret = env.get(PSEUDONYM_KEY_ENV) or None
        return copy


MLFLOW_URI_ENV = "MLFLOW_TRACKING_URI"
MLFLOW_ENV = (MLFLOW_URI_ENV, "MLFLOW_REGISTRY_URI")


def sqlite_uri(work_dir: Path) -> str:
    """Return the URI of the default MLflow store, the SQLite file ``<work_dir>/mlflow.db``."""
    return f"sqlite:///{(work_dir / 'mlflow.db').resolve()}"


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


def load_config(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load the YAML config at ``path`` (or the defaults), resolved against ``env``.

    Parameters
    ----------
    path : Path or str, optional
        A YAML file. Every key must be known.
    env : Mapping, optional
        The process environment, passed in by the caller at the edge (a command, the
        service's start-up); None means an empty environment. This module never reads
        ``os.environ`` itself.

    Returns
    -------
    Config
        Frozen configuration.

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or contains an unknown key or bad value.
    """
    cfg = Config() if path is None else parse_config(read_mapping(Path(path)), str(path))
    return cfg.with_environment(env or {})


def read_mapping(path: Path, error: str = ERR_CONFIG_FILE) -> dict[str, Any]:
    """Return the YAML mapping in ``path``.

    Raises
    ------
    ConfigError
        ``error`` formatted with the path and the reason, when the file is missing, is
        not YAML, or its top level is not a mapping.
    """
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(error.format(path=path, reason=err)) from None
    if not isinstance(data, dict):
        raise ConfigError(error.format(path=path, reason="top level is not a mapping"))
    return data
