"""The ``stratify`` console script: composes the packages' command-line apps."""

from pathlib import Path
from typing import Annotated

import typer

from stratify.features.cli import register as register_features
from stratify.serving.cli import register as register_serving
from stratify.serving.outreach_cli import register as register_outreach
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
register_outreach(app)
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

    run_demo(config)
