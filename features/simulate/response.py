"""The borough's response to managers' decisions: help taken opens early help.

A family that took the help offered gets an early help episode opened in the first
month the simulation is continued by (the simulator's own episode: whether it works
depends on the family's engagement, and an effective episode lowers the household's
adversity, :mod:`stratify.features.simulate.early_help`). Families are named by their
warehouse pseudonyms; the simulator finds its households by pseudonymising its own
source identifiers with the same key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from stratify.features.simulate.early_help import start_early_help
from stratify.features.simulate.records import source_ids
from stratify.features.simulate.world import World
from stratify.features.warehouse.pseudonymise import pseudonymise

HOUSEHOLD_NAMESPACE = "household"


def households_of(w: World, families: Sequence[str], key: bytes) -> np.ndarray:
    """Return the simulator's household indices of the given family pseudonyms."""
    n = len(w.households)
    ids = pseudonymise(source_ids("H", np.arange(n)), HOUSEHOLD_NAMESPACE, key)
    wanted = set(families)
    return np.flatnonzero(pd.Series(ids).isin(wanted).to_numpy())


def open_help(families: Sequence[str], key: bytes) -> Callable[[World, int], int]:
    """Return a hook opening early help for ``families`` in the month it is called with.

    The hook returns how many households it found (active ones only are opened).
    """

    def hook(w: World, month_index: int) -> int:
        hh = households_of(w, families, key)
        hh = hh[w.households["active"][hh]]
        start_early_help(w, hh, month_index, w.day_in(month_index, len(hh)))
        return len(hh)

    return hook
