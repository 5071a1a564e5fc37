"""Command-line wiring for training: ``stratify train``, ``stratify promote``, ``stratify audit``.

Thin: each command parses its options, calls :mod:`stratify.training.run` or
:mod:`stratify.training.tracking`, and prints a summary. Domain errors print one short line
and exit with code 2.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stratify.core.progress import progress_bar
from stratify.core.targets import Target, TargetName, model_name
from stratify.core.text import fmt_ci
from stratify.features.config import Config, ConfigError, load_config
from stratify.training.evaluation import Evaluation, Interval
from stratify.training.policy import load_policy

console = Console(width=max(Console().width, 132))  # the summary tables need the width
EXIT_ERROR = 2
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML run config.")]
TargetOpt = Annotated[
    TargetName, typer.Option("--target", help="The prediction target.", case_sensitive=False)
]
ROWS = (
    ("lightgbm", "LightGBM (calibrated)"),
    ("logreg", "logistic regression (baseline)"),
    ("rule", "prior-referral rule (baseline)"),
    ("lightgbm_on_truth_sample", "LightGBM, on the truth sample"),
    ("ceiling", "true probabilities (ceiling)"),
)
COLUMNS = (
    ("roc_auc", "ROC AUC"),
    ("average_precision", "avg precision"),
    ("brier", "Brier"),
    ("precision_at_capacity", "families: precision @ cap."),
    ("recall_at_capacity", "families: recall @ cap."),
)
LIFT_COLUMNS = ("roc_auc", "average_precision", "precision_at_capacity")


def _cells(per_metric: Mapping[str, Interval], metrics: tuple[str, ...]) -> list[str]:
    """Return each metric's figure and interval as text ("n/a" when undefined or absent)."""
    return [fmt_ci(per_metric.get(m)) for m in metrics]


def summary_tables(evaluation: Evaluation, version: int | None = None) -> list[Table]:
    """Return the model-vs-baselines-vs-ceiling, lift and verdict tables of a run."""
    test = evaluation.split.test
    registered = "" if version is None else f" v{version}"
    title = (
        f"{evaluation.model_name}{registered}: test window {test.start} to {test.end} "
        f"({test.rows:,} eligible decision points, base rate {evaluation.base_rate:.1%}); "
        f"capacity {evaluation.capacity}; 95 % family-bootstrap CIs; registered model "
        f"refitted on {evaluation.champion.train.start} to {evaluation.champion.train.end}, "
        f"calibrated on {evaluation.champion.calibrate.start} to "
        f"{evaluation.champion.calibrate.end}"
    )
    main = Table(title=title, title_justify="left")
    main.add_column("model")
    for _, label in COLUMNS:
        main.add_column(label, justify="right")
    metric_keys = tuple(m for m, _ in COLUMNS)
    for key, label in ROWS:
        if key in evaluation.metrics:
            main.add_row(label, *_cells(evaluation.metrics[key], metric_keys))
    lift = Table(title="LightGBM minus each baseline (paired bootstrap)", title_justify="left")
    lift.add_column("baseline")
    for m in LIFT_COLUMNS:
        lift.add_column(dict(COLUMNS)[m], justify="right")
    for base, metrics in evaluation.lift_over.items():
        lift.add_row(base, *_cells(metrics, LIFT_COLUMNS))
    gap = evaluation.ceiling_gap
    if gap is not None:
        lift.add_row(
            f"ceiling minus LightGBM ({gap.rows:,} sampled points, {gap.positives} positives)",
            *_cells(gap.difference, LIFT_COLUMNS),
        )
    verdict = Table(
        title=f"Verdict against the bar: {evaluation.verdict.overall.upper()}",
        title_justify="left",
    )
    for col in ("criterion", "threshold", "value (95 % CI)", "outcome"):
        verdict.add_column(col)
    for c in evaluation.verdict.criteria:
        colour = "green" if c.outcome == "met" else "red"
        verdict.add_row(c.name, c.threshold, fmt_ci(c.ci), f"[{colour}]{c.outcome}[/]")
    return [main, lift, verdict]


def _config(path: Path | None) -> Config:
    """Resolve the run config once, against the process environment (this is the edge)."""
    try:
        return load_config(path, os.environ)
    except ConfigError as err:
        console.print(f"[red]{escape(str(err))}[/]")
        raise typer.Exit(EXIT_ERROR) from None


def _target(target: TargetName) -> Target:
    return TargetName(target).value


def train_cmd(target: TargetOpt, config: ConfigOpt = None) -> None:
    """Train, evaluate and register a model for one target (alias challenger), then audit it."""
    from stratify.training.run import train_and_register

    cfg = _config(config)
    name = _target(target)
    try:
        policy = load_policy(cfg.training.policy)
        with progress_bar(console, name) as bar:
            bar.stage("starting")
            outcome = train_and_register(cfg, name, policy, progress=bar.stage)
    except (ConfigError, FileNotFoundError, ValueError, LookupError) as err:
        console.print(f"[red]{escape(' '.join(str(err).split()))}[/]", soft_wrap=True)
        raise typer.Exit(EXIT_ERROR) from None
    for table in summary_tables(outcome.evaluation, outcome.version):
        console.print(table)
    console.print(
        f"Registered {outcome.evaluation.model_name} version {outcome.version} "
        f"(alias challenger), MLflow run {outcome.run_id}."
    )
    if outcome.card_dir is not None:
        console.print(f"Model card: {escape(str(outcome.card_dir / 'model_card.html'))}")


def promote_cmd(
    target: TargetOpt,
    *,
    version: Annotated[int, typer.Option("--version", help="The registered version.")],
    approved_by: Annotated[str, typer.Option("--approved-by", help="Who approves it.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is approved.")],
    override_reason: Annotated[
        str | None,
        typer.Option("--override-reason", help="Why to promote although the verdict failed."),
    ] = None,
    acknowledge_unassessable: Annotated[
        str | None,
        typer.Option(
            "--acknowledge-unassessable",
            help="Why to promote although required fairness checks could not be assessed.",
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Make a registered version the champion, recording the approver and the reason."""
    from stratify.training import tracking

    cfg = _config(config)
    name = _target(target)
    try:
        tags = tracking.promote(
            cfg,
            name,
            version,
            approved_by=approved_by,
            reason=reason,
            override_reason=override_reason,
            acknowledge_unassessable=acknowledge_unassessable,
        )
    except (LookupError, PermissionError) as err:
        console.print(f"[red]{escape(str(err))}[/]", soft_wrap=True)
        raise typer.Exit(EXIT_ERROR) from None
    notes = [
        words
        for given, words in (
            (override_reason, "verdict overridden"),
            (acknowledge_unassessable, "unassessable fairness checks acknowledged"),
        )
        if given
    ]
    note = f" ({'; '.join(notes)}: reasons recorded)" if notes else ""
    console.print(
        f"{model_name(name)} version {version} is now the champion{note}; "
        f"approved by {escape(approved_by)}; previous champion: {tags['previous_champion']}."
    )
    _stamp(cfg, name, version)


def _stamp(cfg: Config, target: Target, version: int) -> None:
    """Rewrite the promoted version's card to name its approver, or say why it was not."""
    from stratify.training.run import stamp_card

    try:
        written = stamp_card(cfg, target, version)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        console.print(
            f"[yellow]The card was not updated: {escape(str(err))}. "
            f"`stratify audit --target {target} --model-version {version}` rewrites it.[/]",
            soft_wrap=True,
        )
        return
    console.print(f"Model card (names the approval): {escape(str(written[1]))}")


def audit_cmd(
    target: TargetOpt,
    model_version: Annotated[int, typer.Option("--model-version", help="Registered version.")],
    config: ConfigOpt = None,
) -> None:
    """Audit a registered version's fairness again and rewrite its model card."""
    from stratify.training.run import reaudit

    cfg = _config(config)
    name = _target(target)
    try:
        policy = load_policy(cfg.training.policy)
        with progress_bar(console, f"{name} v{model_version}") as bar:
            bar.stage("auditing")
            card = reaudit(cfg, name, model_version, policy)
    except (ConfigError, FileNotFoundError, ValueError, LookupError) as err:
        console.print(f"[red]{escape(' '.join(str(err).split()))}[/]", soft_wrap=True)
        raise typer.Exit(EXIT_ERROR) from None
    audit = json.loads((card / "audit.json").read_text())
    console.print(f"Fairness verdict: {audit['verdict']['overall']}  ({audit['verdict']})")
    console.print(f"Model card: {escape(str(card / 'model_card.html'))}")


def register(app: typer.Typer) -> None:
    """Add the training commands to the ``stratify`` app."""
    app.command("train")(train_cmd)
    app.command("promote")(promote_cmd)
    app.command("audit")(audit_cmd)
