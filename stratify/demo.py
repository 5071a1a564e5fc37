"""``stratify demo``: the whole job on the synthetic borough, reusing what is up to date.

The demo only composes run-level functions of the packages, each taking the typed
config: simulate, load and build (:mod:`stratify.features.cli`), train, register, audit
and card (:func:`stratify.training.run.train_and_register`), promote
(:func:`stratify.training.tracking.promote`), import the champions, write the outreach
lists and a demo token (:mod:`stratify.serving.demo`). Each stage is skipped when its
inputs have not changed (:mod:`stratify.stages`). Training is the exception that proves
the rule: a reused stage reuses the registered version it recorded, it never silently
picks "latest".
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

from rich.console import Console

from stratify.core.targets import CHAMPION, TARGETS, Target
from stratify.features.catalogue import catalogue_hash
from stratify.features.config import Config
from stratify.stages import file_key, key_of, run_stage

DEMO_APPROVER = "Demo Approver (synthetic data)"
DEMO_REASON = "synthetic demo borough: promoted so the service and outreach lists can be shown"
DEMO_OVERRIDE = "synthetic demo only: the verdict is shown in the card; no real family is scored"


def run_demo(cfg: Config, config: Path | None = None, console: Console | None = None) -> None:
    """Run every stage of the demo (see the module docstring).

    Parameters
    ----------
    cfg : Config
        The resolved run config (file and environment, resolved by the command).
    config : Path, optional
        The config file ``cfg`` came from, only to print commands that use it again.
    console : Console, optional
        Where to print the summaries.
    """
    console = console or Console(width=max(Console().width, 132))
    started = time.perf_counter()
    _data_stages(cfg, console)
    versions = {target: _train(cfg, target, console) for target in TARGETS}
    for target, version in versions.items():
        _promote(cfg, target, version, console)
    _serving(cfg, config, versions, console)
    console.print(f"Demo finished in {time.perf_counter() - started:.0f} s.")


def _data_stages(cfg: Config, console: Console) -> None:
    from stratify.features.cli import build_features, load_warehouse, simulate_borough

    work = cfg.work_dir
    sim_key = key_of(cfg.simulation.model_dump(mode="json"), cfg.features.model_dump(mode="json"))
    extract = work / "sim" / "extract" / "extract.json"
    warehouse = work / "warehouse.duckdb"

    def simulate() -> None:
        simulate_borough(cfg, work / "sim", console=console)

    def load() -> None:
        load_warehouse(cfg, work / "sim" / "extract", console=console)

    run_stage(work, "simulate", sim_key, [extract], simulate, say=console.print)
    run_stage(
        work, "load", key_of(sim_key, file_key(extract)), [warehouse], load, say=console.print
    )
    for target in TARGETS:
        meta = work / "features" / target / "metadata.json"
        key = key_of(file_key(warehouse), cfg.features.model_dump(mode="json"), catalogue_hash())
        run_stage(
            work,
            f"features-{target}",
            key,
            [meta],
            partial(build_features, cfg, target, console=console),
            say=console.print,
        )


def _train(cfg: Config, target: Target, console: Console) -> int:
    from stratify.training.cli import summary_tables
    from stratify.training.policy import load_policy
    from stratify.training.run import config_hash, train_and_register

    work = cfg.work_dir
    meta = work / "features" / target / "metadata.json"
    policy_key = file_key(cfg.training.policy) if cfg.training.policy is not None else "default"
    key = key_of(file_key(meta), config_hash(cfg), catalogue_hash(), policy_key)

    def run() -> dict[str, object]:
        outcome = train_and_register(cfg, target, load_policy(cfg.training.policy))
        for table in summary_tables(outcome.evaluation, outcome.version):
            console.print(table)
        return {"version": outcome.version, "card": str(outcome.card_dir)}

    result = run_stage(work, f"train-{target}", key, [work / "mlflow.db"], run, say=console.print)
    return int(result["version"])


def _promote(cfg: Config, target: Target, version: int, console: Console) -> None:
    from stratify.training import tracking

    if tracking.alias_version(cfg, target, CHAMPION) == version:
        console.print(f"- promote {target}: version {version} is already the champion")
        return
    tracking.promote(
        cfg,
        target,
        version,
        approved_by=DEMO_APPROVER,
        reason=DEMO_REASON,
        override_reason=DEMO_OVERRIDE,
        acknowledge_unassessable=DEMO_OVERRIDE,
    )
    console.print(
        f"- promote {target}: version {version} is the champion (approver '{DEMO_APPROVER}', "
        "verdict override and any unassessable fairness checks acknowledged and recorded)"
    )


def _serving(
    cfg: Config, config: Path | None, versions: dict[Target, int], console: Console
) -> None:
    from stratify.serving import demo
    from stratify.serving.outreach.guide import summary

    imported = demo.import_champions(cfg)
    for target, why in imported.missing.items():
        console.print(f"(not served: {target}: {why})")
    if "escalation" in imported.champions:
        for outcome in demo.write_demo_outreach(cfg):
            families = len(outcome.outreach.families)
            console.print(f"- {summary(outcome.outreach)[0]}: {families} families")
            console.print(f"    {outcome.workbook}\n    {outcome.page}")
    work = cfg.work_dir
    console.print("")
    console.print("Artefacts:")
    console.print(f"  warehouse       {work / 'warehouse.duckdb'}")
    console.print(f"  feature tables  {work / 'features'}/<target>/")
    db = (work / "mlflow.db").resolve()
    console.print(
        f"  MLflow store    {cfg.mlflow_uri} (mlflow ui --backend-store-uri sqlite:///{db})"
    )
    for target, version in versions.items():
        card = work / "model_cards" / target / f"v{version}" / "model_card.html"
        console.print(f"  model card      {card}")
    console.print(f"  outreach lists  {work / 'outreach'}/")
    if not imported.champions:
        return
    served: Target = next(iter(imported.champions))
    token = demo.demo_token(cfg)
    example = demo.write_example_request(cfg, served)
    for line in demo.service_instructions(token, example, served, config):
        console.print(line, soft_wrap=True, highlight=False)
