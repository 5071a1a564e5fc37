"""Scenarios: changes to the world from a month onwards, so that drift can be shown.

A :class:`Timeline` says which :class:`~stratify.features.config.ScenarioConfig` holds
in each month: the calibrated world until its first entry, then each entry from its
month. The world carries its timeline, and so do the copies that ground truth
re-simulates, so a label window that straddles a change sees it where it happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from stratify.features.config import ScenarioConfig
from stratify.features.simulate.records import LOCALITIES

NEUTRAL = ScenarioConfig()


@dataclass(frozen=True)
class Timeline:
    """Scenarios by month: ``entries`` holds (first month index, scenario), in order."""

    entries: tuple[tuple[int, ScenarioConfig], ...] = ()

    def at(self, month_index: int) -> ScenarioConfig:
        """Return the scenario in force in month ``month_index``."""
        current = NEUTRAL
        for start, scenario in self.entries:
            if start <= month_index:
                current = scenario
        return current

    def then(self, month_index: int, scenario: ScenarioConfig) -> Timeline:
        """Return this timeline with ``scenario`` in force from ``month_index`` on."""
        if self.entries and month_index <= self.entries[-1][0]:
            raise ValueError("a timeline's entries must start in increasing months")
        if scenario == self.at(month_index):
            return self
        return Timeline((*self.entries, (month_index, scenario)))

    def police_rate(self, month_index: int) -> float:
        """Multiplier on the police's referral hazard in month ``month_index``."""
        return self.at(month_index).police_referral_rate

    def early_help_uptake(self, month_index: int, locality: np.ndarray) -> np.ndarray | float:
        """Multiplier on early help starts for households in ``locality`` (indices)."""
        scenario = self.at(month_index)
        if scenario.new_early_help_locality is None:
            return 1.0
        where = LOCALITIES.index(scenario.new_early_help_locality)
        return np.where(locality == where, scenario.early_help_uptake, 1.0)

    def to_json(self) -> list[list[Any]]:
        """Return the entries as JSON-ready lists."""
        return [[start, s.model_dump(mode="json")] for start, s in self.entries]

    @classmethod
    def from_json(cls, data: list[list[Any]]) -> Timeline:
        """Rebuild a timeline written by :meth:`to_json`."""
        return cls(tuple((int(m), ScenarioConfig.model_validate(s)) for m, s in data))
