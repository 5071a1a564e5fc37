"""stratify.serving.decisions: managers' decisions on the outreach lists, recorded.

:mod:`.sheet` writes the workbook's Decisions sheet (a drop-down per family, a note)
and reads it back; :mod:`.check` checks submitted decisions against the list stratify
wrote (shared by the workbook import and ``POST /decisions``); :mod:`.record` records
each written list and imports a returned workbook (:func:`import_workbook`) into the
decisions database (:mod:`stratify.features.decisions`).
"""

from stratify.serving.decisions.check import DecisionsInvalid, Submitted, check_rows
from stratify.serving.decisions.record import (
    ImportOutcome,
    import_workbook,
    list_record,
    register_list,
)

__all__ = [
    "DecisionsInvalid",
    "ImportOutcome",
    "Submitted",
    "check_rows",
    "import_workbook",
    "list_record",
    "register_list",
]
