from __future__ import annotations

import datetime as dt
import hmac

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratify.features.warehouse import pseudonymise as ps
from tests.features.extract import OTHER_KEY, TEST_KEY

# Worked out independently with hashlib (HMAC written out as two SHA-256 passes):
# sha256((k ^ opad) + sha256((k ^ ipad) + b"person:RAWID-PERSON-0001")), first 24 hex.
P1 = "dbb24362376c011c8713c122"
P1_AS_REFERRAL = "e42a9dfc0e03b5b162a98d1e"
ZOE = "7ff1635773e5130a74ef5ffd"  # "person:Zoë", so values are hashed as UTF-8


def reference(values: list[str | None], namespace: str, key: bytes) -> list[str | None]:
    """Obviously correct and slow: one hmac.digest per row."""
    return [
        None if v is None else hmac.digest(key, f"{namespace}:{v}".encode(), "sha256").hex()[:24]
        for v in values
    ]


def test_known_values_worked_out_by_hand() -> None:
    out = ps.pseudonymise(pa.array(["RAWID-PERSON-0001", None, "Zoë"]), "person", TEST_KEY)
    assert out.to_pylist() == [P1, None, ZOE]
    other = ps.pseudonymise(pa.array(["RAWID-PERSON-0001"]), "referral", TEST_KEY)
    assert other.to_pylist() == [P1_AS_REFERRAL]
    all_null = ps.pseudonymise(pa.array([None, None], pa.string()), "person", TEST_KEY)
    assert all_null.type == pa.string() and all_null.null_count == 2


def test_series_keeps_index_order_and_nulls() -> None:
    s = pd.Series(["b", None, "a", "b"], index=[10, 11, 12, 13], name="person_id")
    out = ps.pseudonymise(s, "person", TEST_KEY)
    expected = reference(["b", None, "a", "b"], "person", TEST_KEY)
    assert list(out.index) == [10, 11, 12, 13]
    assert out.name == "person_id"
    assert out.iloc[0] == out.iloc[3] == expected[0]
    assert out.iloc[2] == expected[2]
    assert pd.isna(out.iloc[1])


def test_chunked_and_dictionary_arrays() -> None:
    chunked = pa.chunked_array([["x", "y"], [None, "x"]])
    expected = reference(["x", "y", None, "x"], "household", TEST_KEY)
    assert ps.pseudonymise(chunked, "household", TEST_KEY).to_pylist() == expected
    dictionary = pa.array(["x", "y", None, "x"]).dictionary_encode()
    assert ps.pseudonymise(dictionary, "household", TEST_KEY).to_pylist() == expected


def test_assume_unique_gives_the_same_pseudonyms() -> None:
    values = pa.chunked_array([["c", "a"], ["b"]])
    fast = ps.pseudonymise(values, "person", TEST_KEY, assume_unique=True)
    assert fast.to_pylist() == reference(["c", "a", "b"], "person", TEST_KEY)


def test_key_changes_every_pseudonym() -> None:
    values = pa.array([f"id{i}" for i in range(50)])
    a = ps.pseudonymise(values, "person", TEST_KEY).to_pylist()
    b = ps.pseudonymise(values, "person", OTHER_KEY).to_pylist()
    assert len(set(a)) == 50
    assert not set(a) & set(b)
    assert a == ps.pseudonymise(values, "person", TEST_KEY).to_pylist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=40))
def test_fast_path_matches_reference(values: list[str | None]) -> None:
    expected = reference(values, "person", TEST_KEY)
    assert (
        ps.pseudonymise(pa.array(values, pa.string()), "person", TEST_KEY).to_pylist() == expected
    )
    series = ps.pseudonymise(pd.Series(values, dtype=object), "person", TEST_KEY)
    assert [None if pd.isna(v) else v for v in series] == expected


def test_rejects_weak_key_bad_namespace_and_non_strings() -> None:
    with pytest.raises(ps.PseudonymKeyError, match=ps.ERR_KEY_SHORT):
        ps.pseudonymise(pa.array(["a"]), "person", b"short")
    with pytest.raises(ValueError, match="without ':'"):
        ps.pseudonymise(pa.array(["a"]), "per:son", TEST_KEY)
    with pytest.raises(TypeError, match="must be strings"):
        ps.pseudonymise(pa.array([1, 2]), "person", TEST_KEY)
    with pytest.raises(TypeError, match="must be strings"):
        ps.pseudonymise(pd.Series([1, 2]), "person", TEST_KEY)


def test_resolve_key() -> None:
    assert ps.resolve_key(None, synthetic=True) == ps.SYNTHETIC_DEMO_KEY
    with pytest.raises(ps.PseudonymKeyError, match=ps.KEY_ENV) as err:
        ps.resolve_key(None, synthetic=False)
    assert str(err.value) == ps.ERR_KEY_MISSING
    with pytest.raises(ps.PseudonymKeyError, match=ps.ERR_KEY_SHORT):
        ps.resolve_key("too-short", synthetic=False)
    assert ps.resolve_key("a-real-secret-of-some-length", synthetic=False) == (
        b"a-real-secret-of-some-length"
    )
    assert ps.resolve_key("a-real-secret-of-some-length", synthetic=True) == (
        b"a-real-secret-of-some-length"
    )


def test_key_fingerprint_is_short_and_key_specific() -> None:
    assert len(ps.key_fingerprint(TEST_KEY)) == 16
    assert ps.key_fingerprint(TEST_KEY) != ps.key_fingerprint(OTHER_KEY)


def test_reduce_to_month_pandas_and_arrow() -> None:
    s = pd.Series(pd.to_datetime(["2020-02-29", None, "2021-12-31", "2019-01-01"]))
    out = ps.reduce_to_month(s)
    assert out.dt.strftime("%Y-%m-%d").tolist()[::2] == ["2020-02-01", "2021-12-01"]
    assert pd.isna(out.iloc[1])
    assert out.iloc[3] == pd.Timestamp("2019-01-01")
    arr = pa.array([dt.date(2020, 2, 29), None, dt.date(2021, 12, 31)])
    assert ps.reduce_to_month(arr).to_pylist() == [dt.date(2020, 2, 1), None, dt.date(2021, 12, 1)]
