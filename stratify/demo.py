"""``stratify demo``: the whole job on the synthetic borough, reusing what is up to date.

Each stage records a stamp (``<work>/.stamps/<stage>.json``): the hash of everything
the stage's output depends on (its config section, its input's hash, the code's
catalogue hash). A stage whose stamp matches and whose output still exists is skipped,
so running the demo twice redoes only what changed. Training is the exception that
proves the rule: a reused stage reuses the registered version it recorded, it never
silently picks "latest".
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from stratify.features.catalogue import catalogue_hash
from stratify.features.config import Config, load_config

STAMPS = ".stamps"
DEMO_APPROVER = "Demo Approver (synthetic data)"
DEMO_REASON = "synthetic demo borough: promoted so the service and outreach lists can be shown"
DEMO_OVERRIDE = "synthetic demo only: the verdict is shown in the card; no real family is scored"


def _key(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _stage(work: Path, name: str, key: str, outputs: list[Path], run: Callable[[], Any]) -> Any:
    """Run ``run`` unless the stamp of ``name`` has ``key`` and every output exists."""
    stamp = work / STAMPS / f"{name}.json"
    if stamp.exists() and all(p.exists() for p in outputs):
        saved = json.loads(stamp.read_text())
        if saved.get("key") == key:
            typer.echo(f"- {name}: up to date, reused")
            return saved.get("result")
    started = time.perf_counter()
    result = run()
    stamp.parent.mkdir(parents=True, exist_ok=True)
    tmp = stamp.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "result": result}, default=str))
    tmp.replace(stamp)
    typer.echo(f"- {name}: done in {time.perf_counter() - started:.0f} s")
    return result


def _file_key(path: Path) -> str:
    return _key(path.stat().st_size, path.stat().st_mtime_ns) if path.exists() else "missing"


def run_demo(config: Path | None) -> None:
    """Run every stage of the demo (see the module docstring)."""
    from stratify.features.cli import simulate_cmd
    from stratify.features.cli_features import TargetName, features_cmd
    from stratify.features.cli_load import load_cmd

    cfg = load_config(config)
    work = cfg.work_dir
    started = time.perf_counter()
    sim_key = _key(cfg.simulation.model_dump(mode="json"), cfg.features.model_dump(mode="json"))
    _stage(work, "simulate", sim_key, [work / "sim" / "extract" / "extract.json"],
           lambda: simulate_cmd(config=config, out=work / "sim", seed=None, children=None,
                                report=True))  # fmt: skip
    extract = work / "sim" / "extract" / "extract.json"
    warehouse = work / "warehouse.duckdb"
    load = lambda: load_cmd(src=work / "sim" / "extract", warehouse=None, config=config)  # noqa: E731
    _stage(work, "load", _key(sim_key, _file_key(extract)), [warehouse], load)
    for target in TargetName:
        meta = work / "features" / target.value / "metadata.json"
        key = _key(_file_key(warehouse), cfg.features.model_dump(mode="json"), catalogue_hash())
        build = lambda t=target: features_cmd(target=t, config=config, warehouse=None, out=None)  # noqa: E731
        _stage(work, f"features-{target.value}", key, [meta], build)
    versions = {t.value: _train(cfg, work, t.value) for t in TargetName}
    for target, version in versions.items():
        _promote(cfg, target, version)
    _serve_and_outreach(cfg, config, versions)
    typer.echo(f"Demo finished in {time.perf_counter() - started:.0f} s.")


def _train(cfg: Config, work: Path, target: str) -> int:
    from stratify.training.cli import console as train_console
    from stratify.training.cli import summary_tables
    from stratify.training.policy import load_policy
    from stratify.training.run import config_hash, train_and_register

    meta = work / "features" / target / "metadata.json"
    key = _key(_file_key(meta), config_hash(cfg), catalogue_hash(), _policy_key(cfg))

    def run() -> dict[str, Any]:
        outcome = train_and_register(cfg, target, load_policy(cfg.training.policy))  # type: ignore[arg-type]
        for table in summary_tables(outcome.evaluation):
            train_console.print(table)
        return {"version": outcome.version, "card": str(outcome.card_dir)}

    result = _stage(work, f"train-{target}", key, [work / "mlflow.db"], run)
    return int(result["version"])


def _policy_key(cfg: Config) -> str:
    path = cfg.training.policy
    return _file_key(path) if path is not None else "default"


def _promote(cfg: Config, target: str, version: int) -> None:
    from stratify.training import tracking

    if tracking.alias_version(cfg.work_dir, target, tracking.CHAMPION) == version:
        typer.echo(f"- promote {target}: version {version} is already the champion")
        return
    tracking.promote(
        cfg.work_dir, target, version, approved_by=DEMO_APPROVER, reason=DEMO_REASON,
        override_reason=DEMO_OVERRIDE,
    )  # fmt: skip
    typer.echo(
        f"- promote {target}: version {version} is the champion (approver '{DEMO_APPROVER}', "
        "verdict override recorded)"
    )


def _serve_and_outreach(cfg: Config, config: Path | None, versions: dict[str, int]) -> None:
    from stratify.serving.cli import demo_step

    _outreach(cfg, config)
    typer.echo("")
    typer.echo("Artefacts:")
    typer.echo(f"  warehouse       {cfg.work_dir / 'warehouse.duckdb'}")
    typer.echo(f"  feature tables  {cfg.work_dir / 'features'}/<target>/")
    typer.echo(f"  MLflow store    {cfg.work_dir / 'mlflow.db'} (mlflow ui --backend-store-uri "
               f"sqlite:///{(cfg.work_dir / 'mlflow.db').resolve()})")  # fmt: skip
    for target, version in versions.items():
        card = cfg.work_dir / "model_cards" / target / f"v{version}" / "model_card.html"
        typer.echo(f"  model card      {card}")
    typer.echo(f"  outreach lists  {cfg.work_dir / 'outreach'}/")
    demo_step(config)


def _outreach(cfg: Config, config: Path | None) -> None:
    """Write the borough's and each locality's outreach list for the latest quarter."""
    from stratify.serving.outreach_cli import demo_outreach

    demo_outreach(cfg, config)
