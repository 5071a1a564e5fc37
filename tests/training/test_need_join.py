"""The true-need view joins the need in force at the start of the decision point's month.

The simulator writes a month's need row, dated the month's first day, after stepping
through the month (``features/simulate/run.py``, ``_NeedWriter.write`` after ``step``):
the row dated 2023-03-01 holds the need at the end of March, which is the need at the
start of April. So a decision point dated in April takes the row dated March.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from stratify.training.data import need_at_start

# person a: in need at the end of February only; person b: at the end of March only
NEED = pd.DataFrame(
    {
        "person_id": ["a", "a", "a", "b", "b", "b"],
        "month": pd.to_datetime(["2023-02-01", "2023-03-01", "2023-04-01"] * 2).date,
        "in_need": [True, False, False, False, True, False],
    }
)


def test_a_decision_point_takes_the_previous_months_row():
    keys = pd.DataFrame(
        {
            "person_id": ["a", "a", "b", "b", "b", "a"],
            "as_of_date": [
                dt.date(2023, 3, 1),  # start of March = end of February: in need
                dt.date(2023, 4, 1),  # end of March: not
                dt.date(2023, 4, 1),  # b at the end of March: in need
                dt.date(2023, 4, 17),  # mid-month (a closure): still the start of April
                dt.date(2023, 5, 1),  # end of April: not
                dt.date(2023, 2, 1),  # no row for January: unknown
            ],
        },
        index=[10, 11, 12, 13, 14, 15],  # positions, not labels, align the result
    )
    got = need_at_start(keys, NEED)
    assert got.dtype == "boolean"
    assert got.tolist() == [True, False, True, True, False, pd.NA]


def test_timestamps_and_dates_alike():
    keys = pd.DataFrame({"person_id": ["b"], "as_of_date": [pd.Timestamp("2023-04-01")]})
    need = NEED.assign(month=pd.to_datetime(NEED["month"]))
    assert need_at_start(keys, need).tolist() == [True]
