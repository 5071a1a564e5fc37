"""The synthetic local authority: a month-by-month simulation of a fictional borough.

Public API: :func:`simulate` (run, write the extract and ground truth), :func:`run`
(run in memory), :class:`SimParams`, :func:`load_truth`.
"""

from stratify.features.simulate.params import SimParams
from stratify.features.simulate.run import SimulationResult, load_truth, run, simulate

__all__ = ["SimParams", "SimulationResult", "load_truth", "run", "simulate"]
