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


def to_tables(
    rec: Recorder, persons: dict[str, np.ndarray], lsoa: dict[str, np.ndarray]
) -> dict[str, pd.DataFrame]:
    """Turn the recorder and the person register into the extract's tables."""
    pid = lambda i: source_ids("P", i)  # noqa: E731
    hid = lambda i: source_ids("H", i)  # noqa: E731
    t: dict[str, pd.DataFrame] = {}
    ls = [f"E0{1000000 + i}" for i in range(len(lsoa["imd"]))]
    lsoa_code = np.array(ls, dtype=object)
    localities = np.array(["North", "Central", "South"], dtype=object)
    p = persons
    t["persons"] = pd.DataFrame(
        {
            "person_id": pid(np.arange(len(p["birth_day"]))),
            "birth_date": _dates(p["birth_day"], nullable=False),
            "sex": _codes("sex", p["sex"]),
            "ethnicity": _codes("ethnicity", p["eth"]),
            "disability": _codes("disability", p["disab"]),
            "lsoa": lsoa_code[p["last_lsoa"]],
            "imd_decile": lsoa["imd"][p["last_lsoa"]],
            "locality": localities[lsoa["locality"][p["last_lsoa"]]],
            "is_child": p["is_child"],
        }
    )
    m = rec.members
    t["household_members"] = pd.DataFrame(
        {
            "household_id": hid(m["hh"]),
            "person_id": pid(m["person"]),
            "role": _codes("household_role", m["role"]),
            "start_date": _dates(m["start"]),
            "end_date": _dates(m["end"]),
        }
    )
    r = rec.residences
    t["residences"] = pd.DataFrame(
        {
            "household_id": hid(r["hh"]),
            "lsoa": lsoa_code[r["lsoa"]],
            "imd_decile": lsoa["imd"][r["lsoa"]],
            "locality": localities[lsoa["locality"][r["lsoa"]]],
            "start_date": _dates(r["start"]),
            "end_date": _dates(r["end"]),
        }
    )
    f = rec.referrals
    t["referrals"] = pd.DataFrame(
        {
            "referral_id": source_ids("R", np.arange(len(f))),
            "person_id": pid(f["person"]),
            "referral_date": _dates(f["day"]),
            "source": _codes("referral_source", f["source"]),
            "primary_need": _codes("primary_need", f["need"]),
            "nfa": f["nfa"],
            "closure_date": _dates(f["close"]),
            "closure_reason": _codes("closure_reason", f["reason"]),
        }
    )
    a = rec.assessments
    t["assessments"] = pd.DataFrame(
        {
            "assessment_id": source_ids("A", np.arange(len(a))),
            "referral_id": source_ids("R", a["ref"]),
            "person_id": pid(a["person"]),
            "start_date": _dates(a["start"]),
            "authorised_date": _dates(a["auth"]),
        }
    )
    fa = rec.factors
    t["assessment_factors"] = pd.DataFrame(
        {
            "assessment_id": source_ids("A", fa["assessment"]),
            "factor": _codes("assessment_factor", fa["factor"]),
        }
    ).drop_duplicates()
    s = rec.s47
    t["section47"] = pd.DataFrame(
        {
            "s47_id": source_ids("S", np.arange(len(s))),
            "referral_id": source_ids("R", s["ref"]),
            "person_id": pid(s["person"]),
            "start_date": _dates(s["start"]),
            "icpc_date": _dates(s["icpc"]),
        }
    )
    for name, store, prefix in (("cin_plans", rec.cin, "N"), ("cp_plans", rec.cp, "C")):
        frame = pd.DataFrame(
            {
                "plan_id": source_ids(prefix, np.arange(len(store))),
                "referral_id": source_ids("R", store["ref"]),
                "person_id": pid(store["person"]),
                "start_date": _dates(store["start"]),
                "end_date": _dates(store["end"]),
            }
        )
        if name == "cp_plans":
            frame["initial_category"] = _codes("cp_category", store["category"])
        t[name] = frame
    la = rec.lac
    t["looked_after"] = pd.DataFrame(
        {
            "episode_id": source_ids("L", np.arange(len(la))),
            "person_id": pid(la["person"]),
            "start_date": _dates(la["start"]),
            "end_date": _dates(la["end"]),
            "legal_status": _codes("legal_status", la["status"]),
        }
    )
    e = rec.early_help
    t["early_help"] = pd.DataFrame(
        {
            "episode_id": source_ids("E", np.arange(len(e))),
            "person_id": pid(e["person"]),
            "household_id": hid(e["hh"]),
            "start_date": _dates(e["start"]),
            "end_date": _dates(e["end"]),
            "outcome": _codes("early_help_outcome", e["outcome"]),
        }
    )
    ev = rec.events
    t["agency_events"] = pd.DataFrame(
        {
            "event_id": source_ids("V", np.arange(len(ev))),
            "person_id": pid(ev["person"]),
            "event_date": _dates(ev["day"]),
            "event_type": _codes("agency_event_type", ev["type"]),
            "agency": _codes("agency", ev["agency"]),
        }
    )
    return t
