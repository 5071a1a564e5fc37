"""stratify.core: the names and mechanisms every other package shares, with one owner each.

- :mod:`.targets`: the prediction targets (``Target``, ``TargetName``, ``TARGETS``) and
  the registered model name of each (:func:`model_name`).
- :mod:`.files`: atomic writes under unique temporary names (:func:`write_atomic`,
  :func:`write_files_atomic`) and the sweep of temporaries left by killed writers.
- :mod:`.progress`: the one way a long-running command shows progress (rich).
- :mod:`.html`: generated web pages finished for screen readers (:func:`accessible`).

It imports nothing else from stratify, and nothing happens at import.
"""

from stratify.core.files import remove_stale, write_atomic, write_bytes_atomic, write_files_atomic
from stratify.core.targets import TARGETS, Target, TargetName, model_name

__all__ = [
    "TARGETS",
    "Target",
    "TargetName",
    "model_name",
    "remove_stale",
    "write_atomic",
    "write_bytes_atomic",
    "write_files_atomic",
]
