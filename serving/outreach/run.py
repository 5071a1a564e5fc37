"""The outreach job end to end: check, build the cohort, score, rank, explain, write.

:func:`run_outreach` is what ``stratify outreach`` calls. Cheap checks come first (the
date, the warehouse and its localities, the imported champion) so a mistake fails in a
second, not after the feature build. The workbook and the web page are written under
``<work>/outreach/<as_of>/outreach-<locality or all>.{xlsx,html}`` with
:func:`stratify.core.files.write_files_atomic`: both under temporary names in the same
folder, moved into place only once both are complete, so a reader never sees half a file.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from stratify.core.files import write_files_atomic
from stratify.core.progress import StageCallback
from stratify.features.build.cohorts import add_months, snapshot_dates
from stratify.features.config import Config
from stratify.features.warehouse.store import read_meta
from stratify.serving.decisions import list_record, register_list
from stratify.serving.outreach.cohort import TARGET, Cohort, check_date, cohort_at, known_localities
from stratify.serving.outreach.cohort import resolve_locality as _resolve
from stratify.serving.outreach.excel import write_workbook
from stratify.serving.outreach.html import write_page
from stratify.serving.outreach.ranking import OutreachList, build_list
from stratify.serving.scoring import Scorer

WAREHOUSE_FILE = "warehouse.duckdb"
OUTREACH_DIR = "outreach"
ERR_AFTER_EXTRACT = "the as-of date {as_of} is after the warehouse's extract date {extract}"


@dataclass(frozen=True)
class OutreachOutcome:
    """What a run produced: the list and where it was written."""

    outreach: OutreachList
    workbook: Path
    page: Path
    build_seconds: float


def slug(locality: str | None) -> str:
    """Return the file-name part of a locality (``all`` for every locality)."""
    if locality is None:
        return "all"
    return re.sub(r"[^a-z0-9]+", "-", locality.casefold()).strip("-") or "locality"


def output_paths(work_dir: Path, as_of: dt.date, locality: str | None) -> tuple[Path, Path]:
    """Return the workbook and web page paths of one list."""
    base = work_dir / OUTREACH_DIR / as_of.isoformat() / f"outreach-{slug(locality)}"
    return base.with_suffix(".xlsx"), base.with_suffix(".html")


def card_path(work_dir: Path, version: int) -> Path:
    """Return where training wrote the model card of an escalation version."""
    return work_dir / "model_cards" / TARGET / f"v{version}" / "model_card.html"


def latest_snapshot(extract_date: dt.date, every_months: int = 3) -> dt.date:
    """Return the last snapshot date (quarter start by default) on or before a date."""
    return snapshot_dates(add_months(extract_date, -every_months), extract_date, every_months)[-1]


def write_outputs(
    lst: OutreachList, work_dir: Path, min_people: int, audit: pd.DataFrame | None = None
) -> tuple[Path, Path]:
    """Write the workbook and the web page of ``lst`` atomically; return their paths.

    With the cohort's ``audit`` table, the list is first recorded in the decisions
    database (:func:`stratify.serving.decisions.register_list`), so a returned workbook
    can be checked against it.
    """
    if audit is not None:
        record = list_record(lst.as_of, lst.locality, lst.model_version, lst.families)
        register_list(work_dir, record, lst.children, audit)
    xlsx, html = output_paths(work_dir, lst.as_of, lst.locality)
    card = card_path(work_dir, lst.model_version)
    write_files_atomic({
        xlsx: lambda p: write_workbook(lst, p, card, min_people),
        html: lambda p: write_page(lst, p, card, min_people),
    })  # fmt: skip
    return xlsx, html


def check_inputs(cfg: Config, as_of: dt.date, locality: str | None) -> str | None:
    """Check the date and the locality against the warehouse; return the locality's spelling.

    Raises
    ------
    ValueError
        If the date is not a month's first day or is after the extract, or the locality
        is unknown.
    stratify.features.warehouse.store.WarehouseError
        If the warehouse is missing or does not match the schema.
    """
    check_date(as_of)
    path = cfg.work_dir / WAREHOUSE_FILE
    known = known_localities(path)
    extract = read_meta(path).get("extract_date")
    if extract and as_of > dt.date.fromisoformat(extract):
        raise ValueError(ERR_AFTER_EXTRACT.format(as_of=as_of, extract=extract))
    return _resolve(locality, known)


def run_outreach(
    cfg: Config,
    as_of: dt.date,
    capacity: int | None = None,
    locality: str | None = None,
    *,
    progress: StageCallback | None = None,
    scorer: Scorer | None = None,
) -> OutreachOutcome:
    """Build and write the outreach list of ``as_of``.

    Parameters
    ----------
    cfg : Config
        The run config (working directory, feature settings, audit groups).
    as_of : datetime.date
        The first day of a month within the data.
    capacity : int, optional
        Families the team can contact; by default the run config's escalation capacity,
        the operating point the model card's figures describe (a locality's list is then
        its part of the borough's list, unless the capacity is set per locality).
    locality : str, optional
        One locality (any case); all when None.
    progress : callable, optional
        Called with a short description as each stage starts.
    scorer : Scorer, optional
        The model; the imported escalation champion when None.

    Returns
    -------
    OutreachOutcome

    Raises
    ------
    ValueError
        Bad date, capacity or locality.
    LookupError
        No champion imported (``stratify import-model --target escalation``).
    stratify.features.warehouse.store.WarehouseError, stratify.features.build.cohorts.CohortError
        Missing or stale warehouse, date outside the data.
    """
    say = progress or (lambda _: None)
    name = check_inputs(cfg, as_of, locality)
    if scorer is None:
        say("loading the champion")
        scorer = Scorer.from_store(cfg.work_dir, TARGET)
    cohort = cohort_at(cfg.work_dir / WAREHOUSE_FILE, as_of, cfg.features, progress=say)
    say(f"scoring {len(cohort.features):,} children and ranking families")
    return list_and_write(cfg, cohort, scorer, capacity, name, progress=say)


def list_and_write(
    cfg: Config,
    cohort: Cohort,
    scorer: Scorer,
    capacity: int | None,
    locality: str | None,
    *,
    progress: StageCallback | None = None,
) -> OutreachOutcome:
    """Build the list of a cohort already built, and write its workbook and web page."""
    rule = cfg.training.capacity[TARGET] if capacity is None else capacity
    lst = build_list(
        cohort.features, cohort.audit, scorer, as_of=cohort.as_of, capacity=rule,
        locality=locality, dimensions=cfg.audit.groups, min_people=cfg.audit.min_people,
    )  # fmt: skip
    (progress or (lambda _: None))("writing the workbook and the web page")
    xlsx, html = write_outputs(lst, cfg.work_dir, cfg.audit.min_people, cohort.audit)
    return OutreachOutcome(lst, xlsx, html, cohort.build_seconds)
