import dataclasses
import re
from collections import Counter

import pytest

from stratify.features import catalogue
from stratify.features.build.facts import HOUSEHOLD_FACT_KINDS, PERSON_FACT_KINDS
from stratify.features.catalogue import (
    FEATURES,
    GROUPS,
    HOUSEHOLD_MEASURES,
    MEASURES,
    catalogue_hash,
    features_for,
    reason,
    request_schema,
)

PROTECTED = ("ethnic", "sex", "gender", "disab", "religion", "age_band")


def test_at_least_sixty_features_covering_every_group():
    groups = Counter(f.group for f in FEATURES)
    assert len(FEATURES) >= 60
    assert set(groups) == set(GROUPS)
    assert len(features_for("escalation")) >= 60
    assert len(features_for("rereferral")) >= 60


def test_names_are_unique_snake_case():
    names = [f.name for f in FEATURES]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names)


def test_protected_characteristics_are_not_features():
    # age in months is a feature; the DfE age band is an audit attribute only
    for f in FEATURES:
        assert not any(p in f.name for p in PROTECTED), f.name


def test_every_declaration_is_complete():
    for f in FEATURES:
        assert f.description and f.reason, f.name
        assert f.dtype in ("int", "bool", "category")
        assert f.direction in ("raises", "lowers", "none")
        if f.dtype == "category":
            assert f.minimum is None and f.maximum is None
        if f.stat in ("count", "members_count", "members_with", "members_open"):
            assert f.dtype == "int" and f.minimum == 0, f.name
        if f.minimum is not None and f.maximum is not None:
            assert f.minimum <= f.maximum


def test_reasons_never_name_area_age_or_household_size():
    # facts about where or who a family is, which a manager cannot check as a concern
    not_reasons = {f.name for f in FEATURES if not f.as_reason}
    area = {f.name for f in FEATURES if f.group == "area"}
    assert area == {"imd_decile", "locality"}
    assert not_reasons == area | {"age_months", "household_children", "household_adults"}


def test_counts_use_known_measures_and_fact_kinds():
    produced = PERSON_FACT_KINDS | HOUSEHOLD_FACT_KINDS
    for kinds in MEASURES.values():
        assert set(kinds) <= produced
    for f in FEATURES:
        if f.source is not None:
            assert f.source in MEASURES, f.name
            household = f.source in HOUSEHOLD_MEASURES
            assert household == (f.group == "household"), f.name
        if f.stat in ("open", "members_open"):
            assert f"{f.source}_end" in MEASURES


def test_windowed_families_have_the_windows_of_the_issue():
    names = {f.name for f in FEATURES}
    for n in ("referrals_3m", "referrals_12m", "referrals_36m", "referrals_ever"):
        assert n in names
    windows = {f.window_months for f in FEATURES}
    assert {3, 12, 36, None} <= windows


def test_index_features_apply_to_rereferral_only():
    for f in FEATURES:
        assert (f.stat == "index") == (f.targets == ("rereferral",)), f.name
    assert "as_of_date" in catalogue.INDEX_EXCEPTION


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("referrals_12m", 1, "1 referral for this child in the last 12 months"),
        ("referrals_12m", 3, "3 referrals for this child in the last 12 months"),
        ("s47_ever", 2, "2 section 47 enquiries on record"),
        ("household_children", 1, "1 child in the household"),
        ("looked_after_ever", True, "the child has been looked after before"),
        ("imd_decile", 2, "the family lives in an area of IMD decile 2"),
        ("months_since_statutory", 0, "less than a month since the last statutory involvement"),
        ("months_since_referral", 1, "1 month since this child's last referral"),
    ],
)
def test_reasons_read_as_plain_language(name, value, text):
    assert reason(name, value) == text


def test_every_reason_template_renders():
    for f in FEATURES:
        for value in (0, 1, 2, "North"):
            text = reason(f, value)
            assert "{" not in text and "}" not in text


def test_hash_is_stable_and_follows_the_declarations(monkeypatch):
    h = catalogue_hash()
    assert re.fullmatch(r"[0-9a-f]{16}", h)
    assert catalogue_hash() == h
    changed = (dataclasses.replace(FEATURES[0], direction="raises"), *FEATURES[1:])
    monkeypatch.setattr(catalogue, "FEATURES", changed)
    assert catalogue_hash() != h


def test_request_schema_follows_the_declarations():
    schema = request_schema("rereferral")
    props = schema["properties"]
    assert list(props) == [f.name for f in features_for("rereferral")] == schema["required"]
    assert props["referrals_12m"] == {
        "type": "integer",
        "description": "Referrals of this child in the last 12 months",
        "minimum": 0,
    }
    assert (
        props["imd_decile"]["type"] == ["integer", "null"] and props["imd_decile"]["maximum"] == 10
    )
    assert props["index_closure_reason"]["enum"] == ["RC7", "RC8", "RC9"]
    assert props["open_referral"]["type"] == "boolean"
    assert "index_nfa" not in request_schema("escalation")["properties"]
    assert schema["additionalProperties"] is False


def test_reasons_read_as_plain_english_for_one_and_many():
    """Plural endings land on the counted noun ('3 terms of absence', not 'absences')."""
    import re

    from stratify.features.catalogue import FEATURES, reason

    for f in FEATURES:
        if f.dtype not in ("int", "float"):
            continue
        for value in (1, 3):
            text = reason(f, value)
            assert "{" not in text and "}" not in text, text
            # "injurys", "partys": a plural ending pasted onto the wrong word
            assert not re.search(r"\b\w*[^aeiou\W]ys\b", text), text
    one = reason("child_emergency_department_injury_12m", 3)
    assert one.startswith("3 emergency department attendances with an injury")
    assert reason("child_persistent_absence_ever", 3).startswith("3 terms of persistent absence")
    assert reason("child_school_exclusion_12m", 1).startswith("1 school suspension or exclusion ")
