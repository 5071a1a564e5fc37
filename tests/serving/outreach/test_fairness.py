"""The outreach list's fairness check: group labels and the suppression of small groups."""

from __future__ import annotations

import pandas as pd

from stratify.serving.outreach.fairness import group_label, hidden_groups

MIN_PEOPLE = 10


def _counts(cells: dict[str, list[tuple[str, int, int]]]) -> pd.DataFrame:
    rows = [(d, g, e, n) for d, groups in cells.items() for g, e, n in groups]
    return pd.DataFrame(rows, columns=["dimension", "group", "eligible", "listed"])


def test_one_small_group_hides_the_next_smallest_too():
    counts = _counts({
        "sex": [("Male", 500, 40), ("Female", 480, 38)],
        "ethnic_group": [("White", 600, 50), ("Asian", 200, 15), ("Black", 150, 12),
                         ("Other", 30, 4)],
        "age_band": [("<1", 8, 0), ("1-4", 9, 0), ("5-9", 300, 30), ("10-15", 663, 48)],
    })  # fmt: skip
    hidden = hidden_groups(counts, MIN_PEOPLE)
    # Other alone is small (4 listed) -> Black (the next smallest) too; two small age bands
    # protect each other; nothing about sex is hidden
    assert hidden == {("ethnic_group", "Other"), ("ethnic_group", "Black"),
                      ("age_band", "<1"), ("age_band", "1-4")}  # fmt: skip


def test_group_labels_are_words():
    assert list(group_label("sex", pd.Series(["1", "2", None]))) == ["Male", "Female", "Not known"]
    assert list(group_label("has_disability", pd.Series([True, False]))) == [
        "Disabled", "Not disabled"
    ]  # fmt: skip
    assert list(group_label("imd_quintile", pd.Series([1, None], dtype="Int8"))) == [
        "Most deprived fifth of areas",
        "Not known",
    ]
    assert list(group_label("age_band", pd.Series(["<1", "16+"]))) == [
        "Under 1 year",
        "16 years and over",
    ]
