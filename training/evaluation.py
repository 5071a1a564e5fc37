"""The evaluation of one training run, as a typed record handed from training to its readers.

:func:`stratify.training.train.train` builds one :class:`Evaluation`; the verdict, the
MLflow record, the model card, the ATRS record and the command line read its fields.
What is known only once the run is recorded (the MLflow run id, the registered
version and the lineage hashes) travels beside it as a :class:`RegisteredRun`.
:meth:`Evaluation.as_dict` is the content of the run's ``evaluation.json`` artefact
and :meth:`Evaluation.from_dict` reads it back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from stratify.core.targets import Target, model_name
from stratify.training.policy import Outcome

#: Model -> metric -> interval (``metrics``), or baseline -> metric -> paired difference.
MetricTable = Mapping[str, Mapping[str, "Interval"]]


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95 % family-bootstrap interval (NaN when undefined)."""

    value: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        """Return ``{"value", "low", "high"}``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Interval:
        """Read ``{"value", "low", "high"}``."""
        return cls(data["value"], data["low"], data["high"])


@dataclass(frozen=True)
class Period:
    """One part of the final split: its decision points, positives and families."""

    start: str
    end: str
    rows: int
    positives: int
    families: int

    def as_dict(self) -> dict[str, Any]:
        """Return the period as JSON-ready fields."""
        return asdict(self)


@dataclass(frozen=True)
class Splits:
    """The final train / calibrate / test split."""

    train: Period
    calibrate: Period
    test: Period

    def parts(self) -> dict[str, Period]:
        """Return the three periods by name, in time order."""
        return {"train": self.train, "calibrate": self.calibrate, "test": self.test}


@dataclass(frozen=True)
class QuarterRow:
    """Point estimates of one model on one rolling-origin test quarter.

    The model was refitted and recalibrated before the quarter by the same procedure;
    ``rows`` and ``positives`` count eligible children (AUC and AP are per child),
    ``families`` and ``families_with_outcome`` the families listed from (precision and
    recall at capacity are per family).
    """

    period: str
    model: str
    rows: int
    positives: int
    roc_auc: float
    average_precision: float
    precision_at_capacity: float
    recall_at_capacity: float
    families: int = 0
    families_with_outcome: int = 0


@dataclass(frozen=True)
class CeilingGap:
    """The simulator's true probabilities against LightGBM on the same sampled points."""

    rows: int
    positives: int
    #: Metric -> ceiling minus LightGBM (paired bootstrap).
    difference: Mapping[str, Interval]
    families: int = 0
    families_with_outcome: int = 0


@dataclass(frozen=True)
class BacktestRow:
    """One quarter's list and what became of its families within the horizon.

    Counts between 1 and the suppression threshold are withheld (``SUPPRESSED``).
    """

    quarter: str
    model: str
    listed: int | str
    listed_with_outcome: int | str
    eligible_families: int | str
    families_with_outcome: int | str

    def as_dict(self) -> dict[str, Any]:
        """Return the row as JSON-ready fields."""
        return asdict(self)


@dataclass(frozen=True)
class MonthRow:
    """One month of the step-down backtest: listed and not-listed families and outcomes.

    A family counts once per month: listed when any of its closures that month was
    listed, with an outcome when any of them reached it. Rates carry a 95 % Wilson
    interval; counts below the small-cell threshold are suppressed with their rates.
    """

    month: str
    listed: int | str
    listed_with_outcome: int | str
    not_listed: int | str
    not_listed_with_outcome: int | str
    listed_rate: tuple[float, float, float] | None
    not_listed_rate: tuple[float, float, float] | None

    def as_dict(self) -> dict[str, Any]:
        """Return the row as plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MonthRow:
        """Read :meth:`as_dict` back (rates as tuples)."""
        rates = {k: None if data[k] is None else tuple(data[k])
                 for k in ("listed_rate", "not_listed_rate")}  # fmt: skip
        return cls(**{**data, **rates})


@dataclass(frozen=True)
class Champion:
    """The registered model: refitted on every decision point with a complete label.

    ``train`` is what its trees learnt from; ``calibrate`` the latest slice that stopped
    them early, calibrated them and fixed any operating threshold.
    """

    train: Period
    calibrate: Period
    trees: int
    threshold: float | None

    def as_dict(self) -> dict[str, Any]:
        """Return the champion's periods, trees and threshold."""
        return {"train": self.train.as_dict(), "calibrate": self.calibrate.as_dict(),
                "trees": self.trees, "threshold": self.threshold}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Champion:
        """Read :meth:`as_dict` back."""
        return cls(Period(**data["train"]), Period(**data["calibrate"]), data["trees"],
                   data["threshold"])  # fmt: skip


@dataclass(frozen=True)
class Eligibility:
    """Which decision points were learnt from, and how many the test window had and kept."""

    learn_from: str
    test_rows: int
    test_positives: int
    eligible_rows: int
    eligible_positives: int

    def as_dict(self) -> dict[str, Any]:
        """Return the counts as JSON-ready fields."""
        return asdict(self)


@dataclass(frozen=True)
class OperatingPoint:
    """The evaluated lists: families on the test window's dates, and the threshold if any."""

    families: int
    families_with_outcome: int
    listed: int
    threshold: float | None

    def as_dict(self) -> dict[str, Any]:
        """Return the operating point as JSON-ready fields."""
        return asdict(self)


@dataclass(frozen=True)
class Search:
    """The LightGBM search: the chosen parameters, every candidate, the logistic C."""

    chosen: Mapping[str, Any]
    candidates: tuple[Mapping[str, Any], ...]
    #: The logistic regression's inverse regularisation strength.
    logreg_c: float


@dataclass(frozen=True)
class Criterion:
    """One criterion of the performance bar, with the figure it was judged on."""

    name: str
    threshold: str
    ci: Interval
    outcome: Outcome


@dataclass(frozen=True)
class PerformanceVerdict:
    """Every criterion of the working group's performance bar, and the overall outcome."""

    criteria: tuple[Criterion, ...]
    overall: Outcome

    def as_dict(self) -> dict[str, Any]:
        """Return ``{"criteria": [...], "overall": ...}``, each criterion's CI flattened."""
        criteria = [
            {"name": c.name, "threshold": c.threshold, **c.ci.as_dict(), "outcome": c.outcome}
            for c in self.criteria
        ]
        return {"criteria": criteria, "overall": self.overall}


@dataclass(frozen=True)
class Lineage:
    """The hashes that tie a run to its data, features and config."""

    warehouse_content_hash: str
    feature_table_hash: str
    catalogue_hash: str
    extract_date: str
    config_hash: str

    def as_dict(self) -> dict[str, str]:
        """Return the hashes by name."""
        return asdict(self)


@dataclass(frozen=True)
class RegisteredRun:
    """What recording a run added: its MLflow run id, registered version and lineage."""

    run_id: str
    version: int
    lineage: Lineage


def _table(data: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, dict[str, Interval]]:
    return {k: {m: Interval.from_dict(ci) for m, ci in per.items()} for k, per in data.items()}


def _plain(table: MetricTable) -> dict[str, dict[str, dict[str, float]]]:
    return {k: {m: ci.as_dict() for m, ci in per.items()} for k, per in table.items()}


@dataclass(frozen=True)
class Evaluation:
    """How one target's model performed on the final test window, and how it was chosen.

    ``metrics`` holds every model's metrics (``lightgbm``, ``rule``, ``logreg`` and, on
    synthetic data, ``ceiling`` and ``lightgbm_on_truth_sample``); ``lift_over`` holds
    LightGBM minus each baseline. Both map names to :class:`Interval`.
    """

    target: Target
    created: str
    capacity: str
    calibration: str
    split: Splits
    metrics: MetricTable
    lift_over: MetricTable
    ceiling_gap: CeilingGap | None
    per_quarter: tuple[QuarterRow, ...]
    n_boot: int
    base_rate: float
    search: Search
    features: tuple[str, ...]
    protected_inputs: tuple[str, ...]
    train_seconds: float
    verdict: PerformanceVerdict
    horizon_months: int
    eligibility: Eligibility
    operating_point: OperatingPoint
    backtest: tuple[BacktestRow, ...]
    champion: Champion
    #: Threshold capacities (re-referral): per month of the test window and over all of
    #: it, the families a monthly step-down list would have held and those it would not.
    monthly_backtest: tuple[MonthRow, ...] = ()

    @property
    def model_name(self) -> str:
        """The registered model name (``stratify-<target>``)."""
        return model_name(self.target)

    def as_dict(self, run: RegisteredRun | None = None) -> dict[str, Any]:
        """Return the ``evaluation.json`` content (ids and lineage from ``run``, if any)."""
        gap = self.ceiling_gap
        out: dict[str, Any] = {
            "target": self.target,
            "model_name": self.model_name,
            "model_version": None if run is None else run.version,
            "run_id": None if run is None else run.run_id,
            "created": self.created,
            "capacity": self.capacity,
            "calibration": self.calibration,
            "split": {name: part.as_dict() for name, part in self.split.parts().items()},
            "metrics": _plain(self.metrics),
            "lift_over": _plain(self.lift_over),
            "ceiling_gap": None
            if gap is None
            else {
                "rows": gap.rows,
                "positives": gap.positives,
                "families": gap.families,
                "families_with_outcome": gap.families_with_outcome,
                **_plain({"lightgbm": gap.difference}),
            },
            "per_quarter": [asdict(q) for q in self.per_quarter],
            "n_boot": self.n_boot,
            "base_rate": self.base_rate,
            "search": {
                "chosen": dict(self.search.chosen),
                "candidates": [dict(c) for c in self.search.candidates],
                "logreg_C": self.search.logreg_c,
            },
            "features": list(self.features),
            "protected_inputs": list(self.protected_inputs),
            "truth_sample": None if gap is None else {"rows": gap.rows, "positives": gap.positives},
            "train_seconds": self.train_seconds,
            "verdict": self.verdict.as_dict(),
            "horizon_months": self.horizon_months,
            "eligibility": self.eligibility.as_dict(),
            "operating_point": self.operating_point.as_dict(),
            "backtest": [row.as_dict() for row in self.backtest],
            "champion": self.champion.as_dict(),
            "monthly_backtest": [row.as_dict() for row in self.monthly_backtest],
        }
        if run is not None:
            out["lineage"] = run.lineage.as_dict()
        return out

    def to_json(self, run: RegisteredRun | None = None) -> str:
        """Return ``evaluation.json`` as text (NaN for undefined figures)."""
        return json.dumps(self.as_dict(run), indent=2, default=str)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evaluation:
        """Read the content of an ``evaluation.json`` back (ids: :func:`registered_run_of`)."""
        gap = data["ceiling_gap"]
        search = data["search"]
        verdict = data["verdict"]
        return cls(
            target=data["target"],
            created=data["created"],
            capacity=data["capacity"],
            calibration=data["calibration"],
            split=Splits(**{k: Period(**v) for k, v in data["split"].items()}),
            metrics=_table(data["metrics"]),
            lift_over=_table(data["lift_over"]),
            ceiling_gap=None if gap is None else _ceiling_gap(gap),
            per_quarter=tuple(QuarterRow(**q) for q in data["per_quarter"]),
            n_boot=data["n_boot"],
            base_rate=data["base_rate"],
            search=Search(search["chosen"], tuple(search["candidates"]), search["logreg_C"]),
            features=tuple(data["features"]),
            protected_inputs=tuple(data["protected_inputs"]),
            train_seconds=data["train_seconds"],
            verdict=PerformanceVerdict(
                tuple(
                    Criterion(c["name"], c["threshold"], Interval.from_dict(c), c["outcome"])
                    for c in verdict["criteria"]
                ),
                verdict["overall"],
            ),
            horizon_months=data["horizon_months"],
            eligibility=Eligibility(**data["eligibility"]),
            operating_point=OperatingPoint(**data["operating_point"]),
            backtest=tuple(BacktestRow(**row) for row in data["backtest"]),
            champion=Champion.from_dict(data["champion"]),
            monthly_backtest=tuple(MonthRow.from_dict(r) for r in data.get("monthly_backtest", ())),
        )


def _ceiling_gap(data: Mapping[str, Any]) -> CeilingGap:
    difference = {m: Interval.from_dict(ci) for m, ci in data["lightgbm"].items()}
    return CeilingGap(
        data["rows"], data["positives"], difference,
        data.get("families", 0), data.get("families_with_outcome", 0),
    )  # fmt: skip


def registered_run_of(data: Mapping[str, Any]) -> RegisteredRun:
    """Return the run id, version and lineage recorded in an ``evaluation.json``."""
    return RegisteredRun(
        run_id=data["run_id"],
        version=int(data["model_version"]),
        lineage=Lineage(**data["lineage"]),
    )
