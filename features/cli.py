"""Command-line wiring for the features package: ``stratify simulate``, ``load``, ``features``.

Each command resolves the run config (file + environment) once, at this edge, and calls
a run-level function that takes the typed :class:`~stratify.features.config.Config`:
:func:`simulate_borough`, :func:`load_warehouse`, :func:`build_features`. Those show
progress and print a summary, and raise domain errors; the demo calls them directly.
The commands turn domain errors into one short line and an exit code: 0 done, 1 the
extract breaks validation rules (nothing loaded; every violation is listed and written
to ``<work dir>/reports/load-violations.csv``), 2 any other problem (missing folder or
warehouse, no pseudonymisation key, empty cohort, bad config). Neither identifiers nor
feature values are ever printed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stratify.core.progress import progress_bar
from stratify.core.targets import TargetName
from stratify.features.build import build, write_build
from stratify.features.build.cohorts import CohortError
from stratify.features.config import Config, ConfigError, load_config
from stratify.features.simulate.realism import compute_figures, realism_table
from stratify.features.warehouse.ingest import (
    ExtractInvalid,
    IngestError,
    LoadResult,
    load_extract,
)
from stratify.features.warehouse.pseudonymise import NOTICE_DEMO_KEY, PseudonymKeyError
from stratify.features.warehouse.store import WarehouseError
from stratify.features.warehouse.validate import violations_table

if TYPE_CHECKING:  # the simulator is imported only when a command needs it
    from stratify.features.simulate.run import SimulationResult

#: Violations printed in the terminal; the report file always holds all of them.
MAX_SHOWN = 200
WAREHOUSE_FILE = "warehouse.duckdb"
REPORT_FILE = Path("reports") / "load-violations.csv"
EXIT_INVALID = 1
EXIT_ERROR = 2

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML run config.")]
_DOMAIN_ERRORS = (
    CohortError,
    IngestError,
    PseudonymKeyError,
    WarehouseError,
    ConfigError,
    OSError,
)


def resolve_config(config: Path | None) -> Config:
    """Load ``config`` against this process's environment: the one place commands read it."""
    return load_config(config, os.environ)


def _fail(console: Console, err: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(' '.join(str(err).split()))}", soft_wrap=True)
    return typer.Exit(EXIT_ERROR)


# --- stratify simulate ---------------------------------------------------------------


def realism_report(
    tables: Mapping[str, pd.DataFrame],
    end_date: Any,
    out: Path | None = None,
    console: Console | None = None,
) -> bool:
    """Print the simulated-against-published table; return whether every figure passed."""
    console = console or Console()
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


def simulate_borough(
    cfg: Config,
    out: Path | None = None,
    *,
    seed: int | None = None,
    children: int | None = None,
    report: bool = True,
    console: Console | None = None,
) -> SimulationResult:
    """Simulate the synthetic borough into ``out`` (default ``<work>/sim``), with progress."""
    from stratify.features.simulate import simulate

    console = console or Console()
    overrides = {"seed": seed, "children": children}
    sim = cfg.simulation.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    out = out or cfg.work_dir / "sim"
    with progress_bar(console, f"Simulating {sim.children:,} children", unit="months") as bar:
        result = simulate(sim, out, cfg.features, progress=bar.step)
    console.print(
        f"Simulated {sim.children:,} children over {sim.years} years "
        f"(+{sim.burn_in_years} of history) in {result.seconds:.1f} s: "
        f"{len(result.tables['referrals']):,} referrals, "
        f"{len(result.tables['agency_events']):,} agency events, "
        f"{len(result.truth):,} decision points with a true probability."
    )
    console.print(f"Extract: {out / 'extract'}   Ground truth: {out / 'truth'}")
    if report:
        realism_report(result.tables, sim.end_date, out / "realism.csv", console)
    return result


def simulate_cmd(
    config: ConfigOpt = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default <work>/sim).")] = None,
    seed: Annotated[int | None, typer.Option(help="Override the config's seed.")] = None,
    children: Annotated[int | None, typer.Option(help="Override the number of children.")] = None,
    report: Annotated[bool, typer.Option(help="Print the realism report.")] = True,
) -> None:
    """Simulate the synthetic borough: writes a CSV extract and the ground truth."""
    console = Console()
    try:
        cfg = resolve_config(config)
    except ConfigError as err:
        raise _fail(console, err) from None
    simulate_borough(cfg, out, seed=seed, children=children, report=report, console=console)


# --- stratify load -------------------------------------------------------------------


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


def load_warehouse(
    cfg: Config, src: Path, warehouse: Path | None = None, console: Console | None = None
) -> LoadResult:
    """Validate the extract in ``src`` and load it into the warehouse, with progress.

    Raises the domain errors of :func:`~stratify.features.warehouse.ingest.load_extract`.
    """
    console = console or Console()
    target = warehouse if warehouse is not None else cfg.work_dir / WAREHOUSE_FILE
    with progress_bar(console, "Loading the extract") as bar:
        result = load_extract(
            src,
            target,
            secret=cfg.pseudonym_secret,
            report_path=cfg.work_dir / REPORT_FILE,
            progress=bar.stage,
        )
    _show_result(console, result)
    return result


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
    config: ConfigOpt = None,
) -> None:
    """Validate an extract and load it into the warehouse, pseudonymised.

    Nothing is written unless the whole extract is valid; every violation is listed.
    """
    console = Console()
    try:
        load_warehouse(resolve_config(config), src, warehouse, console)
    except ExtractInvalid as err:
        _show_violations(console, err)
        raise typer.Exit(EXIT_INVALID) from None
    except _DOMAIN_ERRORS as err:
        raise _fail(console, err) from None


# --- stratify features ---------------------------------------------------------------


def _summary(metadata: dict, out: Path, size: int) -> str:
    rate = metadata["base_rate"]
    base = "no labelled points" if rate is None else f"base rate {rate:.1%}"
    return (
        f"{metadata['target']}: {metadata['rows']:,} decision points "
        f"({metadata['labelled']:,} labelled, {base}) x {len(metadata['features'])} features; "
        f"wrote {escape(str(out))} ({size / 1e6:.1f} MB) in {metadata['build_seconds']:.1f} s"
    )


def build_features(
    cfg: Config,
    target: TargetName | str,
    warehouse: Path | None = None,
    out: Path | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Build one target's family-context table and write it; return its metadata.

    Writes features.parquet, audit.parquet and metadata.json into ``out`` (default
    ``<work>/features/<target>``), each replaced atomically; nothing is written when
    the build fails (the domain error is raised).
    """
    console = console or Console()
    name = TargetName(target).value
    source = warehouse or cfg.work_dir / WAREHOUSE_FILE
    dest = out or cfg.work_dir / "features" / name
    with progress_bar(console, name) as bar:
        result = build(source, name, cfg.features, progress=bar.stage)  # type: ignore[arg-type]
        bar.stage("writing the files")
        paths = write_build(result, dest)
    size = sum(p.stat().st_size for p in paths.values())
    console.print(_summary(result.metadata, dest, size), soft_wrap=True)
    return result.metadata


def features_cmd(
    target: Annotated[
        TargetName, typer.Option("--target", help="The prediction target.", case_sensitive=False)
    ],
    config: ConfigOpt = None,
    warehouse: Annotated[
        Path | None,
        typer.Option("--warehouse", help="Warehouse file (default: <work dir>/warehouse.duckdb)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default: <work dir>/features/<target>)."),
    ] = None,
) -> None:
    """Build the point-in-time family-context table of one target.

    Writes features.parquet, audit.parquet and metadata.json into the output folder,
    each replaced atomically; nothing is written when the build fails.
    """
    console = Console()
    try:
        build_features(resolve_config(config), target, warehouse, out, console)
    except _DOMAIN_ERRORS as err:
        raise _fail(console, err) from None


def register(app: typer.Typer) -> None:
    """Add the features commands to the ``stratify`` app."""
    app.command("simulate")(simulate_cmd)
    app.command("load")(load_cmd)
    app.command("features")(features_cmd)
