"""How the card writes numbers and tables: one function each, so every figure reads alike.

Figures are shown to three decimals, counts with thousands separators, intervals as
"0.512 (0.480 to 0.545)". The suppression marker passes through untouched, and a
missing or undefined figure is "n/a", never a number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from stratify.training.audit.suppress import SUPPRESSED, is_suppressed

DIGITS = 3
NOT_AVAILABLE = "n/a"


def fmt(value: object, digits: int = DIGITS) -> str:
    """Return one figure as card text.

    Parameters
    ----------
    value : object
        A number, a count, a bool, text, None or the suppression marker.
    digits : int
        Decimals for non-integer numbers.

    Returns
    -------
    str
        ``"suppressed"`` for suppressed cells, ``"n/a"`` for missing or undefined
        figures, ``"yes"``/``"no"`` for bools, ``"1,234"`` for integers, ``"0.123"``
        for other numbers, and text as it is.
    """
    if is_suppressed(value):
        return SUPPRESSED
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()  # numpy scalars
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return NOT_AVAILABLE if not math.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def fmt_ci(value: object, low: object = None, high: object = None) -> str:
    """Return a figure with its 95 % interval, e.g. ``"0.512 (0.480 to 0.545)"``.

    ``value`` may also be a mapping with ``value``, ``low`` and ``high`` (the shape of
    the evaluation's metrics). No interval is shown if either end is missing.
    """
    if isinstance(value, Mapping):
        value, low, high = (value.get(k) for k in ("value", "low", "high"))
    head = fmt(value)
    if head in (SUPPRESSED, NOT_AVAILABLE):
        return head
    ends = fmt(low), fmt(high)
    if NOT_AVAILABLE in ends or SUPPRESSED in ends:
        return head
    return f"{head} ({ends[0]} to {ends[1]})"


def cell(text: object) -> str:
    """Return text safe for one Markdown table cell (pipes escaped, one line)."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Return a Markdown (GFM) table; cells are formatted with :func:`fmt` unless text.

    An empty ``rows`` gives a one-line note instead of an empty table.
    """
    if not rows:
        return "_No rows to show._"
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |"]
    lines.append("|" + "|".join(" --- " for _ in headers) + "|")
    for row in rows:
        lines.append(
            "| " + " | ".join(cell(v if isinstance(v, str) else fmt(v)) for v in row) + " |"
        )
    return "\n".join(lines)
