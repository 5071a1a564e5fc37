"""Command-line wiring for the features package: simulate, load, features."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from stratify.features.config import ConfigError, load_config
from stratify.features.simulate.realism import compute_figures, realism_table

console = Console()
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML run config.")]


def realism_report(
    tables: Mapping[str, pd.DataFrame], end_date: dt.date, out: Path | None = None
) -> bool:
    """Print the simulated-against-published table; return whether every figure passed."""
    figures = compute_figures(tables, end_date)
    table = realism_table(figures)
    if out is not None:
        table.to_csv(out, index=False)
    view = Table(title=f"Realism: mean of census years {', '.join(figures.columns)}")
    for col in ("figure", "simulated", "published", "accepted", "result"):
        view.add_column(col, justify="left" if col == "figure" else "right")
    for row in table.itertuples():
        view.add_row(
            str(row.figure),
            f"{row.simulated:.1f}",
            str(row.published),
            f"{row.accepted_low:.1f}-{row.accepted_high:.1f}",
            "[green]pass[/]" if row.passed else "[red]FAIL[/]",
        )
    console.print(view)
    n_pass = int(table["passed"].sum())
    colour = "green" if n_pass == len(table) else "red"
    console.print(f"[{colour}]{n_pass} of {len(table)} figures within tolerance[/]")
    return n_pass == len(table)


def simulate_cmd(
    config: ConfigOpt = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default <work>/sim).")] = None,
    seed: Annotated[int | None, typer.Option(help="Override the config's seed.")] = None,
    children: Annotated[int | None, typer.Option(help="Override the number of children.")] = None,
    report: Annotated[bool, typer.Option(help="Print the realism report.")] = True,
) -> None:
    """Simulate the synthetic borough: writes a CSV extract and the ground truth."""
    from stratify.features.simulate import simulate

    try:
        cfg = load_config(config)
    except ConfigError as err:
        console.print(f"[red]{err}[/]")
        raise typer.Exit(2) from None
    sim = cfg.simulation.model_copy(
        update={k: v for k, v in (("seed", seed), ("children", children)) if v is not None}
    )
    out = out or cfg.work_dir / "sim"
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} months"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"Simulating {sim.children:,} children", total=None)
        result = simulate(
            sim,
            out,
            cfg.features,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(
        f"Simulated {sim.children:,} children over {sim.years} years "
        f"(+{sim.burn_in_years} of history) in {result.seconds:.1f} s: "
        f"{len(result.tables['referrals']):,} referrals, "
        f"{len(result.tables['agency_events']):,} agency events, "
        f"{len(result.truth):,} decision points with a true probability."
    )
    console.print(f"Extract: {out / 'extract'}   Ground truth: {out / 'truth'}")
    if report:
        realism_report(result.tables, sim.end_date, out / "realism.csv")


def register(app: typer.Typer) -> None:
    """Add the features commands to the ``stratify`` app."""
    from stratify.features.cli_features import features_cmd
    from stratify.features.cli_load import load_cmd

    app.command("simulate")(simulate_cmd)
    app.command("load")(load_cmd)
    app.command("features")(features_cmd)
