"""Process environment variables that a block may change but must leave as they were."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


@contextmanager
def environment_kept(keys: Iterable[str]) -> Iterator[None]:
    """Run a block, then put each of ``keys`` back as it was (set, or absent).

    For libraries that export settings to the environment as a side effect (MLflow's
    ``set_tracking_uri`` exports ``MLFLOW_TRACKING_URI``).
    """
    saved = {key: os.environ.get(key) for key in keys}
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
