"""The step-down job end to end: check, build the month's closures, score, list, write.

:func:`run_stepdown` is what ``stratify step-down`` calls. Cheap checks come first (the
month against the extract date, the locality, the imported champion and its operating
threshold), then the month's rereferral feature build (decision dates from the month's
first to its last day), then the list, the audit sample and the two files, written under
``<work>/step-down/<YYYY-MM>/step-down-<locality or all>.{xlsx,html}`` atomically.
Every failure happens before anything is written.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from pathlib import Path

from stratify.core.progress import StageCallback
from stratify.core.targets import Target
from stratify.features.build.cohorts import ERR_EMPTY_COHORT, CohortError, add_months
from stratify.features.build.pipeline import build
from stratify.features.config import Config
from stratify.features.warehouse.store import read_meta
from stratify.serving.outreach.cohort import known_localities, resolve_locality
from stratify.serving.outreach.run import WAREHOUSE_FILE, slug
from stratify.serving.scoring import Scorer
from stratify.serving.stepdown import output
from stratify.serving.stepdown.listing import ERR_THRESHOLD, StepDownList, build_stepdown
from stratify.serving.stepdown.sample import DEFAULT_PER_STRATUM, audit_sample, default_seed, design

TARGET: Target = "rereferral"
STEPDOWN_DIR = "step-down"
ERR_MONTH = "the month must be YYYY-MM (e.g. 2024-09), got {value!r}"
ERR_AFTER_EXTRACT = "the month {month} ends after the warehouse's extract date {extract}"
ERR_NO_CLOSURES = "no referrals closed with RC7-RC9 in {month}{where}"


@dataclass(frozen=True)
class StepDownOutcome:
    """What a run produced: the list, the sample, the files and the run time."""

    stepdown: StepDownList
    sample_size: int
    seed: int
    workbook: Path
    page: Path
    seconds: float


def parse_month(value: str) -> dt.date:
    """Return the first day of the ``YYYY-MM`` month ``value``.

    Raises
    ------
    ValueError
        If ``value`` is not ``YYYY-MM``.
    """
    if not re.fullmatch(r"\d{4}-\d{2}", value.strip()):
        raise ValueError(ERR_MONTH.format(value=value))
    try:
        return dt.date(int(value[:4]), int(value[5:7]), 1)
    except ValueError:
        raise ValueError(ERR_MONTH.format(value=value)) from None


def month_end(month: dt.date) -> dt.date:
    """Return the last day of ``month``'s month."""
    return add_months(month, 1) - dt.timedelta(days=1)


def output_paths(work_dir: Path, month: dt.date, locality: str | None) -> tuple[Path, Path]:
    """Return the workbook and web page paths of one month's list."""
    base = work_dir / STEPDOWN_DIR / month.strftime("%Y-%m") / f"step-down-{slug(locality)}"
    return base.with_suffix(".xlsx"), base.with_suffix(".html")


def check_inputs(cfg: Config, month: dt.date, locality: str | None) -> str | None:
    """Check the month and locality against the warehouse; return the locality's spelling.

    Raises
    ------
    ValueError
        If the month ends after the extract date or the locality is unknown.
    """
    path = cfg.work_dir / WAREHOUSE_FILE
    known = known_localities(path)
    extract = read_meta(path).get("extract_date")
    if extract and month_end(month) > dt.date.fromisoformat(extract):
        raise ValueError(ERR_AFTER_EXTRACT.format(month=month.strftime("%Y-%m"), extract=extract))
    return resolve_locality(locality, known)


def load_champion(cfg: Config) -> tuple[Scorer, float]:
    """Return the imported re-referral champion and its operating threshold.

    Raises
    ------
    LookupError
        If none is imported, or it carries no operating threshold.
    """
    scorer = Scorer.from_store(cfg.work_dir, TARGET)
    threshold = scorer.metadata.get("operating_threshold")
    if threshold is None:
        raise LookupError(ERR_THRESHOLD)
    return scorer, float(threshold)


def run_stepdown(
    cfg: Config,
    month: dt.date,
    locality: str | None = None,
    *,
    seed: int | None = None,
    per_stratum: int = DEFAULT_PER_STRATUM,
    progress: StageCallback | None = None,
    scorer: Scorer | None = None,
    threshold: float | None = None,
) -> StepDownOutcome:
    """Build and write the step-down list of ``month`` (its first day).

    Raises
    ------
    ValueError
        Month after the extract, unknown locality, no closures in the month.
    LookupError
        No re-referral champion imported, or it has no operating threshold.
    stratify.features.warehouse.store.WarehouseError, CohortError
        Missing or stale warehouse, month outside the data.
    """
    start = time.perf_counter()
    say = progress or (lambda _: None)
    name = check_inputs(cfg, month, locality)
    if scorer is None or threshold is None:
        say("loading the champion")
        scorer, threshold = load_champion(cfg)
    where = "" if name is None else f" in {name}"
    no_closures = ERR_NO_CLOSURES.format(month=month.strftime("%Y-%m"), where=where)
    window = cfg.features.model_copy(update={"start_date": month, "end_date": month_end(month)})
    try:
        result = build(cfg.work_dir / WAREHOUSE_FILE, TARGET, window, progress=say)
    except CohortError as err:
        if str(err).startswith(ERR_EMPTY_COHORT.split("{")[0]):
            raise ValueError(no_closures) from None
        raise
    say("scoring the closures and listing families")
    lst = build_stepdown(
        result.features.to_pandas(), result.audit.to_pandas(), scorer, month=month,
        threshold=threshold, locality=name, dimensions=cfg.audit.groups,
        min_people=cfg.audit.min_people,
    )  # fmt: skip
    if lst.closures == 0:
        raise ValueError(no_closures)
    seed = default_seed(month) if seed is None else seed
    sample = audit_sample(lst.scored, seed=seed, per_stratum=per_stratum)
    counts = {str(k): int(v) for k, v in sample.groupby("stratum")["stratum_size"].first().items()}
    say("writing the workbook and the web page")
    xlsx, html = output_paths(cfg.work_dir, month, name)
    output.write(
        lst, sample, design(seed, per_stratum, counts), cfg.audit.min_people, xlsx=xlsx, html=html
    )
    return StepDownOutcome(lst, len(sample), seed, xlsx, html, time.perf_counter() - start)
