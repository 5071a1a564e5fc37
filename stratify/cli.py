"""The ``stratify`` console script: composes the packages' command-line apps.

Thin: each package's ``register`` adds its commands; ``demo`` resolves the config
(file and environment) once and hands it to :func:`stratify.demo.run_demo`.
"""

import os
from pathlib import Path
from typing import Annotated

import typer

from stratify.features.cli import register as register_features
from stratify.serving.cli import register as register_serving
from stratify.serving.decisions.cli import register as register_decisions
from stratify.training.cli import register as register_training
from stratify.training.followup.cli import register as register_follow_up

app = typer.Typer(
    name="stratify",
    help="Risk stratification with fairness auditing for children's services. "
    "It supports professional judgement; it never decides anything about a family.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
register_features(app)
register_serving(app)
register_training(app)
register_decisions(app)
register_follow_up(app)


@app.command()
def demo(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML run config.")] = None,
) -> None:
    """Run the whole job on the synthetic borough, reusing every stage that is up to date.

    Simulate, load, build both feature tables, train, audit and card both targets,
    promote them with a recorded demo approver, import them into BentoML, write an
    outreach list per locality, and print where everything is and how to start the
    service.
    """
    from stratify.demo import run_demo
    from stratify.features.config import ConfigError, load_config

    try:
        cfg = load_config(config, os.environ)
    except ConfigError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    run_demo(cfg, config)


@app.command()
def retrain(
    src: Annotated[
        Path, typer.Option("--from", help="The new extract folder (CSV tables and extract.json).")
    ],
    target: Annotated[
        list[str] | None,
        typer.Option("--target", help="Retrain only this target (repeatable; default: both)."),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML run config.")] = None,
) -> None:
    """Retrain on a new extract: a challenger, compared with the champion, in a report.

    Validates the extract (newer than the warehouse, the same council), loads it into a
    new warehouse version (the previous kept), rebuilds the features, trains, audits and
    registers a challenger, compares it with the champion on decision points neither
    learnt from, reports drift and list stability, and writes the retraining report with
    a recommendation. It never promotes: `stratify promote` needs a named approver.
    """
    from rich.console import Console
    from rich.markup import escape

    from stratify.core.targets import TARGETS, TargetName
    from stratify.features.config import ConfigError, load_config
    from stratify.features.warehouse.ingest import ExtractInvalid
    from stratify.retrain import RetrainError
    from stratify.retrain import retrain as run_retrain
    from stratify.training.policy import load_policy

    console = Console()
    try:
        cfg = load_config(config, os.environ)
        chosen = tuple(TargetName(t).value for t in target) if target else TARGETS
        outcomes = run_retrain(
            cfg, src, load_policy(cfg.training.policy), chosen,  # type: ignore[arg-type]
            say=lambda line: console.print(f"- {escape(line)}", highlight=False),
        )  # fmt: skip
    except (ConfigError, RetrainError, ExtractInvalid, ValueError, LookupError) as err:
        console.print(f"[red]error:[/] {escape(str(err))}", highlight=False)
        raise typer.Exit(2) from None
    for o in outcomes:
        console.print(
            f"{o.target}: champion v{o.champion} against challenger v{o.challenger}: "
            f"[bold]{o.recommendation.decision}[/] ({o.seconds:.0f} s)", highlight=False
        )  # fmt: skip
        for reason in o.recommendation.reasons:
            console.print(f"  - {escape(reason)}", highlight=False)
        console.print(f"  report: {escape(str(o.report['html']))}", highlight=False)
    console.print("Nothing was promoted: `stratify promote` needs a named approver.")
