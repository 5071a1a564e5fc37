"""A made-up, neutral example request (no child's data) for the demo and the docs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stratify.core.targets import Target
from stratify.features.catalogue import FEATURE_BY_NAME

#: A made-up, consistent family: a seven-year-old with a brother or sister and two
#: parents at home, referred once five months ago, with two police domestic abuse
#: call-outs for the adults this year. Every other count is zero, flags false.
EXAMPLE_VALUES: dict[str, Any] = {
    "age_months": 84, "referrals_12m": 1, "referrals_36m": 1, "referrals_ever": 1,
    "months_since_referral": 5, "assessments_12m": 1, "assessments_ever": 1,
    "household_children": 2, "household_adults": 2, "has_second_carer": True,
    "adults_domestic_abuse_12m": 2, "adults_domestic_abuse_36m": 2, "imd_decile": 3,
}  # fmt: skip


def example_record(columns: list[str], categories: dict[str, list[str]]) -> dict[str, Any]:
    """Return a record with every input column: :data:`EXAMPLE_VALUES`, else none or zero.

    Missing-able values with no example (months since a thing that never happened) are
    null; other counts are their minimum, flags false, categories their first code.
    """
    row: dict[str, Any] = {"record_id": "demo-0001"}
    for c in columns:
        f = FEATURE_BY_NAME.get(c)
        if c in EXAMPLE_VALUES:
            row[c] = EXAMPLE_VALUES[c]
        elif f is None or f.dtype == "category":
            allowed = (f.categories if f is not None else None) or categories.get(c)
            row[c] = allowed[0] if allowed else None
        elif f.dtype == "bool":
            row[c] = False
        elif f.nullable:
            row[c] = None
        else:
            row[c] = f.minimum or 0
    return row


def example_request(work_dir: Path, target: Target) -> dict[str, Any]:
    """Return a ``/score`` body for the imported champion of ``target``."""
    from mlflow.models import Model

    from stratify.serving.store import locate_champion

    path = locate_champion(work_dir, target).path
    meta = Model.load(str(path)).metadata or {}
    record = example_record(list(meta["input_columns"]), dict(meta.get("categories", {})))
    return {"target": target, "records": [record]}
