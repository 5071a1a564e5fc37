"""A made-up, neutral example request (no child's data) for the demo and the docs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from features.catalogue import FEATURE_BY_NAME


def example_record(columns: list[str], categories: dict[str, list[str]]) -> dict[str, Any]:
    """Return a record with every input column: lowest counts, false flags, first codes."""
    row: dict[str, Any] = {"record_id": "demo-0001"}
    for c in columns:
        f = FEATURE_BY_NAME.get(c)
        if f is None or f.dtype == "category":
            allowed = (f.categories if f is not None else None) or categories.get(c)
            row[c] = allowed[0] if allowed else None
        elif f.dtype == "bool":
            row[c] = False
        else:
            row[c] = f.minimum or 0
    return row


def example_request(work_dir: Path, target: str) -> dict[str, Any]:
    """Return a ``/score`` body for the imported champion of ``target``."""
    from mlflow.models import Model

    from serving.store import champion_dir

    path, _ = champion_dir(work_dir, target)
    meta = Model.load(str(path)).metadata or {}
    record = example_record(list(meta["input_columns"]), dict(meta.get("categories", {})))
    return {"target": target, "records": [record]}
