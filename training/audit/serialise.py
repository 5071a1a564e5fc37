"""Turning audit tables into JSON: NaN and infinities become null, numpy scalars Python."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def plain(value: object) -> Any:
    """Return ``value`` as a JSON-ready Python object (non-finite numbers as None)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def records(table: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    """Return a table as a list of JSON-ready row mappings (None stays None)."""
    if table is None:
        return None
    return [plain(row) for row in table.to_dict(orient="records")]
