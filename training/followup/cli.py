"""``stratify follow-up --list <id>``: the follow-up report of one outreach list."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from stratify.core.progress import progress_bar
from stratify.core.text import fmt_ci
from stratify.features.config import ConfigError, load_config
from stratify.features.warehouse.store import WarehouseError
from stratify.training.followup.run import follow_up

EXIT_ERROR = 2


def follow_up_cmd(
    list_id: Annotated[str, typer.Option("--list", help="The list id (on its Decisions sheet).")],
    months: Annotated[int, typer.Option("--months", min=1, max=36, help="Follow-up window.")] = 12,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML run config.")] = None,
) -> None:
    """Report what happened to a list's families by decision, and decisions by group.

    Writes outcomes.csv, rates.csv and follow-up.html under <work>/follow-up/<list id>/.
    """
    console = Console()
    try:
        cfg = load_config(config, os.environ)
        with progress_bar(console, "Follow-up") as bar:
            done = follow_up(cfg, list_id, months=months, progress=bar.stage)
    except (ConfigError, LookupError, WarehouseError, ValueError, OSError) as err:
        typer.echo(f"error: {' '.join(str(err).split())}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    console.print(f"{done.decided} of {done.families} families decided; contact rate "
                  f"{done.contact_rate:.1%}; {done.months_observed} months observed")  # fmt: skip
    top = done.largest_disparity
    if top is not None:
        ci = fmt_ci(top["difference"], top["difference_low"], top["difference_high"])
        console.print(escape(f"largest 'not appropriate' difference: {top['dimension']} = "
                             f"{top['group']}: {ci}"), highlight=False)  # fmt: skip
    console.print(escape(done.labels.sentence()), highlight=False)
    console.print(f"  wrote {escape(str(done.files['html']))}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``follow-up`` to the ``stratify`` app."""
    app.command("follow-up")(follow_up_cmd)
