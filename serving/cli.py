"""Command-line wiring for the serving package: import-model, serve, tokens add."""

from __future__ import annotations

import os
import subprocess
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from stratify.features.config import ConfigError, load_config
from stratify.serving.settings import CONFIG_ENV, Settings

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML run config.")]
SERVICE = "stratify.serving.api.service:Stratify"
ERR_PREFIX = "error: "


class TargetName(StrEnum):
    """The targets a model can be imported for."""

    escalation = "escalation"
    rereferral = "rereferral"


class RoleName(StrEnum):
    """Token roles."""

    scorer = "scorer"
    reviewer = "reviewer"


def _settings(config: Path | None) -> Settings:
    try:
        return Settings.from_config(load_config(config))
    except ConfigError as err:
        typer.echo(f"{ERR_PREFIX}{err}", err=True)
        raise typer.Exit(2) from None


def import_model_cmd(
    target: Annotated[TargetName, typer.Option(help="The target whose champion to import.")],
    config: ConfigOpt = None,
) -> None:
    """Import the target's current champion from the MLflow registry into the BentoML store."""
    from stratify.serving import store

    settings = _settings(config)
    try:
        pointer = store.import_champion(settings.work_dir, target.value)
    except LookupError as err:
        typer.echo(f"{ERR_PREFIX}{err}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"Imported {pointer['tag']} (MLflow version {pointer['mlflow_version']}, "
        f"run {pointer['run_id']}); the service will serve exactly this version."
    )


def serve_cmd(
    config: ConfigOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
    workers: Annotated[int, typer.Option(help="Worker processes (one per core).")] = 2,
) -> None:
    """Start the scoring service (bentoml serve) on the imported champions."""
    from stratify.serving import store

    settings = _settings(config)
    if not store.read_pointers(settings.work_dir):
        typer.echo(f"{ERR_PREFIX}no model imported: run `stratify import-model --target ...`")
        raise typer.Exit(1)
    env = serve_env(settings.work_dir, config, workers)
    cmd = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", host, "--port", str(port)]
    typer.echo(f"Serving on http://{host}:{port} (Ctrl-C stops it)")
    raise typer.Exit(subprocess.call(cmd, env=env, cwd=settings.work_dir))


def serve_env(work_dir: Path, config: Path | None, workers: int) -> dict[str, str]:
    """Return the environment the service processes need."""
    from stratify.serving.api.service import WORKERS_ENV
    from stratify.serving.store import HOME_ENV

    env = dict(os.environ)
    env[HOME_ENV] = str((work_dir / "bentoml").resolve())
    env["STRATIFY_HOME"] = str(work_dir.resolve())
    env[WORKERS_ENV] = str(workers)
    if config is not None:
        env[CONFIG_ENV] = str(config.resolve())
    return env


def tokens_add_cmd(
    subject: Annotated[str, typer.Option(help="Who the token is for (a person or a system).")],
    role: Annotated[list[RoleName], typer.Option(help="A role; repeat for several.")],
    config: ConfigOpt = None,
) -> None:
    """Create a bearer token; it is printed once and stored only as a salted hash."""
    from stratify.serving.api.auth import add_token

    settings = _settings(config)
    try:
        token, entry = add_token(settings.tokens_file, subject, [r.value for r in role])
    except ValueError as err:
        typer.echo(f"{ERR_PREFIX}{err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Token {entry['id']} for {entry['subject']} ({', '.join(entry['roles'])}):")
    typer.echo(token)
    typer.echo("It is shown only now; keep it secret.", err=True)


def register(app: typer.Typer) -> None:
    """Add the serving commands to the ``stratify`` app."""
    app.command("import-model")(import_model_cmd)
    app.command("serve")(serve_cmd)
    tokens = typer.Typer(help="Manage the service's bearer tokens.", no_args_is_help=True)
    tokens.command("add")(tokens_add_cmd)
    app.add_typer(tokens, name="tokens")


def demo_step(config: Path | None = None) -> None:
    """Import every champion, make a demo token and print how to start and call the service.

    For the end of ``stratify demo`` (after training and promotion).
    """
    import json

    from stratify.serving import store
    from stratify.serving.api.auth import add_token
    from stratify.serving.example import example_request

    settings = _settings(config)
    imported = []
    for target in TargetName:
        try:
            imported.append(store.import_champion(settings.work_dir, target.value))
        except LookupError as err:
            typer.echo(f"(not served: {err})")
    if not imported:
        return
    # a new demo token each run (only hashes are kept), the previous one revoked
    token, _ = add_token(settings.tokens_file, "demo", ["scorer", "reviewer"], replace=True)
    target = imported[0]["tag"].split(":")[0].removeprefix("stratify-")
    path = settings.work_dir / "serving" / "example_request.json"
    path.write_text(json.dumps(example_request(settings.work_dir, target), indent=2))
    flag = f" --config {config}" if config is not None else ""
    typer.echo("Start the scoring service:")
    typer.echo(f"  stratify serve{flag}")
    typer.echo("Then, in another shell (demo token with the scorer and reviewer roles):")
    typer.echo(
        f"  curl -s -X POST http://127.0.0.1:3000/score -H 'Authorization: Bearer {token}' "
        f"-H 'Content-Type: application/json' -d @{path}"
    )
    typer.echo(
        f"  curl -s 'http://127.0.0.1:3000/model?target={target}' "
        f"-H 'Authorization: Bearer {token}'"
    )
