"""``stratify features --target escalation|rereferral``: build the family-context table.

Thin wiring of :func:`stratify.features.build.pipeline.build` and :func:`stratify.features.build.pipeline.write_build` to
the command line, with a progress display. Exit codes: 0 built, 2 a domain error
(missing or stale warehouse, missing table or column, date range outside the data,
empty cohort, bad config), printed as one short line. Neither identifiers nor feature
values are ever printed.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from stratify.features.build.pipeline import build, write_build
from stratify.features.cohorts import CohortError
from stratify.features.config import ConfigError, load_config
from stratify.features.warehouse.store import WarehouseError

WAREHOUSE_FILE = "warehouse.duckdb"
EXIT_ERROR = 2
_DOMAIN_ERRORS = (CohortError, WarehouseError, ConfigError, OSError)


class TargetName(StrEnum):
    """The targets a feature table can be built for."""

    escalation = "escalation"
    rereferral = "rereferral"


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


def _summary(metadata: dict, out: Path, size: int) -> str:
    rate = metadata["base_rate"]
    base = "no labelled points" if rate is None else f"base rate {rate:.1%}"
    return (
        f"{metadata['target']}: {metadata['rows']:,} decision points "
        f"({metadata['labelled']:,} labelled, {base}) x {len(metadata['features'])} features; "
        f"wrote {escape(str(out))} ({size / 1e6:.1f} MB) in {metadata['build_seconds']:.1f} s"
    )


def features_cmd(
    target: Annotated[
        TargetName, typer.Option("--target", help="The prediction target.", case_sensitive=False)
    ],
    config: Annotated[
        Path | None, typer.Option("--config", help="Run configuration (YAML).")
    ] = None,
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
    name = TargetName(target).value
    try:
        cfg = load_config(config)
        source = warehouse or cfg.work_dir / WAREHOUSE_FILE
        dest = out or cfg.work_dir / "features" / name
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(f"{name}: starting", total=None)
            result = build(
                source,
                name,  # type: ignore[arg-type]
                cfg.features,
                progress=lambda stage: bar.update(task, description=f"{name}: {stage}"),
            )
            bar.update(task, description=f"{name}: writing the files")
            paths = write_build(result, dest)
    except _DOMAIN_ERRORS as err:
        console.print(f"[red]{escape(_one_line(err))}[/red]", soft_wrap=True)
        raise typer.Exit(EXIT_ERROR) from None
    size = sum(p.stat().st_size for p in paths.values())
    console.print(_summary(result.metadata, dest, size), soft_wrap=True)
