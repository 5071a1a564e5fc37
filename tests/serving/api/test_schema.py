"""Request models generated from the catalogue: types, ranges, codes, unknown fields."""

from __future__ import annotations

import json

import pytest

from stratify.features.catalogue import features_for
from stratify.serving.api.schema import MAX_AGE_MONTHS, record_ids, record_model, validate_records
from tests.serving import factory


@pytest.fixture(scope="module")
def model():
    columns = [f.name for f in features_for("rereferral")]
    return record_model("rereferral", columns, factory.categories("rereferral"))


@pytest.fixture
def record():
    return factory.records("rereferral", 1, seed=3).to_dict("records")[0]


def _fields(found):
    return {(p["record"], p["field"], p["type"]) for p in found}


def test_a_valid_record_passes(model, record):
    rows, found = validate_records(model, [record])
    assert found == [] and rows[0]["record_id"] == record["record_id"]


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("referrals_12m", -1, "greater_than_equal"),
        ("age_months", MAX_AGE_MONTHS + 1, "less_than_equal"),
        ("imd_decile", 11, "less_than_equal"),
        ("imd_decile", 0, "greater_than_equal"),
        ("referrals_12m", "3", "int_type"),
        ("referrals_12m", 2.5, "int_type"),
        ("referrals_12m", None, "int_type"),
        ("open_referral", 1, "bool_type"),
        ("index_closure_reason", "RC1", "literal_error"),
        ("locality", "Atlantis", "literal_error"),
        ("record_id", "has spaces", "string_pattern_mismatch"),
    ],
)
def test_each_bad_field_is_named(model, record, field, value, kind):
    rows, found = validate_records(model, [record, {**record, field: value}])
    assert len(rows) == 1
    assert _fields(found) == {(1, field, kind)}


def test_unknown_missing_and_several_fields_at_once(model, record):
    bad = {**record, "surname": "x"}
    del bad["referrals_3m"]
    _, found = validate_records(model, [bad, "not a record", {**record, "s47_ever": -2}])
    assert _fields(found) == {
        (0, "surname", "extra_forbidden"), (0, "referrals_3m", "missing"),
        (1, None, "model_type"), (2, "s47_ever", "greater_than_equal"),
    }  # fmt: skip


def test_nullable_fields_accept_null(model, record):
    _, found = validate_records(
        model, [{**record, "months_since_referral": None, "locality": None}]
    )
    assert found == []


def test_problems_never_echo_the_submitted_value(model, record):
    _, found = validate_records(model, [{**record, "locality": "SECRET-VALUE-123"}])
    assert "SECRET-VALUE-123" not in json.dumps(found)


def test_record_ids_keeps_only_well_formed_ids(record):
    assert record_ids([record, {"record_id": "bad id"}, 3]) == [record["record_id"]]


@pytest.mark.parametrize("target", ["escalation", "rereferral"])
def test_the_documented_example_record_is_valid(target):
    from stratify.serving.example import EXAMPLE_VALUES, example_record

    columns = [f.name for f in features_for(target)]
    example = example_record(columns, factory.categories(target))
    rows, found = validate_records(
        record_model(target, columns, factory.categories(target)), [example]
    )
    assert not found and len(rows) == 1
    assert {k: example[k] for k in EXAMPLE_VALUES} == EXAMPLE_VALUES
    assert example["months_since_statutory"] is None  # never involved: missing, not 0
