"""A small synthetic borough built once per test session and shared by the test workers.

Simulating, loading and building both feature tables takes about 12 s, so the first
worker to need it builds it under a lock in pytest's shared temporary root; the others
wait for it and reuse it. Tests that train copy it into their own working directory,
so registry versions never collide between workers.
"""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

import yaml

SMALL = {
    "simulation": {
        "children": 3000, "years": 8, "burn_in_years": 2, "truth_sample": 1500,
        "truth_replicates": 10,
    },
    "training": {
        "n_boot": 200, "folds": 2,
        "capacity": {"escalation": {"families_per_quarter": 30}, "rereferral": {"top_share": 0.2}},
    },
    "audit": {"n_boot": 200},
}  # fmt: skip


def write_config(home: Path, extra: dict | None = None) -> Path:
    """Write the small borough's config with ``home`` as its working directory."""
    data = {**SMALL, **(extra or {}), "home": str(home)}
    path = home / "stratify.yaml"
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def build_shared(root: Path) -> Path:
    """Return a working directory with the simulated borough, warehouse and features."""
    from rich.console import Console

    from stratify.core.targets import TARGETS
    from stratify.features.cli import build_features, load_warehouse, simulate_borough
    from stratify.features.config import load_config

    home = root / "small-borough"
    done = home / ".complete"
    root.mkdir(parents=True, exist_ok=True)
    with (root / "small-borough.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(home, ignore_errors=True)
            cfg = load_config(write_config(home))
            quiet = Console(quiet=True)
            simulate_borough(cfg, home / "sim", report=False, console=quiet)
            load_warehouse(cfg, home / "sim" / "extract", console=quiet)
            for target in TARGETS:
                build_features(cfg, target, console=quiet)
            done.touch()
    return home


def copy_borough(shared: Path, home: Path) -> Path:
    """Copy the shared borough's data (not its MLflow store) into ``home``; return the config."""
    for part in ("sim", "features", "warehouse.duckdb"):
        src = shared / part
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, home / part)
    return write_config(home)
