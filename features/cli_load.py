"""``stratify load``: validate an extract folder and load it into the warehouse.

Thin wiring of :func:`stratify.features.warehouse.ingest.load_extract` to the command line. Exit codes:
0 loaded, 1 the extract breaks validation rules (nothing loaded; the violations are
listed and written to ``<work dir>/reports/load-violations.csv``), 2 any other
problem (missing folder, no pseudonymisation key, bad config).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stratify.features.config import ConfigError, load_config
from stratify.features.warehouse.ingest import ExtractInvalid, IngestError, LoadResult, load_extract
from stratify.features.warehouse.pseudonymise import NOTICE_DEMO_KEY, PseudonymKeyError
from stratify.features.warehouse.validate import violations_table
from stratify.features.warehouse.store import WarehouseError

#: Violations printed in the terminal; the report file always holds all of them.
MAX_SHOWN = 200
WAREHOUSE_FILE = "warehouse.duckdb"
REPORT_FILE = Path("reports") / "load-violations.csv"

EXIT_INVALID = 1
EXIT_ERROR = 2

_DOMAIN_ERRORS = (IngestError, PseudonymKeyError, WarehouseError, ConfigError, OSError)


def _show_result(console: Console, result: LoadResult) -> None:
    table = Table(title="Rows loaded")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in result.row_counts.items():
        table.add_row(name, f"{count:,}")
    table.add_row("[bold]total[/bold]", f"[bold]{sum(result.row_counts.values()):,}[/bold]")
    console.print(table)
    console.print(f"Warehouse {escape(str(result.warehouse))}")
    console.print(
        f"Extract date {result.extract_date.isoformat()}, content hash {result.content_hash[:16]}"
    )
    if result.used_demo_key:
        console.print(f"[yellow]{escape(NOTICE_DEMO_KEY)}[/yellow]")


def _show_violations(console: Console, err: ExtractInvalid) -> None:
    shown = err.violations[:MAX_SHOWN]
    console.print(violations_table(shown, title="The extract breaks these rules"))
    where = f" All of them are in {escape(str(err.report_path))}." if err.report_path else ""
    if err.total > len(shown):
        console.print(f"Showing the first {len(shown):,} of {err.total:,} violations.{where}")
    else:
        console.print(f"{err.total:,} violation(s).{where}")
    console.print("[red]Nothing was loaded; the warehouse is unchanged.[/red]")


def load_cmd(
    src: Annotated[
        Path,
        typer.Option(
            "--from", help="The extract folder: one <table>.csv per table, optional extract.json."
        ),
    ],
    warehouse: Annotated[
        Path | None,
        typer.Option(help="Warehouse file to write (default: <work dir>/warehouse.duckdb)."),
    ] = None,
    config: Annotated[Path | None, typer.Option(help="Run configuration (YAML).")] = None,
) -> None:
    """Validate an extract and load it into the warehouse, pseudonymised.

    Nothing is written unless the whole extract is valid; every violation is listed.
    """
    console = Console()
    try:
        work_dir = load_config(config).work_dir
        target = warehouse if warehouse is not None else work_dir / WAREHOUSE_FILE
        with console.status("Loading the extract") as status:
            result = load_extract(
                src,
                target,
                report_path=work_dir / REPORT_FILE,
                progress=lambda stage: status.update(f"{stage[:1].upper()}{stage[1:]}..."),
            )
    except ExtractInvalid as err:
        _show_violations(console, err)
        raise typer.Exit(EXIT_INVALID) from None
    except _DOMAIN_ERRORS as err:
        console.print(f"[red]error:[/red] {escape(str(err))}")
        raise typer.Exit(EXIT_ERROR) from None
    _show_result(console, result)
