import datetime as dt

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratify.features.build.cohorts import (
    ERR_EMPTY_COHORT,
    ERR_NO_DATA,
    ERR_RANGE_EMPTY,
    ERR_RANGE_OUTSIDE,
    CohortError,
    add_months,
    add_months_array,
    resolve_date_range,
    snapshot_dates,
    whole_months,
)
from stratify.features.build.pipeline import build
from stratify.features.config import FeaturesConfig
from tests.features.factories import IBIS_DUCKDB_WARNING, D, write_warehouse
from tests.features.scenarios import ESCALATION, REREFERRAL

pytestmark = pytest.mark.filterwarnings(IBIS_DUCKDB_WARNING)

AS_OF = D(2022, 4, 1)
ONE_SNAPSHOT = FeaturesConfig(start_date=AS_OF, end_date=AS_OF)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2024, 1, 31), 1, D(2024, 2, 29)),
        (D(2024, 3, 31), -1, D(2024, 2, 29)),
        (D(2023, 12, 15), 1, D(2024, 1, 15)),
        (D(2024, 2, 29), 12, D(2025, 2, 28)),
        (D(2022, 4, 1), -24, D(2020, 4, 1)),
    ],
)
def test_add_months_clamps_to_the_end_of_the_month(day, months, expected):
    assert add_months(day, months) == expected


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.dates(D(1990, 1, 1), D(2040, 12, 31)), st.integers(-240, 240)),
        min_size=1,
        max_size=30,
    )
)
def test_add_months_matches_sql_interval_arithmetic(cases):
    con = duckdb.connect()
    sql = "SELECT CAST(CAST(? + to_months(?) AS TIMESTAMP) AS DATE)"
    for day, months in cases:
        assert con.execute(sql, [day, months]).fetchone()[0] == add_months(day, months)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (D(2015, 1, 1), D(2022, 4, 1), 87),
        (D(2022, 1, 31), D(2022, 3, 1), 1),
        (D(2022, 1, 15), D(2022, 2, 14), 0),
        (D(2022, 5, 1), D(2022, 4, 1), -1),
    ],
)
def test_whole_months(start, end, expected):
    assert whole_months(start, end) == expected


def test_snapshot_dates_are_quarter_starts_within_the_range():
    got = snapshot_dates(D(2021, 2, 1), D(2022, 1, 1), 3)
    assert got == [D(2021, 4, 1), D(2021, 7, 1), D(2021, 10, 1), D(2022, 1, 1)]
    assert snapshot_dates(D(2021, 1, 1), D(2021, 12, 31), 5) == [
        D(2021, 1, 1),
        D(2021, 6, 1),
        D(2021, 11, 1),
    ]


def test_date_range_defaults_and_errors():
    data_start, extract = D(2019, 3, 5), D(2024, 3, 31)
    assert resolve_date_range(FeaturesConfig(), data_start, extract) == (D(2021, 3, 5), extract)
    with pytest.raises(CohortError, match="^" + ERR_NO_DATA + "$"):
        resolve_date_range(FeaturesConfig(), None, extract)
    outside = FeaturesConfig(start_date=D(2018, 1, 1))
    message = ERR_RANGE_OUTSIDE.format(
        start=D(2018, 1, 1), end=extract, data_start=data_start, data_end=extract
    )
    with pytest.raises(CohortError) as err:
        resolve_date_range(outside, data_start, extract)
    assert str(err.value) == message
    assert "2019-03-05 to 2024-03-31" in message
    with pytest.raises(CohortError, match="outside"):
        resolve_date_range(FeaturesConfig(end_date=D(2025, 1, 1)), data_start, extract)
    empty = FeaturesConfig(start_date=D(2022, 1, 1), end_date=D(2021, 1, 1))
    with pytest.raises(CohortError, match="empty"):
        resolve_date_range(empty, data_start, extract)
    assert ERR_RANGE_EMPTY.startswith("the date range")


EXPECTED_ESCALATION = [
    ("cin_ended", 0),
    ("cin_ends_on_as_of", 0),  # a plan ended on the date is closed on it
    ("event_at_window_start", 0),
    ("known", 1),
    ("old_open_referral", 0),
    ("seventeen", 1),
]


def test_escalation_cohort_and_labels_by_hand(tmp_path):
    path = write_warehouse(tmp_path / "w.duckdb", ESCALATION)
    rows = build(path, "escalation", ONE_SNAPSHOT).features.to_pylist()
    assert [(r["person_id"], r["label"]) for r in rows] == EXPECTED_ESCALATION
    assert {r["as_of_date"] for r in rows} == {AS_OF}
    assert {r["household_id"] for r in rows} == {"h1"}
    # open_cin's plan and old_open_referral's referral are open: nobody in h1 is eligible
    assert {r["eligible"] for r in rows} == {False}


def test_incomplete_label_window_is_unlabelled_not_negative(tmp_path):
    # the extract ends the day before as_of + 12 months: every label is unknown
    path = write_warehouse(tmp_path / "w.duckdb", ESCALATION, extract_date=D(2023, 3, 31))
    result = build(path, "escalation", ONE_SNAPSHOT)
    assert [r["label"] for r in result.features.to_pylist()] == [None] * 6
    assert result.metadata["labelled"] == 0 and result.metadata["unlabelled"] == 6
    assert result.metadata["base_rate"] is None


def test_rereferral_points_and_labels_by_hand(tmp_path):
    path = write_warehouse(tmp_path / "w.duckdb", REREFERRAL)
    config = FeaturesConfig(start_date=D(2021, 3, 1))  # the first closure: inclusive
    rows = build(path, "rereferral", config).features.to_pylist()
    got = [(r["person_id"], r["as_of_date"], r["label"], r["household_id"]) for r in rows]
    assert got == [
        ("x", D(2021, 3, 1), 1, "h1"),  # re-referred 2022-02-28, before 2022-03-01
        ("x", D(2022, 2, 28), 0, "h1"),  # next referral exactly 12 months later: outside
        ("y", D(2021, 5, 5), 0, None),  # a same-day NFA closure is not its own re-referral
        ("z", D(2023, 8, 1), None, None),  # window ends after the extract: unlabelled
    ]
    first = rows[0]
    assert (first["index_closure_reason"], first["index_nfa"], first["index_episode_days"]) == (
        "RC7",
        False,
        50,
    )
    assert rows[1]["index_nfa"] is True and rows[1]["index_episode_days"] == 0
    # r2 was referred on its own closure date, so it is not a prior referral of its point
    assert rows[1]["referrals_ever"] == 1 and rows[1]["open_referral"] is False


def test_empty_cohort_is_a_clear_error(tmp_path):
    path = write_warehouse(tmp_path / "w.duckdb", REREFERRAL)
    config = FeaturesConfig(start_date=D(2024, 1, 1))
    with pytest.raises(CohortError) as err:
        build(path, "rereferral", config)
    assert str(err.value) == ERR_EMPTY_COHORT.format(
        target="rereferral", start=D(2024, 1, 1), end=D(2024, 3, 31)
    )
    assert dt.date(2024, 1, 1).isoformat() in str(err.value)


def test_add_months_array_is_the_same_calendar_arithmetic():
    days = np.array(
        [np.datetime64("2024-01-31"), np.datetime64("2023-03-15"), np.datetime64("2024-02-29")]
    ).astype("datetime64[D]")
    out = add_months_array(days, 12)
    assert [str(d) for d in out] == ["2025-01-31", "2024-03-15", "2025-02-28"]
    assert str(add_months_array(days[:1], 1)[0]) == "2024-02-29"
    for months in (-25, -1, 1, 12, 37):
        expected = [add_months(d.item(), months) for d in days]
        assert [d.item() for d in add_months_array(days, months)] == expected
