"""Command-line wiring of serving: import-model, serve, tokens add, outreach, step-down.

Each command is an edge: it resolves the run config against the process environment
once and passes typed settings down. Exit codes: 0 done; 1 nothing to serve (no
champion in the registry, none imported); 2 a bad config, option or input, printed as
one short line. ``outreach`` prints counts and paths only, never identifiers or
feature values.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from stratify.core.progress import progress_bar
from stratify.core.targets import TargetName
from stratify.features.build.cohorts import CohortError
from stratify.features.config import HOME_ENV, Config, ConfigError, load_config
from stratify.features.warehouse.store import WarehouseError
from stratify.serving import store
from stratify.serving.api.audit_verify import verify
from stratify.serving.api.auth import ROLES, add_token, list_tokens, now_utc, revoke_token, usable
from stratify.serving.settings import (
    AUDIT_KEY_ENV,
    CONFIG_ENV,
    DEMO_KEY,
    SERVICE,
    SERVICE_NAME,
    Settings,
)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML run config.")]
#: where ``bentoml serve`` keeps its models (and everything else it writes)
BENTO_HOME_ENV = "BENTOML_HOME"
#: BentoML's own configuration overrides (JSON), read by ``bentoml serve`` at start-up
BENTO_OVERRIDES_ENV = "BENTOML_CONFIG_OVERRIDES"
EXIT_MISSING = 1
EXIT_ERROR = 2
ERR_PREFIX = "error: "
ERR_NOTHING_IMPORTED = "no model imported: run `stratify import-model --target ...`"
_OUTREACH_ERRORS = (ValueError, LookupError, CohortError, WarehouseError, ConfigError, OSError)

#: Token roles as command-line choices (Typer needs an enum); the roles are auth's.
RoleName = StrEnum("RoleName", [(r, r) for r in ROLES])  # type: ignore[misc]


def _fail(err: BaseException | str, code: int) -> typer.Exit:
    typer.echo(f"{ERR_PREFIX}{' '.join(str(err).split())}", err=True)
    return typer.Exit(code)


def _config(config: Path | None) -> Config:
    """Resolve the run config against this process's environment (the edge)."""
    try:
        return load_config(config, os.environ)
    except ConfigError as err:
        raise _fail(err, EXIT_ERROR) from None


def import_model_cmd(
    target: Annotated[TargetName, typer.Option(help="The target whose champion to import.")],
    config: ConfigOpt = None,
) -> None:
    """Import the target's current champion from the MLflow registry into the BentoML store."""
    cfg = _config(config)
    try:
        champion = store.import_champion(cfg.work_dir, target.value, mlflow_uri=cfg.mlflow_uri)
    except (LookupError, store.RegistryError) as err:
        raise _fail(err, EXIT_MISSING) from None
    typer.echo(
        f"Imported {champion.tag} (MLflow version {champion.mlflow_version}, "
        f"run {champion.run_id}); the service will serve exactly this version."
    )


def serve_cmd(
    config: ConfigOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (one per core).")] = 2,
) -> None:
    """Start the scoring service (bentoml serve) on the imported champions."""
    from stratify.serving.api.endpoints import ServingError, load_served

    work_dir = _config(config).work_dir
    if not store.read_pointers(work_dir):
        raise _fail(ERR_NOTHING_IMPORTED, EXIT_MISSING)
    try:  # what each worker will load, loaded once here: a damaged store stops start-up
        load_served(work_dir)
    except ServingError as err:
        raise _fail(err, EXIT_MISSING) from None
    env = serve_env(os.environ, work_dir, config, workers)
    cmd = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", host, "--port", str(port)]
    typer.echo(f"Serving on http://{host}:{port} (Ctrl-C stops it)")
    raise typer.Exit(subprocess.call(cmd, env=env, cwd=work_dir))


def serve_env(
    base: Mapping[str, str], work_dir: Path, config: Path | None, workers: int
) -> dict[str, str]:
    """Return the environment of the ``bentoml serve`` process: ``base`` plus what it needs.

    The service's start-up resolves its settings from this environment: the run config
    (``STRATIFY_CONFIG``) and working directory (``STRATIFY_HOME``), BentoML's home (the
    store under the working directory) and the worker count, as BentoML's own service
    configuration (``services.stratify.workers`` in ``BENTOML_CONFIG_OVERRIDES``).
    """
    env = dict(base)
    env[BENTO_HOME_ENV] = str(store.store_home(work_dir))
    env[HOME_ENV] = str(work_dir.resolve())
    env[BENTO_OVERRIDES_ENV] = json.dumps({"services": {SERVICE_NAME: {"workers": workers}}})
    if config is not None:
        env[CONFIG_ENV] = str(config.resolve())
    return env


def tokens_add_cmd(
    subject: Annotated[str, typer.Option(help="Who the token is for (a person or a system).")],
    role: Annotated[list[RoleName], typer.Option(help="A role; repeat for several.")],
    expires_days: Annotated[
        int | None, typer.Option(min=1, help="Days until it stops working (default: never).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Create a bearer token; it is printed once and stored only as a salted hash."""
    settings = Settings.from_config(_config(config))
    expires = None if expires_days is None else now_utc() + timedelta(days=expires_days)
    try:
        token, entry = add_token(
            settings.tokens_file, subject, [r.value for r in role], expires=expires
        )
    except ValueError as err:
        raise _fail(err, EXIT_ERROR) from None
    until = f", expires {entry['expires']}" if "expires" in entry else ""
    typer.echo(f"Token {entry['id']} for {entry['subject']} ({', '.join(entry['roles'])}{until}):")
    typer.echo(token)
    typer.echo("It is shown only now; keep it secret.", err=True)


def tokens_revoke_cmd(
    token_id: Annotated[str, typer.Argument(help="The token's id (from `tokens list`).")],
    config: ConfigOpt = None,
) -> None:
    """Revoke a token: the service refuses it within a second; its entry stays listed."""
    settings = Settings.from_config(_config(config))
    try:
        entry = revoke_token(settings.tokens_file, token_id)
    except (LookupError, ValueError) as err:
        raise _fail(err, EXIT_ERROR) from None
    typer.echo(f"Revoked token {entry['id']} of {entry['subject']} at {entry['revoked']}.")


def tokens_list_cmd(config: ConfigOpt = None) -> None:
    """List the tokens: id, subject, roles, created, expiry, revocation (never a secret)."""
    settings = Settings.from_config(_config(config))
    try:
        entries = list_tokens(settings.tokens_file)
    except ValueError as err:
        raise _fail(err, EXIT_ERROR) from None
    now = now_utc()
    for e in entries:
        state = "revoked" if e.get("revoked") else ("active" if usable(e, now) else "expired")
        typer.echo(
            f"{e['id']}  {state:<7}  {','.join(e['roles']):<15}  created {e.get('created', '?')}"
            f"  expires {e.get('expires', 'never')}  {e['subject']}"
        )
    if not entries:
        typer.echo(f"no tokens in {settings.tokens_file}")


def outreach_cmd(
    as_of: Annotated[
        datetime,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="The date of the list: the first day of a month (YYYY-MM-DD).",
        ),
    ],
    capacity: Annotated[
        int | None,
        typer.Option(
            "--capacity",
            min=1,
            help="How many families the team can contact (default: the run config's "
            "capacity, the operating point the model card describes).",
        ),
    ] = None,
    locality: Annotated[
        str | None, typer.Option("--locality", help="One locality (default: all).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Write the ranked outreach list (Excel and a web page) with reasons per family.

    Families in which anyone is open to statutory social care, or has an open referral,
    on the date are left out. The list is a prioritisation aid: a practitioner decides.
    """  # fmt: skip
    from stratify.serving.outreach.guide import summary
    from stratify.serving.outreach.run import run_outreach

    cfg = _config(config)
    console = Console()
    try:
        with progress_bar(console, "Outreach list") as bar:
            outcome = run_outreach(cfg, as_of.date(), capacity, locality, progress=bar.stage)
    except _OUTREACH_ERRORS as err:
        raise _fail(err, EXIT_ERROR) from None
    for line in summary(outcome.outreach):
        console.print(escape(line), highlight=False)
    console.print(f"  wrote {escape(str(outcome.workbook))}", highlight=False)
    console.print(f"  wrote {escape(str(outcome.page))}", highlight=False)


def step_down_cmd(
    month: Annotated[str, typer.Option("--month", help="The month of the closures (YYYY-MM).")],
    locality: Annotated[
        str | None, typer.Option("--locality", help="One locality (default: all).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="The audit sample's seed (default: YYYYMM).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Write the month's step-down list (closing cases most likely to come back) and audit sample.

    Families still open to statutory social care are left out and counted. The list
    supports a step-down conversation; it is not a finding.
    """
    from stratify.serving.stepdown.run import parse_month, run_stepdown

    cfg = _config(config)
    console = Console()
    try:
        day = parse_month(month)
        with progress_bar(console, "Step-down list") as bar:
            outcome = run_stepdown(cfg, day, locality, seed=seed, progress=bar.stage)
    except _OUTREACH_ERRORS as err:
        raise _fail(err, EXIT_ERROR) from None
    lst = outcome.stepdown
    lines = [
        f"Step-down list for {month}, {lst.locality or 'all localities'}, "
        f"re-referral model v{lst.model_version} (threshold {lst.threshold:.3f})",
        f"  closures: {lst.closures:,} children in {lst.closure_families:,} families; "
        f"left out (still open): {lst.excluded_families:,} families",
        f"  listed: {len(lst.families):,} of {lst.eligible_families:,} eligible families; "
        f"audit sample: {outcome.sample_size} families (seed {outcome.seed})",
        f"  wrote {outcome.workbook}",
        f"  wrote {outcome.page}",
    ]
    for line in lines:
        console.print(escape(line), highlight=False)


def audit_verify_cmd(
    path: Annotated[
        Path | None,
        typer.Option("--path", help="The live audit log (default: the run config's)."),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Check the audit log's chain (and its rotated files) with $STRATIFY_AUDIT_KEY.

    Exits 1 naming the first altered, missing, reordered or cut-short line.
    """
    try:
        settings = Settings.from_config(_config(config), audit_key=os.environ.get(AUDIT_KEY_ENV))
        report = verify(path or settings.audit_log, settings.audit_key)
    except (ValueError, OSError) as err:
        raise _fail(err, EXIT_ERROR) from None
    if settings.audit_key == DEMO_KEY:
        typer.echo(f"note: checked with the public demo key ({AUDIT_KEY_ENV} is unset)", err=True)
    if report.problem is not None:
        typer.echo(f"broken: {report.problem} ({report.lines} lines before it intact)")
        raise typer.Exit(EXIT_MISSING)
    typer.echo(
        f"ok, {report.lines} lines, chain intact ({len(report.files)} file(s); head {report.head})"
    )


def register(app: typer.Typer) -> None:
    """Add every serving command to the ``stratify`` app."""
    app.command("import-model")(import_model_cmd)
    app.command("serve")(serve_cmd)
    tokens = typer.Typer(help="Manage the service's bearer tokens.", no_args_is_help=True)
    tokens.command("add")(tokens_add_cmd)
    tokens.command("revoke")(tokens_revoke_cmd)
    tokens.command("list")(tokens_list_cmd)
    app.add_typer(tokens, name="tokens")
    app.command("outreach")(outreach_cmd)
    audit = typer.Typer(help="Check the service's audit log.", no_args_is_help=True)
    audit.command("verify")(audit_verify_cmd)
    app.add_typer(audit, name="audit-log")
    app.command("step-down")(step_down_cmd)
