"""``stratify load --cin-xml`` and ``--ssd``: a council's own records, with progress and a summary.

The terminal shows counts by rule and where the first issues are (file, line, field,
rule), never a child's id or a value: those are in the report, which is written beside
the raw returns and never in the warehouse.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stratify.core.progress import progress_bar
from stratify.features.config import Config
from stratify.features.warehouse.cin_load import (
    SOURCES_ABSENT,
    CinLoadResult,
    CinReturnsInvalid,
    load_cin_returns,
)
from stratify.features.warehouse.report import Issue
from stratify.features.warehouse.ssd import SsdInvalid, SsdLoadResult, load_ssd

#: Issues listed in the terminal; the report holds every one.
MAX_SHOWN = 30
NOTICE_REPORT = (
    "The report names children by their LA child ids: it is kept beside the raw returns "
    "(protect it as you protect them) and never goes into the warehouse."
)


def issues_table(issues: Sequence[Issue], *, title: str) -> Table:
    """Return counts by severity and rule, and the first issues' places (no ids, no values)."""
    table = Table(title=title)
    for name in ("severity", "rule", "count", "message"):
        table.add_column(name, overflow="fold")
    counts = Counter((i.severity, i.rule) for i in issues)
    first: dict[tuple[str, str], str] = {}
    for i in issues:
        first.setdefault((i.severity, i.rule), i.message)
    for (severity, rule), n in sorted(counts.items()):
        table.add_row(severity, rule, f"{n:,}", escape(first[severity, rule]))
    return table


def _places(console: Console, issues: Sequence[Issue]) -> None:
    for i in [i for i in issues if i.severity == "error"][:MAX_SHOWN]:
        where = f"{Path(i.file).name}:{i.line}" if i.line else Path(i.file).name
        console.print(f"  {escape(where)} {escape(i.table)}.{escape(i.field)} [{i.rule}]")


def load_cin_warehouse(
    cfg: Config,
    src: Path,
    warehouse: Path,
    console: Console,
    *,
    quarantine: bool = False,
) -> CinLoadResult:
    """Load the returns at ``src`` into ``warehouse`` and print what happened.

    Raises
    ------
    CinReturnsInvalid
        After printing the summary and the report's paths (nothing was loaded).
    """
    try:
        with progress_bar(console, "Loading CIN census returns") as bar:
            result = load_cin_returns(
                src,
                warehouse,
                secret=cfg.pseudonym_secret,
                quarantine=quarantine,
                progress=bar.stage,
            )
    except CinReturnsInvalid as err:
        console.print(issues_table(err.issues, title="The CIN returns have these issues"))
        _places(console, err.issues)
        console.print(f"Report: {escape(str(err.report[0]))} and {escape(str(err.report[1]))}")
        console.print(escape(NOTICE_REPORT))
        console.print(f"[red]{escape(str(err))}; the warehouse is unchanged.[/red]")
        if not quarantine:
            console.print("Use --quarantine to load the children without errors.")
        raise
    if result.issues:
        console.print(issues_table(result.issues, title="Issues (queries and notes load)"))
    if result.quarantined:
        console.print(
            f"[yellow]{len(result.quarantined):,} child record(s) quarantined (not loaded); "
            "the report lists them with their reasons.[/yellow]"
        )
    years = ", ".join(str(y) for y in result.years)
    console.print(f"Census years {years}: {result.load.row_counts['persons']:,} children loaded")
    console.print("Not in the CIN census (tables left empty): " + ", ".join(SOURCES_ABSENT))
    console.print(f"Report: {escape(str(result.report[0]))} and {escape(str(result.report[1]))}")
    console.print(escape(NOTICE_REPORT))
    return result


def load_ssd_warehouse(cfg: Config, src: Path, warehouse: Path, console: Console) -> SsdLoadResult:
    """Load the SSD tables in ``src`` into ``warehouse`` and print what happened.

    Raises
    ------
    SsdInvalid
        After printing the summary and the report's paths (nothing was loaded).
    """
    try:
        with progress_bar(console, "Loading SSD tables") as bar:
            result = load_ssd(src, warehouse, secret=cfg.pseudonym_secret, progress=bar.stage)
    except SsdInvalid as err:
        console.print(issues_table(err.issues, title="The SSD tables have these issues"))
        _places(console, err.issues)
        console.print(f"Report: {escape(str(err.report[0]))} and {escape(str(err.report[1]))}")
        console.print(escape(NOTICE_REPORT))
        console.print(f"[red]{escape(str(err))}; the warehouse is unchanged.[/red]")
        raise
    console.print(f"{result.load.row_counts['persons']:,} people loaded from the SSD")
    for table, reason in result.absent.items():
        console.print(f"Not in the SSD (table left empty): {table}: {escape(reason)}")
    return result
