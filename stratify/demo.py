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

import shutil
import time
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console

from stratify.core.targets import CHAMPION, TARGETS, Target
from stratify.features.catalogue import catalogue_hash
from stratify.features.config import Config
from stratify.stages import STAMPS, file_key, key_of, run_stage

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
    listed = _serving(cfg, config, versions, console)
    _next_quarter(cfg, console, listed)
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
    load_key = key_of(sim_key, file_key(extract))
    run_stage(work, "load", load_key, [warehouse], load, say=console.print)
    _other_forms(cfg, console, load_key)
    for target in TARGETS:
        meta = work / "features" / target / "metadata.json"
        # keyed on the load, not on the warehouse file: a later quarter's retrain makes a
        # newer warehouse current, and the first quarter's stages stay what they were
        key = key_of(load_key, cfg.features.model_dump(mode="json"), catalogue_hash())
        run_stage(
            work,
            f"features-{target}",
            key,
            [meta],
            partial(build_features, cfg, target, console=console),
            say=console.print,
        )


def _other_forms(cfg: Config, console: Console, load_key: str) -> None:
    """Load the borough's CIN census returns and SSD tables too, each into its own warehouse.

    The demo's models use the CSV extract; these show the council paths working on the
    same borough (their reports are written beside the returns and tables).
    """
    from stratify.features.cli_cin import load_cin_warehouse, load_ssd_warehouse

    work = cfg.work_dir
    for name, load, src in (
        ("cin-xml", load_cin_warehouse, work / "sim" / "cin_xml"),
        ("ssd", load_ssd_warehouse, work / "sim" / "ssd"),
    ):
        target = work / "warehouses" / f"from-{name}.duckdb"
        run_stage(
            work, f"load-{name}", load_key, [target], partial(load, cfg, src, target, console),
            say=console.print,
        )  # fmt: skip


def _train(cfg: Config, target: Target, console: Console) -> int:
    from stratify.training.cli import summary_tables
    from stratify.training.policy import load_policy
    from stratify.training.run import config_hash, train_and_register

    work = cfg.work_dir
    policy_key = file_key(cfg.training.policy) if cfg.training.policy is not None else "default"
    features = work / STAMPS / f"features-{target}.json"
    key = key_of(file_key(features), config_hash(cfg), catalogue_hash(), policy_key)

    def run() -> dict[str, object]:
        outcome = train_and_register(cfg, target, load_policy(cfg.training.policy))
        for table in summary_tables(outcome.evaluation, outcome.version):
            console.print(table)
        return {"version": outcome.version, "card": str(outcome.card_dir)}

    result = run_stage(work, f"train-{target}", key, [work / "mlflow.db"], run, say=console.print)
    return int(result["version"])


def _promote(cfg: Config, target: Target, version: int, console: Console, reason: str = "") -> None:
    from stratify.training import tracking
    from stratify.training.run import stamp_card

    current = tracking.alias_version(cfg, target, CHAMPION)
    if current is not None and current >= version:
        console.print(f"- promote {target}: version {current} is the champion")
        return
    tracking.promote(
        cfg,
        target,
        version,
        approved_by=DEMO_APPROVER,
        reason=reason or DEMO_REASON,
        override_reason=DEMO_OVERRIDE,
        acknowledge_unassessable=DEMO_OVERRIDE,
    )
    stamp_card(cfg, target, version)  # the card beside the champion names its approver
    console.print(
        f"- promote {target}: version {version} is the champion (approver '{DEMO_APPROVER}', "
        "verdict override and any unassessable fairness checks acknowledged and recorded)"
    )


NEXT_QUARTER_MONTHS = 3
DEMO_DECISION = "retraining report's recommendation, acted on by the demo approver"


def _next_quarter(cfg: Config, console: Console, listed: list[str] | None = None) -> None:
    """Continue the borough a quarter, retrain, act on the report, write the next lists.

    The data scientists' quarter on the demo: the simulation continues by
    :data:`NEXT_QUARTER_MONTHS` months (the same people and random streams), ``retrain``
    loads the new extract as a new warehouse version and writes the retraining report,
    the recorded demo approver does what the report recommends (promote, or keep the
    champion; "needs review" keeps it too, pending a person), and the next quarter's
    outreach lists are written with whichever model is the champion. Families that took
    the help offered on the ``listed`` lists get early help in the continued borough,
    and the lists are followed up a year on (:mod:`stratify.loop`).
    """
    from stratify.features.simulate import continue_simulation
    from stratify.loop import follow_up_year, response_hook, taken_key
    from stratify.retrain import retrain
    from stratify.training.policy import load_policy

    work = cfg.work_dir
    nxt = work / "sim-next"
    key = key_of(file_key(work / "sim" / "extract" / "extract.json"), NEXT_QUARTER_MONTHS,
                 cfg.simulation.model_dump(mode="json"), taken_key(cfg))  # fmt: skip

    def simulate() -> None:
        shutil.rmtree(nxt, ignore_errors=True)
        continue_simulation(work / "sim", NEXT_QUARTER_MONTHS, nxt, cfg=cfg.simulation,
                            features=cfg.features,
                            before_new_months=response_hook(cfg))  # fmt: skip

    run_stage(work, "simulate-next-quarter", key, [nxt / "extract" / "extract.json"], simulate,
              say=console.print)  # fmt: skip

    def say(line: str) -> None:
        console.print(f"  {line}", highlight=False)

    def run() -> list[dict[str, object]]:
        policy = load_policy(cfg.training.policy)
        return [
            {"target": o.target, "champion": o.champion, "challenger": o.challenger,
             "decision": o.recommendation.decision, "reasons": list(o.recommendation.reasons),
             "report": str(o.report["markdown"]), "run_id": o.run_id}
            for o in retrain(cfg, nxt / "extract", policy, TARGETS, say=say)
        ]  # fmt: skip

    new_extract = file_key(nxt / "extract" / "extract.json")
    done = run_stage(work, "retrain-next-quarter", key_of(key, new_extract),
                     [work / "retraining"], run, say=console.print)  # fmt: skip
    for outcome in done:
        _act(cfg, outcome, console)
    _lists(cfg, console)
    follow_up_year(cfg, listed or [], console)


def _act(cfg: Config, outcome: dict[str, Any], console: Console) -> None:
    """Do what the retraining report recommends, as the recorded demo approver."""
    from stratify.training import tracking
    from stratify.training.retrain.report import record_decision

    target, challenger = outcome["target"], int(outcome["challenger"])
    console.print(f"- retraining report for {target}: {outcome['decision']}")
    for reason in outcome["reasons"]:
        console.print(f"    - {reason}", highlight=False)
    console.print(f"    {outcome['report']}")
    if outcome["decision"] == "promote":
        _promote(cfg, target, challenger, console, reason=DEMO_DECISION)
        text = f"promoted v{challenger} (demo approver, {DEMO_DECISION})"
    else:
        text = f"kept the champion v{outcome['champion']} (demo approver: {outcome['decision']})"
    tracking.tag_run(cfg, str(outcome["run_id"]), {"decision": text})
    record_decision(Path(str(outcome["report"])).parent, text, DEMO_APPROVER)


def _lists(cfg: Config, console: Console) -> None:
    from stratify.serving import demo
    from stratify.serving.outreach.guide import summary

    imported = demo.import_champions(cfg)
    if "escalation" in imported.champions:
        for outcome in demo.write_demo_outreach(cfg):
            console.print(f"- next quarter: {summary(outcome.outreach)[0]}: "
                          f"{len(outcome.outreach.families)} families")  # fmt: skip
            console.print(f"    {outcome.workbook}")
    if "rereferral" in imported.champions:
        _stepdown(cfg, console)


def _stepdown(cfg: Config, console: Console) -> None:
    """Write the step-down list of the extract's last complete month (re-referral champion)."""
    import datetime as dt

    from stratify.features.warehouse.store import read_meta
    from stratify.serving.stepdown.run import run_stepdown

    extract = dt.date.fromisoformat(read_meta(cfg.work_dir / "warehouse.duckdb")["extract_date"])
    nxt = extract + dt.timedelta(days=1)
    month = extract if nxt.day == 1 else extract.replace(day=1) - dt.timedelta(days=1)
    outcome = run_stepdown(cfg, month.replace(day=1))
    lst = outcome.stepdown
    console.print(
        f"- step-down list for {month:%Y-%m}, stratify-rereferral v{lst.model_version}: "
        f"{len(lst.families)} of {lst.eligible_families} eligible families "
        f"({lst.excluded_families} still open, left out), audit sample of "
        f"{outcome.sample_size} ({outcome.seconds:.1f} s)"
    )
    console.print(f"    {outcome.workbook}")


def _card_pdf(card: Path) -> str:
    """Print the card to A4 PDF beside it with headless Chromium (skipped when up to date)."""
    from stratify.training.card.publish import write_pdf

    pdf = card.with_suffix(".pdf")
    if pdf.is_file() and pdf.stat().st_mtime >= card.stat().st_mtime:
        return str(pdf)
    written = write_pdf(card)
    return (
        "(no PDF: chromium is not installed; apt-get install -y chromium)"
        if written is None
        else str(written)
    )


def _serving(
    cfg: Config, config: Path | None, versions: dict[Target, int], console: Console
) -> list[str]:
    """Serve, write the lists and their simulated decisions; return the decided lists' ids."""
    from stratify.loop import decide_and_import
    from stratify.serving import demo
    from stratify.serving.outreach.guide import summary

    imported = demo.import_champions(cfg)
    for target, why in imported.missing.items():
        console.print(f"(not served: {target}: {why})")
    listed: list[str] = []
    if "escalation" in imported.champions:
        outcomes = demo.write_demo_outreach(cfg)
        for o in outcomes:
            console.print(f"- {summary(o.outreach)[0]}: {len(o.outreach.families)} families")
            console.print(f"    {o.workbook}\n    {o.page}")
        listed = decide_and_import(cfg, outcomes, console)
    if "rereferral" in imported.champions:
        _stepdown(cfg, console)
    _artefacts(cfg, versions, console)
    if not imported.champions:
        return listed
    served: Target = next(iter(imported.champions))
    token = demo.demo_token(cfg)
    example = demo.write_example_request(cfg, served)
    for line in demo.service_instructions(token, example, served, config):
        console.print(line, soft_wrap=True, highlight=False)
    return listed


def _artefacts(cfg: Config, versions: dict[Target, int], console: Console) -> None:
    """Print where the demo wrote what."""
    work = cfg.work_dir
    console.print("\nArtefacts:")
    console.print(f"  warehouse       {work / 'warehouse.duckdb'}")
    console.print(f"  feature tables  {work / 'features'}/<target>/")
    db = (work / "mlflow.db").resolve()
    console.print(
        f"  MLflow store    {cfg.mlflow_uri} (mlflow ui --backend-store-uri sqlite:///{db})"
    )
    for target, version in versions.items():
        card = work / "model_cards" / target / f"v{version}" / "model_card.html"
        console.print(f"  model card      {card}")
        console.print(f"                  {_card_pdf(card)}")
    console.print(f"  outreach lists  {work / 'outreach'}/")
    console.print(f"  decisions       {work / 'decisions.duckdb'}")
