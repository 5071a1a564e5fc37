"""stratify.training.card: the model card (Markdown and self-contained HTML) and ATRS record.

:func:`write_card` renders the package's Jinja templates (``templates/``, shipped as
package data) with the sections in :mod:`.sections` and :mod:`.fairness`;
:mod:`.atrs` writes the Algorithmic Transparency Recording Standard record.
"""

from stratify.training.card.atrs import atrs_record
from stratify.training.card.render import write_card

__all__ = ["atrs_record", "write_card"]
