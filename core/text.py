"""How figures are written as text: one owner for numbers and confidence intervals.

Figures are shown to three decimals, counts with thousands separators, intervals as
"0.512 (0.480 to 0.545)". The suppression marker passes through untouched, and a
missing or undefined figure is "n/a", never a number. The model card, the ATRS record
and the command line's summary tables all write their figures through :func:`fmt` and
:func:`fmt_ci`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

#: What a withheld (small-cell) figure holds instead of a number.
SUPPRESSED = "suppressed"
#: A missing or undefined figure.
NOT_AVAILABLE = "n/a"
DIGITS = 3


def is_suppressed(value: object) -> bool:
    """Return whether ``value`` is the suppression marker."""
    return isinstance(value, str) and value == SUPPRESSED


def fmt(value: object, digits: int = DIGITS) -> str:
    """Return one figure as text.

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

    ``value`` may also be a mapping with ``value``, ``low`` and ``high``, or an object
    with those attributes (an interval). No interval is shown if either end is missing.
    """
    if isinstance(value, Mapping):
        value, low, high = (value.get(k) for k in ("value", "low", "high"))
    elif all(hasattr(value, k) for k in ("value", "low", "high")):
        value, low, high = value.value, value.low, value.high  # type: ignore[attr-defined]
    head = fmt(value)
    if head in (SUPPRESSED, NOT_AVAILABLE):
        return head
    ends = fmt(low), fmt(high)
    if NOT_AVAILABLE in ends or SUPPRESSED in ends:
        return head
    return f"{head} ({ends[0]} to {ends[1]})"
