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
from stratify.training.cli import register as register_training

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
