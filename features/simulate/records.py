"""The simulator's record keeping: the canonical tables as they would be extracted.

Records hold integer indices while the simulation runs; :func:`to_tables` turns them
into the extract's tables with source-style identifiers and ISO dates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stratify.features.codes import code_lists
from stratify.features.simulate.store import Store

I32, I16, I8, B = np.int32, np.int16, np.int8, np.bool_

#: code list name -> the codes in a fixed order; records store positions in these.
CODEBOOK: dict[str, tuple[str, ...]] = {}
#: The borough's localities, by the index an LSOA's ``locality`` holds.
LOCALITIES = ("North", "Central", "South")


def codebook(name: str) -> tuple[str, ...]:
    """Return the codes of list ``name`` in a fixed order (cached)."""
    if name not in CODEBOOK:
        CODEBOOK[name] = tuple(code_lists()[name])
    return CODEBOOK[name]


def code(name: str, value: str) -> int:
    """Return the position of ``value`` in code list ``name``."""
    return codebook(name).index(value)


class Recorder:
    """Stores for every warehouse table, filled as the simulation runs."""

    def __init__(self, capacity: int) -> None:
        c = capacity
        self.members = Store(dict(hh=I32, person=I32, role=I8, start=I32, end=I32), 2 * c)
        self.residences = Store(dict(hh=I32, lsoa=I32, start=I32, end=I32), c)
        self.referrals = Store(
            dict(person=I32, day=I32, source=I8, need=I8, nfa=B, close=I32, reason=I8), c
        )
        self.assessments = Store(dict(ref=I32, person=I32, start=I32, auth=I32), c)
        self.factors = Store(dict(assessment=I32, factor=I8), 4 * c)
        self.s47 = Store(dict(ref=I32, person=I32, start=I32, icpc=I32), c)
        self.cin = Store(dict(ref=I32, person=I32, start=I32, end=I32), c)
        self.cp = Store(dict(ref=I32, person=I32, start=I32, end=I32, category=I8), c)
        self.lac = Store(dict(person=I32, start=I32, end=I32, status=I8), c)
        self.early_help = Store(dict(person=I32, hh=I32, start=I32, end=I32, outcome=I8), c)
        self.events = Store(dict(person=I32, day=I32, type=I8, agency=I8), 8 * c)

    def stores(self) -> dict[str, Store]:
        """Return every store by its attribute name (the tables' order)."""
        return {name: store for name, store in vars(self).items() if isinstance(store, Store)}

    def event(self, persons: np.ndarray, days: np.ndarray, etype: str, agency: str) -> None:
        """Record agency events of one type for ``persons`` on ``days``."""
        if len(persons):
            self.events.add(
                len(persons),
                person=persons,
                day=days,
                type=code("agency_event_type", etype),
                agency=code("agency", agency),
            )


def source_ids(prefix: str, idx: np.ndarray) -> pd.Series:
    """Return the extract's source identifiers (e.g. ``P00000042``) for record indices."""
    if idx.size == 0:  # np.char.zfill cannot reduce an empty array
        return pd.Series([], dtype="string")
    return pd.Series(np.char.add(prefix, np.char.zfill(idx.astype(str), 8)), dtype="string")


def _dates(days: np.ndarray, nullable: bool = True) -> pd.Series:
    """Days since 1970-01-01 to a date column; with ``nullable``, -1 means none."""
    out = pd.Series(days.astype("datetime64[D]"), dtype="datetime64[s]")
    if nullable:  # record dates are all after 1970; birth dates need not be
        out[days < 0] = pd.NaT
    return out


def _codes(name: str, idx: np.ndarray) -> pd.Series:
    book = np.array(codebook(name) + ("",), dtype=object)
    out = pd.Series(book[np.where(idx < 0, len(book) - 1, idx)], dtype="string")
    out[idx < 0] = pd.NA
    return out


def _pid(idx: np.ndarray) -> pd.Series:
    return source_ids("P", idx)


def _hid(idx: np.ndarray) -> pd.Series:
    return source_ids("H", idx)


def to_tables(
    rec: Recorder, persons: dict[str, np.ndarray], lsoa: dict[str, np.ndarray]
) -> dict[str, pd.DataFrame]:
    """Turn the recorder and the person register into the extract's tables."""
    return {**_family_tables(rec, persons, lsoa), **_casework_tables(rec)}


def _family_tables(
    rec: Recorder, persons: dict[str, np.ndarray], lsoa: dict[str, np.ndarray]
) -> dict[str, pd.DataFrame]:
    """Build the people, household, address, referral and assessment tables."""
    tables: dict[str, pd.DataFrame] = {}
    ls = [f"E0{1000000 + i}" for i in range(len(lsoa["imd"]))]
    lsoa_code = np.array(ls, dtype=object)
    localities = np.array(LOCALITIES, dtype=object)
    people = persons
    tables["persons"] = pd.DataFrame(
        {
            "person_id": _pid(np.arange(len(people["birth_day"]))),
            "birth_date": _dates(people["birth_day"], nullable=False),
            "sex": _codes("sex", people["sex"]),
            "ethnicity": _codes("ethnicity", people["eth"]),
            "disability": _codes("disability", people["disab"]),
            "lsoa": lsoa_code[people["last_lsoa"]],
            "imd_decile": lsoa["imd"][people["last_lsoa"]],
            "locality": localities[lsoa["locality"][people["last_lsoa"]]],
            "is_child": people["is_child"],
        }
    )
    members = rec.members
    tables["household_members"] = pd.DataFrame(
        {
            "household_id": _hid(members["hh"]),
            "person_id": _pid(members["person"]),
            "role": _codes("household_role", members["role"]),
            "start_date": _dates(members["start"]),
            "end_date": _dates(members["end"]),
        }
    )
    residences = rec.residences
    tables["residences"] = pd.DataFrame(
        {
            "household_id": _hid(residences["hh"]),
            "lsoa": lsoa_code[residences["lsoa"]],
            "imd_decile": lsoa["imd"][residences["lsoa"]],
            "locality": localities[lsoa["locality"][residences["lsoa"]]],
            "start_date": _dates(residences["start"]),
            "end_date": _dates(residences["end"]),
        }
    )
    referrals = rec.referrals
    tables["referrals"] = pd.DataFrame(
        {
            "referral_id": source_ids("R", np.arange(len(referrals))),
            "person_id": _pid(referrals["person"]),
            "referral_date": _dates(referrals["day"]),
            "source": _codes("referral_source", referrals["source"]),
            "primary_need": _codes("primary_need", referrals["need"]),
            "nfa": referrals["nfa"],
            "closure_date": _dates(referrals["close"]),
            "closure_reason": _codes("closure_reason", referrals["reason"]),
        }
    )
    assessments = rec.assessments
    tables["assessments"] = pd.DataFrame(
        {
            "assessment_id": source_ids("A", np.arange(len(assessments))),
            "referral_id": source_ids("R", assessments["ref"]),
            "person_id": _pid(assessments["person"]),
            "start_date": _dates(assessments["start"]),
            "authorised_date": _dates(assessments["auth"]),
        }
    )
    factors = rec.factors
    tables["assessment_factors"] = pd.DataFrame(
        {
            "assessment_id": source_ids("A", factors["assessment"]),
            "factor": _codes("assessment_factor", factors["factor"]),
        }
    ).drop_duplicates()
    return tables


def _casework_tables(rec: Recorder) -> dict[str, pd.DataFrame]:
    """Build the enquiry, plan, care, early help and agency event tables."""
    tables: dict[str, pd.DataFrame] = {}
    s47 = rec.s47
    tables["section47"] = pd.DataFrame(
        {
            "s47_id": source_ids("S", np.arange(len(s47))),
            "referral_id": source_ids("R", s47["ref"]),
            "person_id": _pid(s47["person"]),
            "start_date": _dates(s47["start"]),
            "icpc_date": _dates(s47["icpc"]),
        }
    )
    for name, store, prefix in (("cin_plans", rec.cin, "N"), ("cp_plans", rec.cp, "C")):
        frame = pd.DataFrame(
            {
                "plan_id": source_ids(prefix, np.arange(len(store))),
                "referral_id": source_ids("R", store["ref"]),
                "person_id": _pid(store["person"]),
                "start_date": _dates(store["start"]),
                "end_date": _dates(store["end"]),
            }
        )
        if name == "cp_plans":
            frame["initial_category"] = _codes("cp_category", store["category"])
        tables[name] = frame
    looked_after = rec.lac
    tables["looked_after"] = pd.DataFrame(
        {
            "episode_id": source_ids("L", np.arange(len(looked_after))),
            "person_id": _pid(looked_after["person"]),
            "start_date": _dates(looked_after["start"]),
            "end_date": _dates(looked_after["end"]),
            "legal_status": _codes("legal_status", looked_after["status"]),
        }
    )
    early_help = rec.early_help
    tables["early_help"] = pd.DataFrame(
        {
            "episode_id": source_ids("E", np.arange(len(early_help))),
            "person_id": _pid(early_help["person"]),
            "household_id": _hid(early_help["hh"]),
            "start_date": _dates(early_help["start"]),
            "end_date": _dates(early_help["end"]),
            "outcome": _codes("early_help_outcome", early_help["outcome"]),
        }
    )
    events = rec.events
    tables["agency_events"] = pd.DataFrame(
        {
            "event_id": source_ids("V", np.arange(len(events))),
            "person_id": _pid(events["person"]),
            "event_date": _dates(events["day"]),
            "event_type": _codes("agency_event_type", events["type"]),
            "agency": _codes("agency", events["agency"]),
        }
    )
    return tables
