"""stratify.features.decisions: what early help managers did with each listed family.

:mod:`.codes` holds the decisions a manager can record (the workbook's drop-down and the
API's values); :mod:`.store` keeps every list stratify wrote (its families, ranks and the
listed children's audit attributes) and an append-only table of decisions, in
``<work>/decisions.duckdb``. It is a database of its own, beside the warehouse, because
the warehouse is rebuilt from each extract and replaced whole; decisions are records
nobody can rebuild, so no load may drop them.

Decisions and notes are never model inputs: no feature build reads this database.
"""

from stratify.features.decisions.codes import CONTACTED, DECISIONS, NOT_APPROPRIATE, Decision
from stratify.features.decisions.store import (
    DECISIONS_FILE,
    DecisionRow,
    DecisionStore,
    ListRecord,
    StoreError,
)

__all__ = [
    "CONTACTED",
    "DECISIONS",
    "DECISIONS_FILE",
    "NOT_APPROPRIATE",
    "Decision",
    "DecisionRow",
    "DecisionStore",
    "ListRecord",
    "StoreError",
]
