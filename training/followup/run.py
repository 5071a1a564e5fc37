"""``stratify follow-up --list <id>``: what happened to one list's families, by decision.

Reads the list and its decisions from the decisions database, the outcomes from the
current warehouse, measures how far recorded contacts have touched the current
escalation feature table's labels, and writes the report (:mod:`.report`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from stratify.core.progress import StageCallback
from stratify.features.config import Config
from stratify.features.decisions import CONTACTED, DecisionStore
from stratify.training.followup.labels import LabelTouch, measure
from stratify.training.followup.outcomes import (
    FOLLOW_UP_MONTHS,
    child_outcomes,
    family_outcomes,
    observed_months,
    outcomes_by_decision,
)
from stratify.training.followup.rates import DIMENSIONS, largest_disparity, rates_by_group
from stratify.training.followup.report import write_report

WAREHOUSE_FILE = "warehouse.duckdb"
FEATURES = Path("features") / "escalation" / "features.parquet"


@dataclass(frozen=True)
class FollowUp:
    """One list's follow-up: the tables, the label statement and the files written."""

    list_id: str
    months_observed: int
    families: int
    decided: int
    outcomes: pd.DataFrame
    rates: pd.DataFrame
    labels: LabelTouch
    files: dict[str, Path]

    @property
    def contact_rate(self) -> float:
        """Share of the decided families that were contacted."""
        rows = self.outcomes.loc[self.outcomes["decision"].isin(CONTACTED), "families"]
        return float(rows.sum()) / self.decided if self.decided else float("nan")

    @property
    def largest_disparity(self) -> pd.Series | None:
        """The group set aside most often relative to the rest (None: none shown)."""
        return largest_disparity(self.rates)


def label_touch(cfg: Config) -> LabelTouch:
    """Measure the share of the escalation feature table's labelled points touched by lists.

    The labelled points of the current feature table are the ones the next model
    would learn from.
    """
    path = cfg.work_dir / FEATURES
    cols = ["person_id", "household_id", "as_of_date", "label"]
    points = pd.read_parquet(path, columns=cols) if path.exists() else pd.DataFrame(columns=cols)
    return measure(cfg.work_dir, points.loc[points["label"].notna()], cfg.features.horizon_months)


def follow_up(
    cfg: Config,
    list_id: str,
    *,
    months: int = FOLLOW_UP_MONTHS,
    warehouse: Path | None = None,
    progress: StageCallback | None = None,
) -> FollowUp:
    """Follow up one list; write and return its report.

    ``warehouse`` is where the outcomes are read (default: the working directory's
    current warehouse, which a later extract's load or retrain replaces).

    Raises
    ------
    LookupError
        If no list has that id.
    stratify.features.warehouse.store.WarehouseError
        If the warehouse is missing.
    """
    say = progress or (lambda _: None)
    store = DecisionStore.in_work(cfg.work_dir)
    record = store.get_list(list_id)
    warehouse = warehouse or cfg.work_dir / WAREHOUSE_FILE
    say("reading the outcomes of the listed families")
    seen = observed_months(warehouse, record.as_of, months)
    kids = store.children(list_id)
    current = store.current(list_id)[["family", "decision"]]
    fams = family_outcomes(child_outcomes(warehouse, kids, record.as_of, months))
    fams = fams.merge(current, on="family", how="right")
    by_decision = outcomes_by_decision(fams)
    say("rates by group (family bootstrap)")
    decided = kids.merge(current.dropna(subset=["decision"]), on="family")
    dims = [d for d in cfg.audit.groups if d in DIMENSIONS]
    rates = rates_by_group(decided, dims, n_boot=cfg.audit.n_boot, seed=cfg.training.seed,
                           min_people=cfg.audit.min_people)  # fmt: skip
    touch = label_touch(cfg)
    n_decided = int(current["decision"].notna().sum())
    summary = [
        f"List {list_id}: {record.as_of.isoformat()}, "
        f"{record.locality or 'all localities'}, model version {record.model_version}.",
        f"{n_decided} of {len(current)} listed families have a decision.",
        f"Outcomes within {months} months of the list date: the records cover {seen} of them"
        + ("." if seen >= months else "; the window is not complete, so counts will grow."),
        touch.sentence(),
    ]
    files = write_report(cfg.work_dir, list_id, summary=summary, outcomes=by_decision,
                         rates=rates, labels=touch.sentence(),
                         min_people=cfg.audit.min_people)  # fmt: skip
    return FollowUp(list_id, seen, len(current), n_decided, by_decision, rates, touch, files)
