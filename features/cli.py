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
from stratify.features.build.cohorts import CohortError
from stratify.features.build.output import AUDIT_FILE, FEATURES_FILE, METADATA_FILE
from stratify.features.build.pipeline import build_to
from stratify.features.build.spark import SparkStageError
from stratify.features.cli_cin import load_cin_warehouse, load_ssd_warehouse
from stratify.features.config import (
    ERR_SCENARIO_NAME,
    SCENARIO_PRESETS,
    Config,
    ConfigError,
    SimulationConfig,
    load_config,
    scenario_preset,
)
from stratify.features.simulate.realism import compute_figures, realism_table
from stratify.features.simulate.realism_mechanisms import (
    mechanism_figures,
    mechanism_table,
    plot_deciles,
)
from stratify.features.simulate.realism_period import (
    realism_with_chance,
    recent_figures,
)
from stratify.features.simulate.state import ContinuationError, saved_config
from stratify.features.warehouse.cin_load import CinReturnsInvalid
from stratify.features.warehouse.ingest import (
    ExtractInvalid,
    IngestError,
    LoadResult,
    load_extract,
)
from stratify.features.warehouse.pseudonymise import NOTICE_DEMO_KEY, PseudonymKeyError
from stratify.features.warehouse.ssd import SsdInvalid
from stratify.features.warehouse.store import WarehouseError
from stratify.features.warehouse.validate import violations_table

if TYPE_CHECKING:  # the simulator is imported only when a command needs it
    from stratify.features.simulate.run import SimulationResult

#: Violations printed in the terminal; the report file always holds all of them.
MAX_SHOWN = 200
WAREHOUSE_FILE = "warehouse.duckdb"
#: The warehouse exported as Parquet (stratify export), what the Spark build reads.
DATASET_DIR = "warehouse-parquet"
REPORT_FILE = Path("reports") / "load-violations.csv"
EXIT_INVALID = 1
EXIT_ERROR = 2
ERR_ONE_SOURCE = (
    "give exactly one of --from (CSV extract folder), --cin-xml (CIN census returns) and "
    "--ssd (SSD tables)"
)
ERR_NEEDS_CONTINUE = "--months and --scenario continue a simulation: give --continue-from"

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML run config.")]
_DOMAIN_ERRORS = (
    CohortError,
    SparkStageError,
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
    *,
    months: int | None = None,
) -> bool:
    """Print the simulated-against-published table; return whether every figure passed.

    Each figure is printed with a 95 % CI of sampling error at the borough's size
    (:func:`~stratify.features.simulate.realism.standard_error`, pooled over the census
    years) and judged within 3 of those standard errors of the published range (a few
    figures on a flat tolerance, :data:`~stratify.features.simulate.realism.FLAT`); the
    mechanism figures follow (:func:`mechanisms_report`).

    With ``months``, the figures are those of the last ``months`` months to ``end_date``
    (a continuation's new months: flows annualised, each range widened by chance,
    :mod:`stratify.features.simulate.realism_period`); otherwise the mean of the last
    three census years.
    """
    console = console or Console()
    if months is None:
        figures = compute_figures(tables, end_date)
        table = realism_table(figures)
        title = f"Realism: mean of census years {', '.join(figures.columns)}"
    else:
        figures = recent_figures(tables, end_date, months)
        table = realism_with_chance(figures)
        title = (
            f"Realism of the new months {figures.columns[0]} (flows annualised; accepted"
            " ranges widened by 3 standard errors of chance)"
        )
    view = Table(title=title)
    # table["se"]: each figure's chance error, counts pooled over the census years (or period)
    results = {"pass": "[green]pass[/]", "FAIL": "[red]FAIL[/]"}
    for col in ("figure", "simulated", "95% CI", "published", "accepted", "basis", "result"):
        view.add_column(col, justify="left" if col == "figure" else "right")
    for row in table.itertuples():
        value, half = float(row.simulated), 1.96 * float(row.se)  # type: ignore[arg-type]
        view.add_row(
            str(row.figure),
            f"{value:.1f}",
            f"{max(value - half, 0):.1f}-{value + half:.1f}",
            str(row.published),
            f"{row.accepted_low:.1f}-{row.accepted_high:.1f}",
            "3 SE of chance" if row.basis == "chance" else "flat (misfit)",
            results.get(str(row.result), f"[yellow]{row.result}[/]"),
        )
    if out is not None:
        table.to_csv(out, index=False)
    console.print(view)
    n_pass = int(table["passed"].sum())
    colour = "green" if n_pass == len(table) else "red"
    small = int((table["result"] == "too small to judge").sum())
    note = f" ({small} too small to judge at this size)" if small else ""
    console.print(f"[{colour}]{n_pass} of {len(table)} figures within tolerance{note}[/]")
    if months is None:
        mechanisms_report(tables, end_date, out, console)
    return n_pass == len(table)


def mechanisms_report(
    tables: Mapping[str, pd.DataFrame], end_date: Any, out: Path | None, console: Console
) -> bool:
    """Print the mechanism figures with their 95 % CIs; write them and the decile plot.

    Returns whether no figure failed (figures too small to judge do not fail).
    """
    figures, deciles = mechanism_figures(tables, end_date)
    table = mechanism_table(figures)
    if out is not None:
        table.to_csv(out.with_name("realism_mechanisms.csv"), index=False)
        deciles.to_csv(out.with_name("realism_deciles.csv"))
        plot_deciles(deciles, out.with_name("realism_deciles.png"))
    view = Table(title="Mechanisms: pooled census years; 95 % CI from sampling error")
    for col in ("figure", "simulated", "95% CI", "published", "tuned", "result"):
        view.add_column(col, justify="left" if col == "figure" else "right")
    colours = {"pass": "green", "FAIL": "red"}
    for row in table.itertuples():
        view.add_row(
            str(row.figure),
            f"{row.simulated:.1f}",
            f"{row.ci_low:.1f}-{row.ci_high:.1f}",
            str(row.published),
            "tuned" if row.tuned else "check",
            f"[{colours.get(str(row.result), 'yellow')}]{row.result}[/]",
        )
    console.print(view)
    top = float(deciles["cp_rate"].max() + deciles["lac_rate"].max()) or 1.0
    for d, r in deciles.iterrows():
        bar = "#" * round(30 * r["cp_rate"] / top) + "+" * round(30 * r["lac_rate"] / top)
        console.print(f"decile {d:>2}  CP {r['cp_rate']:5.1f}  care {r['lac_rate']:5.1f}  {bar}")
    return not (table["result"] == "FAIL").any()


def simulate_borough(
    cfg: Config,
    out: Path | None = None,
    *,
    seed: int | None = None,
    children: int | None = None,
    report: bool = True,
    console: Console | None = None,
    continue_from: Path | None = None,
    months: int = 3,
) -> SimulationResult:
    """Simulate the synthetic borough into ``out`` (default ``<work>/sim``), with progress.

    With ``continue_from`` (a simulation folder), continue that borough by ``months``
    months instead, with the config's ``simulation.scenario`` (if none, the scenario it
    ended with), into ``out`` (default ``<its parent>/sim-<new extract date>``): see
    :func:`stratify.features.simulate.continue_simulation`.
    """
    from stratify.features.simulate import simulate

    console = console or Console()
    overrides = {"seed": seed, "children": children}
    sim = cfg.simulation.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    if continue_from is not None:
        return _continue_borough(cfg, sim, continue_from, months, out, report, console)
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


def _continue_borough(  # noqa: PLR0913, PLR0917 - simulate_borough's arguments, passed on
    cfg: Config,
    sim: SimulationConfig,
    folder: Path,
    months: int,
    out: Path | None,
    report: bool,
    console: Console,
) -> SimulationResult:
    from stratify.features.simulate import continue_simulation

    with progress_bar(console, f"Continuing {folder} by {months} months", unit="months") as bar:
        result = continue_simulation(
            folder,
            months,
            out,
            cfg=sim,
            features=cfg.features,
            progress=bar.step,
        )
    assert result.folder is not None
    first_new = (
        pd.Timestamp(result.extract_date) - pd.DateOffset(months=months) + pd.Timedelta(days=1)
    )
    new_referrals = int((result.tables["referrals"]["referral_date"] >= first_new).sum())
    used = saved_config(result.folder).scenario
    console.print(
        f"Continued {folder} by {months} months to {result.extract_date} in"
        f" {result.seconds:.1f} s: {new_referrals:,} new referrals,"
        f" {len(result.truth):,} decision points with a true probability"
        + (f"; scenario: {used.describe()}" if used is not None and not used.neutral else "")
        + "."
    )
    console.print(
        f"Extract: {result.folder / 'extract'}   Ground truth: {result.folder / 'truth'}"
        f"   State: {result.folder / 'state'}"
    )
    if report:
        realism_report(
            result.tables,
            result.extract_date,
            result.folder / "realism.csv",
            console,
            months=months,
        )
    return result


ContinueOpt = Annotated[
    Path | None,
    typer.Option(
        "--continue-from",
        help="A simulation folder (written by stratify simulate) to continue: the same"
        " borough, people, state and random streams, for --months more months. Writes the"
        " whole period's extract, its ground truth (sampled in the new test window) and its"
        " own state, to --out (default <its parent>/sim-<new extract date>).",
    ),
]
MonthsOpt = Annotated[
    int | None,
    typer.Option(min=1, help="Months to continue by (default 3); needs --continue-from."),
]
ScenarioOpt = Annotated[
    str | None,
    typer.Option(
        help="With --continue-from, a change to the world from the first new month:"
        f" {', '.join(SCENARIO_PRESETS)} (police-doubling: the police refer twice as often;"
        " new-early-help-north: a new early help service in North doubles uptake there)."
        " Default: the config's simulation.scenario, else the scenario the continued"
        " simulation ended with (none for a fresh one).",
    ),
]


BoroughsOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=99,
        help="Simulate a region: N boroughs of --children children each, with their own"
        " LA codes (Greater Manchester's ten first), written as one extract (no ground"
        " truth or state) to --out (default <work>/sim-region).",
    ),
]
ERR_REGION_CONTINUE = "--boroughs simulates a new region: it cannot continue a simulation"


def simulate_cmd(  # noqa: PLR0913, PLR0917 - one parameter per command-line option
    config: ConfigOpt = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default <work>/sim).")] = None,
    seed: Annotated[int | None, typer.Option(help="Override the config's seed.")] = None,
    children: Annotated[int | None, typer.Option(help="Override the number of children.")] = None,
    report: Annotated[bool, typer.Option(help="Print the realism report.")] = True,
    continue_from: ContinueOpt = None,
    months: MonthsOpt = None,
    scenario: ScenarioOpt = None,
    boroughs: BoroughsOpt = None,
) -> None:
    """Simulate the synthetic borough: writes a CSV extract, the ground truth and its state.

    With --continue-from, continue a simulated borough by some months instead (see
    --scenario to change the world from then on, so that drift can be shown). With
    --boroughs N, simulate a region of N boroughs as one extract instead.
    """
    console = Console()
    try:
        cfg = resolve_config(config)
        if boroughs is not None:
            if continue_from is not None:
                raise ConfigError(ERR_REGION_CONTINUE)
            simulate_boroughs(cfg, out, boroughs, seed=seed, children=children, console=console)
            return
        if continue_from is None and (months is not None or scenario is not None):
            raise ConfigError(ERR_NEEDS_CONTINUE)
        if scenario is not None and scenario not in SCENARIO_PRESETS:
            names = ", ".join(SCENARIO_PRESETS)
            raise ConfigError(ERR_SCENARIO_NAME.format(name=scenario, names=names))
        if scenario is not None:  # the command line's scenario replaces the config's
            named = cfg.simulation.model_copy(update={"scenario": scenario_preset(scenario)})
            cfg = cfg.model_copy(update={"simulation": named})
        simulate_borough(
            cfg,
            out,
            seed=seed,
            children=children,
            report=report,
            console=console,
            continue_from=continue_from,
            months=months or 3,
        )
    except (ConfigError, ContinuationError, OSError, ValueError) as err:
        raise _fail(console, err) from None


def simulate_boroughs(  # noqa: PLR0913 - simulate_borough's options, and how many
    cfg: Config,
    out: Path | None,
    boroughs: int,
    *,
    seed: int | None = None,
    children: int | None = None,
    console: Console | None = None,
) -> SimulationResult:
    """Simulate ``boroughs`` boroughs as one extract in ``out`` (default ``<work>/sim-region``)."""
    from stratify.features.simulate.region import simulate_region

    console = console or Console()
    overrides = {"seed": seed, "children": children}
    sim = cfg.simulation.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    out = out or cfg.work_dir / "sim-region"
    label = f"Simulating {boroughs} boroughs of {sim.children:,} children"
    with progress_bar(console, label) as bar:
        result = simulate_region(sim, out, boroughs, cfg.features, progress=bar.stage)
    console.print(
        f"Simulated {boroughs} boroughs ({boroughs * sim.children:,} children) in "
        f"{result.seconds:.1f} s: {len(result.tables['referrals']):,} referrals, "
        f"{len(result.tables['agency_events']):,} agency events. Extract: {out / 'extract'}"
    )
    return result


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


def load_cmd(  # noqa: PLR0917 - one parameter per command-line option
    src: Annotated[
        Path | None,
        typer.Option(
            "--from", help="The extract folder: one <table>.csv per table, optional extract.json."
        ),
    ] = None,
    warehouse: Annotated[
        Path | None,
        typer.Option(help="Warehouse file to write (default: <work dir>/warehouse.duckdb)."),
    ] = None,
    config: ConfigOpt = None,
    cin_xml: Annotated[
        Path | None,
        typer.Option(
            "--cin-xml", help="A CIN census XML return, or a folder of yearly returns (*.xml)."
        ),
    ] = None,
    quarantine: Annotated[
        bool,
        typer.Option(help="CIN returns: load the children without errors, list the others."),
    ] = False,
    ssd: Annotated[
        Path | None,
        typer.Option("--ssd", help="A folder of Standard Safeguarding Dataset tables (ssd_*.csv)."),
    ] = None,
) -> None:
    """Validate an extract and load it into the warehouse, pseudonymised.

    Nothing is written unless the whole extract is valid; every violation is listed.
    With --cin-xml the validation report is written beside the returns.
    """
    console = Console()
    if sum(x is not None for x in (src, cin_xml, ssd)) != 1:
        raise _fail(console, ValueError(ERR_ONE_SOURCE))
    try:
        cfg = resolve_config(config)
        target = warehouse if warehouse is not None else cfg.work_dir / WAREHOUSE_FILE
        if cin_xml is not None:
            load_cin_warehouse(cfg, cin_xml, target, console, quarantine=quarantine)
        elif ssd is not None:
            load_ssd_warehouse(cfg, ssd, target, console)
        elif src is not None:
            load_warehouse(cfg, src, warehouse, console)
    except ExtractInvalid as err:
        _show_violations(console, err)
        raise typer.Exit(EXIT_INVALID) from None
    except (CinReturnsInvalid, SsdInvalid):  # the loader's command has shown the issues
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
    if cfg.features.backend == "pyspark":
        return _build_on_spark(cfg, name, warehouse, dest, console)
    with progress_bar(console, name) as bar:
        about = build_to(source, name, cfg.features, dest, progress=bar.stage)  # type: ignore[arg-type]
    size = sum((dest / f).stat().st_size for f in (FEATURES_FILE, AUDIT_FILE, METADATA_FILE))
    console.print(_summary(about, dest, size), soft_wrap=True)
    return about


def _build_on_spark(
    cfg: Config, name: str, dataset: Path | None, dest: Path, console: Console
) -> dict[str, Any]:
    """Build on Spark from the exported dataset (``--warehouse`` may name the folder)."""
    from stratify.features.build.spark import build_on_spark

    source = dataset or cfg.features.spark.dataset or cfg.work_dir / DATASET_DIR
    with progress_bar(console, f"{name} (Spark)") as bar:
        about = build_on_spark(source, name, cfg.features, dest, progress=bar.stage)  # type: ignore[arg-type]
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    console.print(_summary(about, dest, size), soft_wrap=True)
    return about


def export_cmd(
    config: ConfigOpt = None,
    warehouse: Annotated[
        Path | None,
        typer.Option("--warehouse", help="Warehouse file (default: <work dir>/warehouse.duckdb)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help=f"Dataset folder (default: <work dir>/{DATASET_DIR})."),
    ] = None,
) -> None:
    """Export the warehouse as a Parquet dataset that Spark (and DuckDB) read.

    One folder of Parquet part files per table and meta.json; the folder is replaced
    as a whole once the new one is complete. Copy it to the cluster's storage and set
    features.backend: pyspark (features.spark.dataset: its path).
    """
    from stratify.features.warehouse.dataset import export_dataset

    console = Console()
    try:
        cfg = resolve_config(config)
        dest = out or cfg.features.spark.dataset or cfg.work_dir / DATASET_DIR
        rows = export_dataset(warehouse or cfg.work_dir / WAREHOUSE_FILE, dest)
    except _DOMAIN_ERRORS as err:
        raise _fail(console, err) from None
    total = sum(rows.values())
    console.print(f"exported {len(rows)} tables ({total:,} rows) to {escape(str(dest))}")


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
    app.command("export")(export_cmd)
