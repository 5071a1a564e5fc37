"""The outreach job end to end: check, build the cohort, score, rank, explain, write.

:func:`run_outreach` is what ``stratify outreach`` calls. Cheap checks come first (the
date, the warehouse and its localities, the imported champion) so a mistake fails in a
second, not after the feature build. The workbook and the web page are written under
``<work>/outreach/<as_of>/outreach-<locality or all>.{xlsx,html}``, each under a
temporary name in the same folder and moved into place with ``os.replace``, so a reader
never sees half a file.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stratify.features.config import Config
from stratify.features.warehouse.store import read_meta
from stratify.serving.outreach.ranking import OutreachList, build_list
from stratify.serving.outreach.cohort import TARGET, Cohort, check_date, cohort_at, known_localities
from stratify.serving.outreach.cohort import resolve_locality as _resolve
from stratify.serving.outreach.excel import write_workbook
from stratify.serving.outreach.html import write_page
from stratify.serving.scoring import Scorer

WAREHOUSE_FILE = "warehouse.duckdb"
OUTREACH_DIR = "outreach"
ERR_AFTER_EXTRACT = "the as-of date {as_of} is after the warehouse's extract date {extract}"
Progress = Callable[[str], None]


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


def write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_outputs(lst: OutreachList, work_dir: Path, min_people: int) -> tuple[Path, Path]:
    """Write the workbook and the web page of ``lst`` atomically; return their paths."""
    xlsx, html = output_paths(work_dir, lst.as_of, lst.locality)
    card = card_path(work_dir, lst.model_version)
    write_atomic(xlsx, lambda p: write_workbook(lst, p, card, min_people))
    write_atomic(html, lambda p: write_page(lst, p, card, min_people))
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
    capacity: int,
    locality: str | None = None,
    *,
    progress: Progress | None = None,
    scorer: Scorer | None = None,
) -> OutreachOutcome:
    """Build and write the outreach list of ``as_of``.

    Parameters
    ----------
    cfg : Config
        The run config (working directory, feature settings, audit groups).
    as_of : datetime.date
        The first day of a month within the data.
    capacity : int
        Families the team can contact.
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
    stratify.features.warehouse.store.WarehouseError, stratify.features.cohorts.CohortError
        Missing or stale warehouse, date outside the data.
    """
    say = progress or (lambda _: None)
    name = check_inputs(cfg, as_of, locality)
    if scorer is None:
        say("loading the champion")
        scorer = Scorer.from_bento(TARGET, cfg.work_dir)
    cohort = cohort_at(cfg.work_dir / WAREHOUSE_FILE, as_of, cfg.features, progress=say)
    say(f"scoring {len(cohort.features):,} children and ranking families")
    return list_and_write(cfg, cohort, scorer, capacity, name, progress=say)


def list_and_write(
    cfg: Config,
    cohort: Cohort,
    scorer: Scorer,
    capacity: int,
    locality: str | None,
    *,
    progress: Progress | None = None,
) -> OutreachOutcome:
    """Build the list of a cohort already built, and write its workbook and web page."""
    lst = build_list(
        cohort.features, cohort.audit, scorer, as_of=cohort.as_of, capacity=capacity,
        locality=locality, dimensions=cfg.audit.groups, min_people=cfg.audit.min_people,
    )  # fmt: skip
    (progress or (lambda _: None))("writing the workbook and the web page")
    xlsx, html = write_outputs(lst, cfg.work_dir, cfg.audit.min_people)
    return OutreachOutcome(lst, xlsx, html, cohort.build_seconds)
