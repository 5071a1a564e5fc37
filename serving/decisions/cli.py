"""``stratify decisions import <workbook>``: record a returned outreach workbook's decisions.

Exit codes: 0 recorded (or nothing changed); 2 a bad file, config or workbook, printed
with every problem named by sheet, row and column. Prints counts only.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from stratify.features.config import ConfigError, load_config
from stratify.features.decisions import DecisionStore, StoreError
from stratify.serving.decisions.record import import_workbook

EXIT_ERROR = 2

app = typer.Typer(help="Managers' decisions on the outreach lists.", no_args_is_help=True)


@app.command("import")
def import_cmd(
    workbook: Annotated[Path, typer.Argument(help="The returned outreach workbook (.xlsx).")],
    allow_blank: Annotated[
        bool,
        typer.Option(
            "--allow-blank",
            help="Skip families with no decision yet instead of refusing the workbook.",
        ),
    ] = False,  # fmt: skip
    by: Annotated[
        str | None, typer.Option("--by", help="Who returned it (default: the login name).")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML run config.")] = None,
) -> None:
    """Check a returned workbook against the list stratify wrote and record its decisions.

    The list id, date, model version, families and ranks must be as written and every
    decision one of the drop-down's values; otherwise nothing is recorded. Importing the
    same workbook again changes nothing; a changed decision is recorded as a new row.
    """
    console = Console()
    try:
        cfg = load_config(config, os.environ)
        outcome = import_workbook(
            workbook, DecisionStore.in_work(cfg.work_dir),
            submitted_by=by or getpass.getuser(), allow_blank=allow_blank,
        )  # fmt: skip
    except (ConfigError, ValueError, StoreError, OSError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    console.print(
        f"list {escape(outcome.list_id)}: {outcome.decided} of {outcome.families} families "
        f"decided; {outcome.appended} new or changed decision(s) recorded, "
        f"{outcome.unchanged} unchanged",
        highlight=False,
    )


def register(root: typer.Typer) -> None:
    """Add ``decisions`` to the ``stratify`` app."""
    root.add_typer(app, name="decisions")
