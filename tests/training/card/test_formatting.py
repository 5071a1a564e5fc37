"""Card tables and figures: every number is written one way (stratify.core.text)."""

from __future__ import annotations

import math

import numpy as np

from stratify.core.text import SUPPRESSED, fmt, fmt_ci
from stratify.training.card.formatting import md_table
from stratify.training.evaluation import Interval


def test_formatting_one_way():
    assert fmt(0.12345) == "0.123" and fmt(np.float64(0.5)) == "0.500"
    assert fmt(1234) == "1,234" and fmt(np.int64(7)) == "7"
    assert fmt(None) == fmt(math.nan) == fmt(math.inf) == "n/a"
    assert fmt(SUPPRESSED) == SUPPRESSED and fmt(True) == "yes"
    assert fmt_ci(0.5, 0.4, 0.6) == "0.500 (0.400 to 0.600)"
    assert fmt_ci(0.5, math.nan, 0.6) == "0.500"
    assert fmt_ci(SUPPRESSED, SUPPRESSED, SUPPRESSED) == SUPPRESSED
    assert md_table(["a"], []) == "_No rows to show._"
    assert md_table(["a|b"], [["x|y"]]).splitlines()[2] == "| x\\|y |"
    assert fmt_ci(Interval(0.5, 0.4, 0.6)) == fmt_ci({"value": 0.5, "low": 0.4, "high": 0.6})
    assert fmt_ci(None) == "n/a" and fmt_ci(Interval(math.nan, 0.1, 0.2)) == "n/a"
