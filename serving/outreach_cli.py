"""``stratify outreach --as-of DATE --capacity K [--locality NAME]``: the outreach list.

Thin wiring of :func:`stratify.serving.outreach.run.run_outreach` to the command line with a
progress display. Exit codes: 0 written; 2 a domain error printed as one short line
(bad date or capacity, no or stale warehouse, unknown locality with the known ones
listed, no champion imported, bad config). Only counts and paths are printed, never
identifiers or feature values.
"""

from __future__ import annotations

import datetime as dt
import math
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from stratify.features.cohorts import CohortError, add_months, snapshot_dates
from stratify.features.config import Config, ConfigError, load_config
from stratify.features.warehouse.store import WarehouseError
from stratify.serving.outreach.cohort import TARGET, cohort_at, known_localities
from stratify.serving.outreach.guide import summary

EXIT_ERROR = 2
ERR_PREFIX = "error: "
_DOMAIN_ERRORS = (ValueError, LookupError, CohortError, WarehouseError, ConfigError, OSError)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def outreach_cmd(
    as_of: Annotated[
        datetime,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="The date of the list: the first day of a month (YYYY-MM-DD).",
        ),
    ],
    capacity: Annotated[
        int, typer.Option("--capacity", min=1, help="How many families the team can contact.")
    ],
    locality: Annotated[
        str | None, typer.Option("--locality", help="One locality (default: all).")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML run config.")] = None,
) -> None:
    """Write the ranked outreach list (Excel and a web page) with reasons per family.

    Families with a child open to statutory social care on the date are left out. The
    list is a prioritisation aid: a practitioner decides.
    """  # fmt: skip
    from stratify.serving.outreach.run import run_outreach

    console = Console()
    try:
        cfg = load_config(config)
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("starting")
            outcome = run_outreach(
                cfg, as_of.date(), capacity, locality,
                progress=lambda text: bar.update(task, description=text),
            )  # fmt: skip
    except _DOMAIN_ERRORS as err:
        typer.echo(f"{ERR_PREFIX}{_one_line(err)}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    for line in summary(outcome.outreach):
        console.print(escape(line), highlight=False)
    console.print(f"  wrote {escape(str(outcome.workbook))}", highlight=False)
    console.print(f"  wrote {escape(str(outcome.page))}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``outreach`` command to the ``stratify`` app."""
    app.command("outreach")(outreach_cmd)


def latest_snapshot(extract_date: dt.date, every_months: int = 3) -> dt.date:
    """Return the last snapshot date (quarter start by default) on or before a date."""
    return snapshot_dates(add_months(extract_date, -every_months), extract_date, every_months)[-1]


def demo_capacity(cfg: Config, families: int) -> int:
    """Return the run config's escalation capacity as a number of families."""
    cap = cfg.training.capacity["escalation"]
    if cap.families_per_quarter is not None:
        return cap.families_per_quarter
    return max(1, math.ceil((cap.top_share or 0.0) * families))


def demo_outreach(cfg: Config, config: Path | None = None) -> None:
    """Write the demo's outreach lists: the latest quarter, all localities and each one.

    For ``stratify demo`` after promotion: imports the escalation champion (as
    ``import-model`` does), builds the cohort once, and writes the borough's list at the
    config's capacity and one list per locality with an equal share of it.
    """
    from stratify.features.warehouse.store import read_meta
    from stratify.serving import store
    from stratify.serving.outreach.run import WAREHOUSE_FILE, check_inputs, list_and_write
    from stratify.serving.scoring import Scorer

    meta = read_meta(cfg.work_dir / WAREHOUSE_FILE)
    as_of = latest_snapshot(
        dt.date.fromisoformat(meta["extract_date"]), cfg.features.snapshot_months
    )
    check_inputs(cfg, as_of, None)
    store.import_champion(cfg.work_dir, TARGET)
    scorer = Scorer.from_bento(TARGET, cfg.work_dir)
    cohort = cohort_at(cfg.work_dir / WAREHOUSE_FILE, as_of, cfg.features)
    capacity = demo_capacity(cfg, int(cohort.features["household_id"].nunique()))
    localities = known_localities(cfg.work_dir / WAREHOUSE_FILE)
    share = max(1, math.ceil(capacity / max(len(localities), 1)))
    for name, k in [(None, capacity), *((n, share) for n in localities)]:
        outcome = list_and_write(cfg, cohort, scorer, k, name)
        typer.echo(f"- {summary(outcome.outreach)[0]}: {len(outcome.outreach.families)} families")
        typer.echo(f"    {outcome.workbook}\n    {outcome.page}")
