"""The prediction targets, the name each one's model is registered under, its aliases.

One owner: the feature build, training, the registry, the service and the command
line all take their target names from here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

#: A prediction target, as a type.
Target = Literal["escalation", "rereferral"]
#: Every target, in the order commands and reports list them.
TARGETS: tuple[Target, ...] = get_args(Target)
#: Registered models are named ``<MODEL_PREFIX><target>`` (MLflow and BentoML alike).
MODEL_PREFIX = "stratify-"
#: The registry aliases: what training registers, and what promotion moves and serving loads.
CHALLENGER, CHAMPION = "challenger", "champion"


class TargetName(StrEnum):
    """The targets as command-line choices (Typer needs an enum)."""

    escalation = "escalation"
    rereferral = "rereferral"


def model_name(target: str) -> str:
    """Return the registered model name of ``target`` (``stratify-<target>``)."""
    return f"{MODEL_PREFIX}{TargetName(target).value}"


def target_of(name: str) -> Target:
    """Return the target a registered model name (or BentoML tag) belongs to.

    Raises
    ------
    ValueError
        If ``name`` is not ``stratify-<target>[:<version>]``.
    """
    stem = name.split(":", 1)[0]
    target = stem.removeprefix(MODEL_PREFIX)
    if not stem.startswith(MODEL_PREFIX) or target not in TARGETS:
        raise ValueError(f"not a stratify model name: {name!r}")
    return target
