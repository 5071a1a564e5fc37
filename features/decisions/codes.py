"""The decisions a manager can record against a listed family (one list, one owner).

The workbook's drop-down and the API's ``decision`` field offer exactly these values;
anything else is refused. "Contacted" decisions are the two that start with
``contacted``; "not appropriate" is the manager setting the list aside for that family
on professional judgement (the override the follow-up report tracks by group).
"""

from __future__ import annotations

from typing import Literal, get_args

Decision = Literal[
    "contacted, help offered and taken",
    "contacted, declined",
    "not contacted, already supported elsewhere",
    "not contacted, not appropriate",
    "not contacted, no capacity",
]
DECISIONS: tuple[str, ...] = get_args(Decision)
TAKEN, DECLINED, ELSEWHERE, NOT_APPROPRIATE, NO_CAPACITY = DECISIONS
CONTACTED: frozenset[str] = frozenset({TAKEN, DECLINED})
#: Short names for tables and file columns, in the order of :data:`DECISIONS`.
SHORT = dict(zip(DECISIONS, ("taken", "declined", "elsewhere", "not_appropriate", "no_capacity"),
                 strict=True))  # fmt: skip
