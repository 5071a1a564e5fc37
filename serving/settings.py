"""Where the service finds its config: the run config named by ``$STRATIFY_CONFIG``.

The service runs in processes started by BentoML, so its settings travel through the
environment: ``STRATIFY_CONFIG`` (a YAML run config, optional) and ``STRATIFY_HOME``
(the working directory, when the config does not set ``home``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from stratify.features.config import Config, load_config

CONFIG_ENV = "STRATIFY_CONFIG"


@dataclass(frozen=True)
class Settings:
    """The resolved serving settings."""

    work_dir: Path
    max_batch: int
    tokens_file: Path
    audit_log: Path
    audit_fsync: bool

    @classmethod
    def from_config(cls, cfg: Config) -> Settings:
        """Resolve the serving section of a run config (defaults under the work dir)."""
        work, s = cfg.work_dir, cfg.serving
        return cls(
            work_dir=work,
            max_batch=s.max_batch,
            tokens_file=s.tokens_file or work / "tokens.json",
            audit_log=s.audit_log or work / "audit" / "requests.jsonl",
            audit_fsync=s.audit_fsync,
        )

    @classmethod
    def from_env(cls) -> Settings:
        """Resolve the settings of the config named by ``$STRATIFY_CONFIG`` (or defaults)."""
        return cls.from_config(load_config(os.environ.get(CONFIG_ENV) or None))
