"""Dimension names and codes in words: every word is a code list's meaning."""

from __future__ import annotations

import math

from stratify.features.codes import ETHNIC_GROUP, code_lists
from stratify.features.labels import (
    AUDIT_LISTS,
    UNKNOWN,
    dimension_label,
    group_label,
    meanings,
)


def test_dfe_codes_take_the_xsd_meaning():
    assert group_label("sex", "1") == "Male" == code_lists()["sex"]["1"]
    assert group_label("sex", 2) == "Female"
    assert group_label("ethnicity", "WBRI") == "White British"
    assert group_label("disability", "AUT") == "Autism"


def test_derived_audit_lists():
    assert group_label("has_disability", True) == "Disabled"
    assert group_label("has_disability", "False") == "Not disabled"
    assert group_label("age_band", "<1") == "Under 1 year"
    assert group_label("age_band", "16+") == "16 years and over"
    assert group_label("imd_quintile", 1) == "Most deprived fifth of areas"
    assert group_label("imd_quintile", 5.0) == "Least deprived fifth of areas"
    # every DfE major ethnic group the build derives has a meaning
    assert set(ETHNIC_GROUP.values()) <= set(AUDIT_LISTS["ethnic_group"])


def test_intersections_missing_values_and_names():
    assert dimension_label("ethnic_group x sex") == "Ethnic group and sex"
    assert dimension_label("imd_quintile") == "Area deprivation"
    assert group_label("ethnic_group x sex", "Black x 2") == (
        "Black, Black British, Caribbean or African, Female"
    )
    assert group_label("sex", None) == UNKNOWN and group_label("sex", math.nan) == UNKNOWN
    assert group_label("sex", "7") == UNKNOWN  # no list knows it: never shown as a code
    assert group_label("locality", "North") == "North"  # a name, not a code
    assert group_label("age_band", "Overall") == "Overall"


def test_every_label_is_a_meaning():
    words = meanings()
    for dim, codes in AUDIT_LISTS.items():
        for code in codes:
            assert group_label(dim, code) in words
    assert "1" not in words and "<1" not in words and "True" not in words
