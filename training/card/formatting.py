"""How the card writes tables: Markdown cells and tables, every figure formatted one way.

Figures are written by :mod:`stratify.core.text` (three decimals, counts with thousands
separators, intervals as "0.512 (0.480 to 0.545)", "n/a" for a missing figure).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stratify.core.text import fmt


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
