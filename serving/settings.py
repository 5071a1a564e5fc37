"""The serving settings, resolved once at an edge and passed down as a typed object.

The edges are the command line (``stratify serve``, ``import-model``, ``tokens add``,
``outreach``) and the service's start-up in each BentoML worker, which is a fresh
process started by ``bentoml serve``: its settings travel through the environment
(``STRATIFY_CONFIG``, a YAML run config; ``STRATIFY_HOME``; ``MLFLOW_TRACKING_URI``;
``STRATIFY_TOKENS``; ``STRATIFY_AUDIT_KEY``). The edge hands its environment to
:meth:`Settings.from_environment`; nothing in this package reads ``os.environ`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from stratify.features.config import Config, load_config

#: The run config the service processes load (a path to a YAML file).
CONFIG_ENV = "STRATIFY_CONFIG"
#: Bearer tokens as JSON (``{"tokens": [...]}``), used instead of the tokens file.
TOKENS_ENV = "STRATIFY_TOKENS"
#: The audit log's HMAC key. Unset, the public :data:`DEMO_KEY` stands in: this
#: repository serves only synthetic data, and the demo must run without setup (as the
#: pseudonymisation key does for synthetic extracts). A chain under the demo key shows
#: accidents and casual edits, not a forger who has read this file; ``audit-log verify``
#: says when it checked with it. Set the variable (same value in every worker and for
#: ``verify``) for anything real.
AUDIT_KEY_ENV = "STRATIFY_AUDIT_KEY"
DEMO_KEY = b"stratify-audit-demo-key-NOT-SECRET-set-STRATIFY_AUDIT_KEY"
MIN_KEY_LENGTH = 16
ERR_KEY_SHORT = f"${AUDIT_KEY_ENV} is shorter than {MIN_KEY_LENGTH} characters"
#: When the audit log starts a new file: each UTC day, at a size, or never.
Rotation = Literal["daily", "size", "none"]
DEFAULT_ROTATION: Rotation = "daily"
DEFAULT_MAX_BYTES = 100_000_000
#: The BentoML service: its name in BentoML's config, and what ``bentoml serve`` imports.
SERVICE_NAME = "stratify"
SERVICE = "stratify.serving.api.service:Stratify"
#: Worker processes when ``stratify serve --workers`` does not say.
DEFAULT_WORKERS = 2


def resolve_key(secret: str | None) -> bytes:
    """Return the audit key: ``secret`` (``$STRATIFY_AUDIT_KEY`` at the edge), else the demo key.

    Raises
    ------
    ValueError
        If ``secret`` is set but shorter than ``MIN_KEY_LENGTH``.
    """
    if not secret:
        return DEMO_KEY
    if len(secret) < MIN_KEY_LENGTH:
        raise ValueError(ERR_KEY_SHORT)
    return secret.encode("utf-8")


@dataclass(frozen=True)
class Settings:
    """The resolved serving settings.

    Attributes
    ----------
    work_dir : Path
        The working directory (pointers under ``serving/``, the store under ``bentoml/``).
    mlflow_uri : str
        The MLflow tracking and registry URI champions are imported from.
    max_batch : int
        Records per ``/score`` request.
    tokens_file : Path
        The hashed bearer tokens.
    audit_log : Path
        The append-only request log.
    audit_fsync : bool
        ``fsync`` each audit line.
    audit_key : bytes
        The audit chain's HMAC key (``$STRATIFY_AUDIT_KEY``, else the demo key); not in
        the repr.
    audit_rotation : {"daily", "size", "none"}
        When the audit log starts a new file (``serving.audit_rotation``).
    audit_max_bytes : int
        The size that starts a new file under rotation by size (``serving.audit_max_bytes``).
    max_body_bytes : int
        The largest ``/score`` body accepted (``serving.max_body_bytes``).
    rate_limit : int
        Requests per minute per token in each worker (``serving.rate_limit``; 0: none).
    tokens_json : str or None
        Tokens given as JSON by the environment; they replace the file when set.
    """

    work_dir: Path
    mlflow_uri: str
    max_batch: int
    tokens_file: Path
    audit_log: Path
    audit_fsync: bool
    tokens_json: str | None = None
    audit_key: bytes = field(default=DEMO_KEY, repr=False)
    audit_rotation: Rotation = DEFAULT_ROTATION
    audit_max_bytes: int = DEFAULT_MAX_BYTES
    max_body_bytes: int = 10_000_000
    rate_limit: int = 0

    @classmethod
    def from_config(
        cls, cfg: Config, *, tokens_json: str | None = None, audit_key: str | None = None
    ) -> Settings:
        """Resolve the serving section of a run config (defaults under the work dir).

        Raises
        ------
        ValueError
            If ``audit_key`` is set but too short.
        """
        work, s = cfg.work_dir, cfg.serving
        return cls(
            work_dir=work,
            mlflow_uri=cfg.mlflow_uri,
            max_batch=s.max_batch,
            tokens_file=s.tokens_file or work / "tokens.json",
            audit_log=s.audit_log or work / "audit" / "requests.jsonl",
            audit_fsync=s.audit_fsync,
            tokens_json=tokens_json,
            audit_key=resolve_key(audit_key),
            # The run config gains these keys with ServingConfig; until then the defaults.
            audit_rotation=s.audit_rotation,
            audit_max_bytes=s.audit_max_bytes,
            max_body_bytes=s.max_body_bytes,
            rate_limit=s.rate_limit,
        )

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Settings:
        """Resolve the settings a process was started with (its edge passes its environment).

        Raises
        ------
        stratify.features.config.ConfigError
            If the config named by ``STRATIFY_CONFIG`` cannot be read or is invalid.
        """
        cfg = load_config(env.get(CONFIG_ENV) or None, env)
        return cls.from_config(
            cfg, tokens_json=env.get(TOKENS_ENV) or None, audit_key=env.get(AUDIT_KEY_ENV)
        )
