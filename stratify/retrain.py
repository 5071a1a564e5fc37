"""``stratify retrain --from <extract>``: the quarterly retrain, from a new extract to a report.

1. **Check** the extract before anything changes: dated after the current warehouse's
   extract, from the same council (its ``la_code``, when both extracts declare one,
   and most of the current warehouse's pseudonymous people found again).
2. **Load** it into a new warehouse version, ``<work>/warehouses/<extract date>.duckdb``
   (the previous version kept there too, with ``lineage.json``), and make it current.
3. Per target: **rebuild** the features; check the comparison window is not empty;
   **train** the challenger exactly as the champion was trained (audit and card
   included; alias ``challenger``); **compare** the two on the decision points neither
   learnt from (:mod:`stratify.training.retrain.compare`); report **drift**
   (:mod:`stratify.training.retrain.drift`) and, for the quarterly list, **list
   stability** (the two models' lists for the newest date, through the outreach code);
   **write the report** (Markdown and HTML) ending in a recommendation; record the
   comparison as an MLflow run referencing both versions.

It never promotes: ``stratify promote`` needs a named approver. An extract refused at
step 1 or 2 changes nothing: not the warehouse, not the registry, not an alias.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from stratify.core.files import write_atomic
from stratify.core.targets import CHAMPION, Target, model_name
from stratify.features.build.cohorts import add_months
from stratify.features.config import Config
from stratify.features.model_input import model_frame
from stratify.features.warehouse.store import read_meta, referrals_by_source_group
from stratify.training import tracking
from stratify.training.evaluation import Evaluation
from stratify.training.followup.matured import LISTED_TARGET, followup_section
from stratify.training.models import booster_of
from stratify.training.policy import Policy
from stratify.training.retrain import drift
from stratify.training.retrain.compare import (
    ERR_EMPTY_WINDOW,
    Comparison,
    Recommendation,
    Rules,
    compare,
    comparison_rows,
    fairness_losses,
    recommend,
)
from stratify.training.retrain.report import (
    ReportInput,
    Side,
    Stability,
    drift_flags,
    drift_markdown,
    importance_shares,
    render,
    stability,
    write_report,
)
from stratify.training.run import feature_dir, train_and_register

WAREHOUSE_FILE = "warehouse.duckdb"
WAREHOUSES = "warehouses"
LINEAGE = "lineage.json"
RETRAINING = "retraining"
#: The champion's latest training months the drift compares the new data with.
REFERENCE_MONTHS = 12
#: Share of the current warehouse's people an extract of the same council must hold.
MIN_OVERLAP = 0.5
ERR_NO_WAREHOUSE = "no current warehouse at {path}: load a first extract (`stratify load`)"
ERR_NO_DATE = "{src} has no extract.json with an extract_date: the extract cannot be placed"
ERR_NOT_NEWER = (
    "the extract is dated {new}, not after the current warehouse's extract ({current}): "
    "retraining needs a newer extract; nothing was changed"
)
ERR_COUNCIL = (
    "the extract is from local authority {new}, the warehouse from {current}: a different "
    "council's records cannot continue this warehouse; nothing was changed"
)
ERR_OVERLAP = (
    "only {share:.0%} of the current warehouse's people appear in the new extract (at least "
    "{need:.0%} expected): it looks like another council's records or another "
    "pseudonymisation key; nothing was changed"
)
ERR_NO_CHAMPION = (
    "{name} has no champion to compare a challenger with: promote a version first "
    "(`stratify promote`)"
)
Say = Callable[[str], None]


class RetrainError(ValueError):
    """The extract cannot be used to retrain (nothing was changed)."""


@dataclass(frozen=True)
class Outcome:
    """One target's retrain: both versions, the recommendation, the report."""

    target: Target
    champion: int
    challenger: int
    recommendation: Recommendation
    report: dict[str, Path]
    run_id: str
    seconds: float
    comparison: Comparison


def _extract_meta(src: Path) -> dict[str, Any]:
    path = src / "extract.json"
    try:
        meta = json.loads(path.read_text())
        dt.date.fromisoformat(meta["extract_date"])
    except (OSError, ValueError, KeyError, TypeError):
        raise RetrainError(ERR_NO_DATE.format(src=src)) from None
    return dict(meta)


def check_extract(cfg: Config, src: Path) -> tuple[dt.date, dict[str, str]]:
    """Return the new extract's date and the current warehouse's meta, or refuse.

    Raises
    ------
    RetrainError
        If there is no current warehouse, the extract is not newer, or it names
        another local authority.
    """
    current_path = cfg.work_dir / WAREHOUSE_FILE
    if not current_path.exists():
        raise RetrainError(ERR_NO_WAREHOUSE.format(path=current_path))
    current = read_meta(current_path)
    new = _extract_meta(src)
    new_date = dt.date.fromisoformat(new["extract_date"])
    current_date = dt.date.fromisoformat(current["extract_date"])
    if new_date <= current_date:
        raise RetrainError(ERR_NOT_NEWER.format(new=new_date, current=current_date))
    la_new, la_current = new.get("la_code"), current.get("la_code")
    if la_new and la_current and str(la_new) != str(la_current):
        raise RetrainError(ERR_COUNCIL.format(new=la_new, current=la_current))
    return new_date, current


def person_overlap(current: Path, new: Path) -> float:
    """Return the share of ``current``'s people whose pseudonym is also in ``new``."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{current}' AS cur (READ_ONLY)")
        con.execute(f"ATTACH '{new}' AS new (READ_ONLY)")
        found, total = con.execute(
            "SELECT count(n.person_id), count(*) FROM cur.persons c "
            "LEFT JOIN new.persons n USING (person_id)"
        ).fetchone() or (0, 0)
    finally:
        con.close()
    return found / total if total else 0.0


def load_version(cfg: Config, src: Path, new_date: dt.date, say: Say) -> Path:
    """Validate and load the extract into ``warehouses/<date>.duckdb``; return the path.

    The current warehouse is untouched; a refused extract leaves no file behind.

    Raises
    ------
    RetrainError
        If too few of the current warehouse's people are in the extract.
    stratify.features.warehouse.ingest.ExtractInvalid
        If the extract does not pass validation (every violation listed).
    """
    from stratify.features.cli import load_warehouse

    folder = cfg.work_dir / WAREHOUSES
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{new_date.isoformat()}.duckdb"
    staged = folder / f".{new_date.isoformat()}.loading.duckdb"
    staged.unlink(missing_ok=True)
    say(f"validating and loading the extract of {new_date} into a new warehouse version")
    try:
        load_warehouse(cfg, src, warehouse=staged)
        share = person_overlap(cfg.work_dir / WAREHOUSE_FILE, staged)
        if share < MIN_OVERLAP:
            raise RetrainError(ERR_OVERLAP.format(share=share, need=MIN_OVERLAP))
        os.replace(staged, final)
    finally:
        staged.unlink(missing_ok=True)
    return final


def make_current(cfg: Config, version: Path, previous: dict[str, str]) -> None:
    """Keep the current warehouse as its own version, then make ``version`` current.

    ``lineage.json`` (beside the versions) gains an entry: the new extract date and
    content hash, and the ones it follows.
    """
    work, folder = cfg.work_dir, cfg.work_dir / WAREHOUSES
    current = work / WAREHOUSE_FILE
    kept = folder / f"{previous['extract_date']}.duckdb"
    if not kept.exists():
        write_atomic(kept, lambda tmp: shutil.copy2(current, tmp))
    write_atomic(current, lambda tmp: shutil.copy2(version, tmp))
    meta = read_meta(version)
    lineage_path = folder / LINEAGE
    entries = json.loads(lineage_path.read_text()) if lineage_path.exists() else []
    entries.append({
        "extract_date": meta["extract_date"], "content_hash": meta.get("content_hash"),
        "previous_extract_date": previous["extract_date"],
        "previous_content_hash": previous.get("content_hash"),
        "loaded_at": meta.get("loaded_at"), "file": version.name,
    })  # fmt: skip
    text = json.dumps(entries, indent=2) + "\n"
    write_atomic(lineage_path, lambda tmp: tmp.write_text(text))


@dataclass(frozen=True)
class _Model:
    version: int
    pipeline: Any
    metadata: dict[str, Any]
    evaluation: Evaluation

    def scores(self, frame: pd.DataFrame) -> np.ndarray:
        X = model_frame(frame, self.metadata["input_columns"])
        return np.asarray(self.pipeline.predict_proba(X))[:, 1]

    def side(self) -> Side:
        booster = booster_of(self.pipeline)
        gains = booster.feature_importance(importance_type="gain")
        return Side(self.version, self.evaluation, importance_shares(booster.feature_name(), gains))


def _model(cfg: Config, target: Target, version: int) -> _Model:
    info = tracking.version_info(cfg, target, version)
    evaluation = Evaluation.from_dict(
        tracking.read_json_artifact(cfg, info["run_id"], "evaluation/evaluation.json")
    )
    return _Model(
        version,
        tracking.load_sklearn(cfg, info["model_uri"]),
        tracking.model_metadata(cfg, target, version),
        evaluation,
    )


def _table(cfg: Config, target: Target) -> pd.DataFrame:
    """Return the new feature table with its audit columns (every row, labelled or not)."""
    folder = feature_dir(cfg, target)
    features = pd.read_parquet(folder / "features.parquet")
    audit = pd.read_parquet(folder / "audit.parquet")
    extra = [c for c in audit.columns if c not in features.columns]
    frame = features.join(audit[extra])
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"]).dt.date
    return frame


def _champion_last(model: _Model) -> dt.date:
    period = model.metadata.get("calibration_period") or model.metadata["training_period"]
    return dt.date.fromisoformat(str(period["end"]))


def _window(frame: pd.DataFrame, champion: _Model, cfg: Config, extract: dt.date) -> np.ndarray:
    last = _champion_last(champion)
    rows = comparison_rows(
        frame["as_of_date"], frame["eligible"].to_numpy(dtype=bool), champion_last=last,
        extract_date=extract, horizon_months=cfg.features.horizon_months,
    )  # fmt: skip
    rows &= frame["label"].notna().to_numpy()
    if not rows.any():
        raise RetrainError(
            ERR_EMPTY_WINDOW.format(target=frame["target"].iloc[0], last=last, extract=extract)
        )
    return rows


def _why(champion: _Model, challenger: _Model) -> str:
    last = _champion_last(champion)
    c = challenger.evaluation.champion
    return (
        f"The champion learnt from decision points up to {last}; these are the eligible "
        f"points after it whose outcome window has completed by the new extract. The "
        f"registered challenger's trees have learnt from every complete point (to "
        f"{c.train.end}), so here the challenger is scored by its trees as they were before "
        f"its latest slice ({c.calibrate.start} to {c.calibrate.end}) was added to them: "
        "they never saw these points, and its ranking figures and lists are fair to both. "
        "Its early stopping and calibration were fitted on that slice, which may overlap "
        "these points: its calibration figures favour it."
    )


def _drift(frame: pd.DataFrame, champion: _Model, cfg: Config) -> drift.DriftReport:
    """Report drift between the champion's latest training year and the data it never saw.

    Reference: the champion's training decision points in the last
    :data:`REFERENCE_MONTHS` of its training period (what its trees saw most recently;
    the whole period would mix in years whose "ever" counts had less history behind
    them). Current: every decision point after the champion's last learnt date, the new
    extract's own data. Eligible families only on both sides.
    """
    end = dt.date.fromisoformat(str(champion.metadata["training_period"]["end"]))
    start = add_months(end, -REFERENCE_MONTHS)
    eligible = frame["eligible"].to_numpy(dtype=bool)
    days = frame["as_of_date"]
    reference = frame[eligible & (days > start).to_numpy() & (days <= end).to_numpy()]
    current = frame[eligible & (days > _champion_last(champion)).to_numpy()]
    names = [c for c in champion.metadata["input_columns"] if c in frame.columns]
    return drift.drift_report(
        reference, current, reference_audit=reference, current_audit=current,
        reference_scores=champion.scores(reference), current_scores=champion.scores(current),
        features=names, thresholds=cfg.drift,
    )  # fmt: skip


def _sources(cfg: Config, champion: _Model, previous: dt.date, extract: dt.date) -> pd.DataFrame:
    """Referrals per month by source: the champion's last training year against the new months."""
    end = dt.date.fromisoformat(str(champion.metadata["training_period"]["end"]))
    start = add_months(end, -REFERENCE_MONTHS)
    first_new, after = previous + dt.timedelta(days=1), extract + dt.timedelta(days=1)
    path = cfg.work_dir / WAREHOUSE_FILE
    return drift.source_drift(
        referrals_by_source_group(path, start, end),
        referrals_by_source_group(path, first_new, after),
        reference_months=REFERENCE_MONTHS,
        current_months=max((after - first_new).days / 30.4375, 1e-9),
        thresholds=cfg.drift,
    )


def _stability(
    cfg: Config, champion: _Model, challenger: _Model, extract: dt.date
) -> Stability | None:
    """Draw the two models' outreach lists for the newest snapshot, through the outreach code."""
    from stratify.serving.outreach.cohort import TARGET, cohort_at
    from stratify.serving.outreach.ranking import build_list
    from stratify.serving.outreach.run import latest_snapshot
    from stratify.serving.scoring import Scorer

    as_of = latest_snapshot(extract, cfg.features.snapshot_months)
    cohort = cohort_at(cfg.work_dir / WAREHOUSE_FILE, as_of, cfg.features)
    lists = {}
    for role, model in (("champion", champion), ("challenger", challenger)):
        scorer = Scorer(model.pipeline, model.metadata, model.version)
        lst = build_list(cohort.features, cohort.audit, scorer, as_of=as_of,
                         capacity=cfg.training.capacity[TARGET])  # fmt: skip
        chosen = lst.families[["family", "locality"]].copy()
        chosen["reason_features"] = pd.Series(lst.reason_features, index=chosen.index, dtype=object)
        lists[role] = chosen
    return stability(as_of.isoformat(), lists["champion"], lists["challenger"])


def _metrics(comparison: Comparison) -> dict[str, float]:
    out = {f"difference.{k}": v.value for k, v in comparison.difference.items()}
    for model, per in comparison.figures.items():
        out |= {f"{model}.{k}": v.value for k, v in per.items()}
    return out


def _compare(
    cfg: Config, policy: Policy, window: pd.DataFrame, champion: _Model, challenger: _Model
) -> Comparison:
    target = window["target"].iloc[0]
    scores = {"challenger": challenger.scores(window), "champion": champion.scores(window)}
    rules = Rules(
        capacity=cfg.training.capacity[target],
        thresholds={"challenger": challenger.metadata.get("operating_threshold"),
                    "champion": champion.metadata.get("operating_threshold")},
        audit=cfg.audit, fairness=policy.fairness, n_boot=cfg.training.n_boot,
        seed=cfg.training.seed,
    )  # fmt: skip
    return compare(window, scores, rules, _why(champion, challenger))


def _followups(cfg: Config, target: Target, extract: dt.date, say: Say) -> str | None:
    """Return the report's follow-up of matured lists (the outreach lists' target only)."""
    if target != LISTED_TARGET:  # the outreach lists, and so their decisions, are its own
        return None
    say(f"{target}: following up the earlier lists whose 12 months have passed")
    return followup_section(cfg, extract, say=say)


def retrain_target(
    cfg: Config, target: Target, policy: Policy, *, extract: dt.date, previous: str,
    truth: Path | None, say: Say,
) -> Outcome:  # fmt: skip
    """Rebuild, train the challenger, compare, report drift and lists, write the report."""
    from stratify.features.cli import build_features

    started = time.perf_counter()
    champion_version = tracking.alias_version(cfg, target, CHAMPION)
    if champion_version is None:
        raise RetrainError(ERR_NO_CHAMPION.format(name=model_name(target)))
    champion = _model(cfg, target, champion_version)
    say(f"{target}: rebuilding the features from the new warehouse")
    build_features(cfg, target)
    frame = _table(cfg, target)
    rows = _window(frame, champion, cfg, extract)  # refuse before registering anything
    say(f"{target}: training the challenger with the champion's procedure")
    outcome = train_and_register(cfg, target, policy, truth=truth)
    challenger = _model(cfg, target, outcome.run.version)
    # on the window the challenger is scored by its trees fitted before the latest slice
    # was added to them: the registered trees have learnt from the window itself
    held = (
        challenger if outcome.held_out is None else replace(challenger, pipeline=outcome.held_out)
    )
    say(f"{target}: comparing champion v{champion.version} and challenger v{challenger.version}")
    comparison = _compare(cfg, policy, frame[rows].reset_index(drop=True), champion, held)
    say(f"{target}: drift between the champion's training data and the new extract")
    drifted = _drift(frame, champion, cfg)
    sources = _sources(cfg, champion, dt.date.fromisoformat(previous), extract)
    lists = None
    if not cfg.training.capacity[target].is_threshold:
        say(f"{target}: both models' lists for the newest date")
        lists = _stability(cfg, champion, challenger, extract)
    advice = recommend(
        comparison.difference,
        verdicts={"challenger": challenger.evaluation.verdict.overall,
                  "champion": champion.evaluation.verdict.overall},
        fairness=fairness_losses(comparison, policy.fairness),
        drift_flags=drift_flags(drifted, sources),
    )  # fmt: skip
    out = cfg.work_dir / RETRAINING / target / f"v{champion.version}-v{challenger.version}"
    report = ReportInput(
        target=target, extract_date=extract.isoformat(), previous_extract_date=previous,
        champion=champion.side(), challenger=challenger.side(), comparison=comparison,
        recommendation=advice, drift_markdown=drift_markdown(drifted, sources), stability=lists,
        followups=_followups(cfg, target, extract, say), seconds=time.perf_counter() - started,
    )  # fmt: skip
    paths = write_report(out, render(report))
    write_atomic(out / "comparison.json", lambda tmp: tmp.write_text(json.dumps(
        {"champion": champion.version, "challenger": challenger.version,
         "recommendation": advice.decision, "reasons": list(advice.reasons),
         "comparison": comparison.as_dict(), "drift": drifted.as_dict(),
         "referral_sources": sources.to_dict(orient="records")},
        indent=2, default=str)))  # fmt: skip
    run_id = tracking.log_comparison(
        cfg, target, versions={"champion": champion.version, "challenger": challenger.version},
        recommendation=advice.decision, metrics=_metrics(comparison), report_dir=out,
    )  # fmt: skip
    return Outcome(target, champion.version, challenger.version, advice, paths, run_id,
                   time.perf_counter() - started, comparison)  # fmt: skip


def retrain(
    cfg: Config, src: Path, policy: Policy, targets: tuple[Target, ...], say: Say = print
) -> list[Outcome]:
    """Check and load the extract, make it current, then retrain every target.

    Raises
    ------
    RetrainError
        If the extract is refused (nothing changed), or a target has no champion or no
        new outcomes to compare on.
    stratify.features.warehouse.ingest.ExtractInvalid
        If the extract fails validation (nothing changed).
    """
    new_date, previous = check_extract(cfg, src)
    for target in targets:  # refuse before loading if a target cannot be compared at all
        if tracking.alias_version(cfg, target, CHAMPION) is None:
            raise RetrainError(ERR_NO_CHAMPION.format(name=model_name(target)))
    version = load_version(cfg, src, new_date, say)
    make_current(cfg, version, previous)
    truth = src.parent / "truth"
    return [
        retrain_target(cfg, target, policy, extract=new_date,
                       previous=previous["extract_date"],
                       truth=truth if truth.exists() else None, say=say)
        for target in targets
    ]  # fmt: skip
