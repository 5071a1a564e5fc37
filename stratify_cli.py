"""The ``stratify`` console script: composes the packages' command-line apps."""

import typer

from features.cli import register as register_features

app = typer.Typer(
    name="stratify",
    help="Risk stratification with fairness auditing for children's services. "
    "It supports professional judgement; it never decides anything about a family.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
register_features(app)
