"""Hand-built scenarios shared by the cohort, household, build and reference tests.

Each is a dict of warehouse rows (written with :func:`tests.features.factories.write_warehouse`)
small enough that every expected feature value can be worked out by hand.
"""

from tests.features.factories import D

#: The snapshot date every scenario is built around.
AS_OF = D(2022, 4, 1)

BORN = D(2015, 1, 1)


def child(pid, born=BORN, **extra):
    return {"person_id": pid, "birth_month": born, **extra}


ESCALATION = {
    "persons": [
        child("known"),
        child("open_cin"),
        child("cin_ended"),
        child("cin_ends_on_as_of"),
        child("no_household"),
        child("eighteen", born=D(2004, 4, 1)),
        child("seventeen", born=D(2004, 5, 1)),
        child("event_on_as_of"),
        child("event_at_window_start"),
        child("old_referral"),
        child("old_open_referral"),
        child("adult", born=D(1980, 1, 1), is_child=False),
        child("unborn", born=D(2022, 5, 1)),
    ],
    "household_members": [
        {"person_id": p, "start_date": D(2016, 1, 1)}
        for p in (
            "known",
            "open_cin",
            "cin_ended",
            "cin_ends_on_as_of",
            "eighteen",
            "seventeen",
            "event_on_as_of",
            "event_at_window_start",
            "old_referral",
            "old_open_referral",
            "adult",
            "unborn",
        )
    ],
    "referrals": [
        {
            "referral_id": "r1",
            "person_id": "known",
            "referral_date": D(2021, 6, 1),
            "closure_date": D(2021, 7, 1),
            "closure_reason": "RC7",
        },
        {"referral_id": "r2", "person_id": "open_cin", "referral_date": D(2021, 1, 1)},
        {"referral_id": "r3", "person_id": "cin_ended", "referral_date": D(2021, 1, 1)},
        {"referral_id": "r4", "person_id": "cin_ends_on_as_of", "referral_date": D(2021, 1, 1)},
        {"referral_id": "r5", "person_id": "no_household", "referral_date": D(2021, 6, 1)},
        {"referral_id": "r6", "person_id": "eighteen", "referral_date": D(2021, 6, 1)},
        {
            "referral_id": "r7",
            "person_id": "old_referral",
            "referral_date": D(2019, 1, 1),
            "closure_date": D(2020, 3, 31),
            "closure_reason": "RC7",
        },
        {"referral_id": "r8", "person_id": "old_open_referral", "referral_date": D(2019, 1, 1)},
        {"referral_id": "r9", "person_id": "adult", "referral_date": D(2021, 6, 1)},
        {"referral_id": "r10", "person_id": "unborn", "referral_date": D(2022, 1, 1)},
    ],
    "cin_plans": [
        {
            "plan_id": "c1",
            "referral_id": "r2",
            "person_id": "open_cin",
            "start_date": D(2021, 2, 1),
        },
        {
            "plan_id": "c2",
            "referral_id": "r3",
            "person_id": "cin_ended",
            "start_date": D(2021, 2, 1),
            "end_date": D(2022, 3, 31),
        },
        {
            "plan_id": "c3",
            "referral_id": "r4",
            "person_id": "cin_ends_on_as_of",
            "start_date": D(2021, 2, 1),
            "end_date": AS_OF,
        },
    ],
    "agency_events": [
        {"person_id": "seventeen", "event_date": D(2022, 3, 31)},
        {"person_id": "event_on_as_of", "event_date": AS_OF},
        {"person_id": "event_at_window_start", "event_date": D(2020, 4, 1)},
    ],
    # labels: s47 on as_of (in), CP plan on as_of + 12 months (out), care the day before (in)
    "section47": [{"s47_id": "s1", "referral_id": "r1", "person_id": "known", "start_date": AS_OF}],
    "cp_plans": [
        {
            "plan_id": "p1",
            "referral_id": "r3",
            "person_id": "cin_ended",
            "start_date": D(2023, 4, 1),
        }
    ],
    "looked_after": [{"person_id": "seventeen", "start_date": D(2023, 3, 31)}],
}


REREFERRAL = {
    "persons": [child("x"), child("y"), child("z")],
    "household_members": [{"person_id": "x", "start_date": D(2016, 1, 1)}],
    "referrals": [
        {
            "referral_id": "r1",
            "person_id": "x",
            "referral_date": D(2021, 1, 10),
            "closure_date": D(2021, 3, 1),
            "closure_reason": "RC7",
        },
        {
            "referral_id": "r2",
            "person_id": "x",
            "referral_date": D(2022, 2, 28),
            "nfa": True,
            "closure_date": D(2022, 2, 28),
            "closure_reason": "RC8",
        },
        {
            "referral_id": "r3",
            "person_id": "x",
            "referral_date": D(2023, 2, 28),
            "closure_date": D(2023, 5, 1),
            "closure_reason": "RC1",
        },
        {
            "referral_id": "r4",
            "person_id": "y",
            "referral_date": D(2021, 5, 5),
            "nfa": True,
            "closure_date": D(2021, 5, 5),
            "closure_reason": "RC8",
        },
        {
            "referral_id": "r6",
            "person_id": "z",
            "referral_date": D(2023, 6, 1),
            "closure_date": D(2023, 8, 1),
            "closure_reason": "RC9",
        },
    ],
}


ADULT = D(1985, 1, 1)


def person(pid, born=BORN, child=True):
    return {"person_id": pid, "birth_month": born, "is_child": child}


def member(pid, role, start, end=None):
    return {
        "household_id": "h1",
        "person_id": pid,
        "role": role,
        "start_date": start,
        "end_date": end,
    }


def referral(rid, pid, day, closed=None, nfa=False, reason="RC7"):
    return {
        "referral_id": rid,
        "person_id": pid,
        "referral_date": day,
        "closure_date": closed,
        "closure_reason": reason if closed else None,
        "nfa": nfa,
    }


def event(pid, day, kind="police_domestic_abuse"):
    return {"person_id": pid, "event_date": day, "event_type": kind}


FAMILY = {
    "persons": [
        person("c"),
        person("sib1", D(2016, 1, 1)),
        person("sib_future", D(2022, 5, 1)),
        person("sib_moves_in_on_as_of", D(2018, 1, 1)),
        person("mum", ADULT, False),
        person("dad", ADULT, False),
        person("gran", D(1960, 1, 1), False),
        person("lodger", ADULT, False),
    ],
    "household_members": [
        member("c", "child", D(2015, 1, 10)),
        member("sib1", "child", D(2016, 1, 15)),
        member("sib_future", "child", D(2022, 5, 10)),  # born after the date
        member("sib_moves_in_on_as_of", "child", AS_OF),  # not yet living there
        member("mum", "parent_carer", D(2012, 1, 1)),
        member("dad", "parent_carer", D(2012, 1, 1), D(2021, 12, 31)),  # left before
        member("gran", "other_adult", D(2021, 9, 1), AS_OF),  # leaves on the date: still there
        member("lodger", "other_adult", D(2010, 1, 1), D(2020, 1, 1)),
    ],
    "residences": [
        {
            "household_id": "h1",
            "start_date": D(2010, 1, 1),
            "end_date": D(2021, 7, 31),
            "imd_decile": 5,
            "locality": "South",
        },
        {
            "household_id": "h1",
            "start_date": D(2021, 8, 1),
            "end_date": AS_OF,
            "imd_decile": 2,
            "locality": "North",
        },
        {"household_id": "h1", "start_date": AS_OF, "imd_decile": 9, "locality": "Central"},
    ],
    "referrals": [
        referral("ra", "c", D(2022, 1, 1), D(2022, 2, 1), nfa=True, reason="RC8"),
        referral("rb", "c", D(2021, 4, 1)),  # exactly 12 months back, still open
        referral("rc", "c", D(2019, 4, 1), D(2019, 5, 1)),  # exactly 36 months back
        referral("rd", "c", D(2019, 3, 31), D(2019, 4, 1), nfa=True, reason="RC8"),
        referral("re", "c", AS_OF),  # on the date: not before it
        referral("rs1", "sib1", D(2018, 6, 1), D(2019, 12, 31)),
        referral("rs2", "sib1", D(2021, 6, 1), D(2021, 8, 1)),
        referral("rs3", "sib_future", D(2022, 1, 1)),  # pre-birth, but not resident
    ],
    "assessments": [
        {
            "assessment_id": "a1",
            "referral_id": "rc",
            "person_id": "c",
            "start_date": D(2019, 4, 5),
            "authorised_date": D(2019, 4, 30),
        },
        {
            "assessment_id": "a2",
            "referral_id": "rb",
            "person_id": "c",
            "start_date": D(2021, 4, 2),
            "authorised_date": AS_OF,
        },  # factors known on the date
    ],
    "assessment_factors": [
        {"assessment_id": "a1", "factor": "3A"},
        {"assessment_id": "a1", "factor": "4B"},
        {"assessment_id": "a1", "factor": "21"},
        {"assessment_id": "a2", "factor": "16A"},
    ],
    "cp_plans": [
        {
            "plan_id": "cp1",
            "referral_id": "rs1",
            "person_id": "sib1",
            "start_date": D(2019, 1, 1),
            "end_date": D(2019, 12, 31),
        }
    ],
    "cin_plans": [
        {"plan_id": "cin1", "referral_id": "rs2", "person_id": "sib1", "start_date": D(2021, 7, 1)}
    ],
    "early_help": [
        {
            "episode_id": "e1",
            "person_id": "c",
            "household_id": "h1",
            "start_date": D(2020, 1, 1),
            "end_date": D(2020, 6, 30),
            "outcome": "disengaged",
        },
        {
            "episode_id": "e2",
            "person_id": "c",
            "household_id": "h1",
            "start_date": D(2021, 9, 1),
            "end_date": AS_OF,
            "outcome": "needs_met",
        },
    ],
    "agency_events": [
        event("mum", D(2021, 6, 1)),
        event("mum", D(2019, 6, 1)),
        event("mum", AS_OF),
        event("dad", D(2021, 10, 1)),
        event("gran", D(2022, 1, 1), "adult_mental_health"),
        event("c", D(2021, 12, 1), "school_exclusion"),
    ],
}
