"""stratify.serving.outreach: ranked outreach lists for early help managers.

:mod:`.cohort` finds the families eligible on a date, :mod:`.ranking` scores children
and ranks households by their highest score, with reasons for the listed ones only
(:func:`build_list`); :mod:`.excel` and :mod:`.html` write the workbook and the page,
with a guide (:mod:`.guide`) and a fairness sheet (:mod:`.fairness`); :mod:`.run`
does it all for one date and locality (:func:`run_outreach`).
"""

from stratify.serving.outreach.ranking import OutreachList, build_list
from stratify.serving.outreach.run import run_outreach

__all__ = ["OutreachList", "build_list", "run_outreach"]
