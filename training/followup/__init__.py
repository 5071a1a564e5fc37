"""stratify.training.followup: what happened to listed families, and where managers part ways.

:mod:`.outcomes` finds each listed family's outcomes within 12 months of the list date;
:mod:`.rates` gives contact and "not appropriate" rates by group with family-bootstrap
intervals, suppression and flags; :mod:`.labels` measures the share of training labels
touched by contacts from earlier lists; :mod:`.report` writes the CSV and HTML;
:func:`follow_up` (``stratify follow-up --list <id>``) does it all for one list;
:mod:`.matured` follows up every list whose 12 months have passed, for the quarterly
retraining report.
"""

from stratify.training.followup.labels import LabelTouch, touched_share
from stratify.training.followup.rates import largest_disparity, rates_by_group
from stratify.training.followup.run import FollowUp, follow_up

__all__ = [
    "FollowUp",
    "LabelTouch",
    "follow_up",
    "largest_disparity",
    "rates_by_group",
    "touched_share",
]
