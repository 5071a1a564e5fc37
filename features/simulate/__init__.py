"""The synthetic local authority: a month-by-month simulation of a fictional borough.

Public API: :func:`simulate` (run, write the extract, ground truth and state),
:func:`continue_simulation` (continue a written simulation by some months), :func:`run`
(run in memory), :class:`SimParams`, :func:`load_truth`, :class:`ContinuationError`.
"""

from stratify.features.simulate.continuation import continue_simulation
from stratify.features.simulate.params import SimParams
from stratify.features.simulate.run import SimulationResult, load_truth, run, simulate
from stratify.features.simulate.state import ContinuationError

__all__ = [
    "ContinuationError",
    "SimParams",
    "SimulationResult",
    "continue_simulation",
    "load_truth",
    "run",
    "simulate",
]
