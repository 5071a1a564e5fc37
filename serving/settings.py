"""The serving settings, resolved once at an edge and passed down as a typed object.

The edges are the command line (``stratify serve``, ``import-model``, ``tokens add``,
``outreach``) and the service's start-up in each BentoML worker, which is a fresh
process started by ``bentoml serve``: its settings travel through the environment
(``STRATIFY_CONFIG``, a YAML run config; ``STRATIFY_HOME``; ``MLFLOW_TRACKING_URI``;
``STRATIFY_TOKENS``). The edge hands its environment to :meth:`Settings.from_environment`;
nothing in this package reads ``os.environ`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stratify.features.config import Config, load_config

#: The run config the service processes load (a path to a YAML file).
CONFIG_ENV = "STRATIFY_CONFIG"
#: Bearer tokens as JSON (``{"tokens": [...]}``), used instead of the tokens file.
TOKENS_ENV = "STRATIFY_TOKENS"
#: The BentoML service: its name in BentoML's config, and what ``bentoml serve`` imports.
SERVICE_NAME = "stratify"
SERVICE = "stratify.serving.api.service:Stratify"
#: Worker processes when ``stratify serve --workers`` does not say.
DEFAULT_WORKERS = 2


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

    @classmethod
    def from_config(cls, cfg: Config, *, tokens_json: str | None = None) -> Settings:
        """Resolve the serving section of a run config (defaults under the work dir)."""
        work, s = cfg.work_dir, cfg.serving
        return cls(
            work_dir=work,
            mlflow_uri=cfg.mlflow_uri,
            max_batch=s.max_batch,
            tokens_file=s.tokens_file or work / "tokens.json",
            audit_log=s.audit_log or work / "audit" / "requests.jsonl",
            audit_fsync=s.audit_fsync,
            tokens_json=tokens_json,
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
        return cls.from_config(cfg, tokens_json=env.get(TOKENS_ENV) or None)
