"""The model's input frame: catalogue features in catalogue order with one dtype each.

Training, the scoring service and the outreach lists all pass records through
:func:`model_frame`, so a model always sees the same columns with the same types:
numbers and flags as ``float64`` (missing values as NaN), categories as Python strings
(missing as None). Protected characteristics enter only when a run's config names them
(``training.include_protected``), as extra category columns after the features.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from stratify.core.targets import Target
from stratify.features.catalogue import FEATURE_BY_NAME, features_for

ERR_MISSING_COLUMNS = "the records lack model input column(s): {names}"


def input_columns(target: Target, protected: Sequence[str] = ()) -> list[str]:
    """Return the model's input columns for ``target``: features, then protected ones."""
    return [f.name for f in features_for(target)] + list(protected)


def category_columns(columns: Sequence[str]) -> list[str]:
    """Return the columns of ``columns`` that are categories (protected ones included)."""
    return [
        c for c in columns if c not in FEATURE_BY_NAME or FEATURE_BY_NAME[c].dtype == "category"
    ]


def model_frame(records: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Return ``records`` reduced to ``columns``, in order, with the model's dtypes.

    Raises
    ------
    KeyError
        If a column is missing, naming every missing column.
    """
    missing = [c for c in columns if c not in records.columns]
    if missing:
        raise KeyError(ERR_MISSING_COLUMNS.format(names=", ".join(missing)))
    cats = set(category_columns(columns))
    out = {}
    for c in columns:
        col = records[c]
        if c in cats:
            values = col.astype(object).to_numpy(copy=True)
            missing_value = pd.isna(values)
            values[~missing_value] = values[~missing_value].astype(str)
            values[missing_value] = None
            out[c] = pd.Series(values, index=records.index, dtype=object)
        else:
            out[c] = pd.to_numeric(col, errors="raise").astype(np.float64)
    return pd.DataFrame(out, index=records.index)
