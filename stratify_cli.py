"""The ``stratify`` console script: composes the packages' command-line apps."""

from pathlib import Path
from typing import Annotated

import typer

from features.cli import register as register_features
from training.cli import register as register_training

app = typer.Typer(
    name="stratify",
    help="Risk stratification with fairness auditing for children's services. "
    "It supports professional judgement; it never decides anything about a family.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
register_features(app)
register_training(app)


@app.command()
def demo(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML run config.")] = None,
) -> None:
    """Run the whole job on the synthetic borough: simulate, load, build both targets."""
    from features.cli import simulate_cmd
    from features.cli_features import TargetName, features_cmd
    from features.cli_load import load_cmd
    from features.config import load_config

    work = load_config(config).work_dir
    simulate_cmd(config=config, out=work / "sim", seed=None, children=None, report=True)
    load_cmd(src=work / "sim" / "extract", warehouse=None, config=config)
    for target in TargetName:
        features_cmd(target=target, config=config, warehouse=None, out=None)
    typer.echo(f"Done. Everything is under {work}/ (extract, truth, warehouse, features).")
