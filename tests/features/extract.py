"""A small, valid extract folder built by hand (35 rows over all tables).

Every date and reference is consistent, so each test breaks exactly what it means to.
Identifiers are distinctive (``RAWID-...``) so a test can search files for them.
Line numbers: the header is line 1, so the n-th row of a table is on line n + 1.
"""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

TEST_KEY = b"test-key-0123456789abcdef"
OTHER_KEY = b"another-key-fedcba9876543210"


def _rows(header: str, *lines: str) -> list[dict[str, str]]:
    names = header.split(",")
    return [dict(zip(names, line.split(","), strict=True)) for line in lines]


P = "RAWID-PERSON-000"
H = "RAWID-HOUSEHOLD-0"
R = "RAWID-REFERRAL-00"
A = "RAWID-ASSESSMENT-00"

VALID: dict[str, list[dict[str, str]]] = {
    "persons": _rows(
        "person_id,birth_date,sex,ethnicity,disability,lsoa,imd_decile,locality,is_child",
        f"{P}1,2015-06-17,1,WBRI,NONE,E01000001,3,North,true",
        f"{P}2,2018-11-02,2,BAFR,NONE,E01000001,3,North,true",
        f"{P}3,1985-03-09,2,WBRI,NONE,E01000001,3,North,false",
        f"{P}4,2012-01-31,1,APKN,AUT,E01000002,7,South,TRUE",
        f"{P}5,1979-12-01,1,APKN,NONE,E01000002,7,South,0",
        f"{P}6,2020-07-15,2,MWBC,NONE,E01000002,7,South,1",
    ),
    "household_members": _rows(
        "household_id,person_id,role,start_date,end_date",
        f"{H}1,{P}1,child,2015-06-17,",
        f"{H}1,{P}2,child,2018-11-02,",
        f"{H}1,{P}3,parent_carer,2010-01-01,",
        f"{H}2,{P}4,child,2012-01-31,",
        f"{H}2,{P}5,parent_carer,2008-05-01,2022-08-31",
        f"{H}2,{P}6,child,2020-07-15,",
    ),
    "residences": _rows(
        "household_id,lsoa,imd_decile,locality,start_date,end_date",
        f"{H}1,E01000003,2,North,2010-01-01,2019-12-31",
        f"{H}1,E01000001,3,North,2020-01-01,",
        f"{H}2,E01000002,7,South,2008-05-01,",
    ),
    "referrals": _rows(
        "referral_id,person_id,referral_date,source,primary_need,nfa,closure_date,closure_reason",
        f"{R}1,{P}1,2021-03-01,2A,N1,false,2021-09-30,RC8",
        f"{R}2,{P}2,2022-01-10,6,N2,TRUE,2022-01-12,RC8",
        f"{R}3,{P}4,2022-05-05,3A,N1,0,,",
        f"{R}4,{P}1,2023-02-01,8,N4,FALSE,,",
    ),
    "assessments": _rows(
        "assessment_id,referral_id,person_id,start_date,authorised_date",
        f"{A}1,{R}1,{P}1,2021-03-02,2021-04-10",
        f"{A}2,{R}3,{P}4,2022-05-06,2022-06-01",
        f"{A}3,{R}4,{P}1,2023-02-03,",
    ),
    "assessment_factors": _rows(
        "assessment_id,factor", f"{A}1,3B", f"{A}1,16A", f"{A}2,2B", f"{A}3,4A"
    ),
    "section47": _rows(
        "s47_id,referral_id,person_id,start_date,icpc_date",
        f"RAWID-S47-01,{R}3,{P}4,2022-05-10,2022-06-01",
    ),
    "cin_plans": _rows(
        "plan_id,referral_id,person_id,start_date,end_date",
        f"RAWID-CINPLAN-01,{R}1,{P}1,2021-04-15,2021-09-30",
    ),
    "cp_plans": _rows(
        "plan_id,referral_id,person_id,start_date,end_date,initial_category",
        f"RAWID-CPPLAN-01,{R}3,{P}4,2022-06-01,,NEG",
    ),
    "looked_after": _rows(
        "episode_id,person_id,start_date,end_date,legal_status",
        f"RAWID-LAC-01,{P}4,2023-01-10,,C2",
    ),
    "early_help": _rows(
        "episode_id,person_id,household_id,start_date,end_date,outcome",
        f"RAWID-EH-01,{P}6,{H}2,2020-09-01,2021-01-15,needs_met",
        f"RAWID-EH-02,{P}2,{H}1,2023-03-01,,",
    ),
    "agency_events": _rows(
        "event_id,person_id,event_date,event_type,agency",
        f"RAWID-EVENT-001,{P}3,2020-12-01,police_domestic_abuse,police",
        f"RAWID-EVENT-002,{P}1,2022-10-05,persistent_absence,schools",
        f"RAWID-EVENT-003,{P}5,2023-06-30,substance_misuse_service,health",
    ),
}

#: Every raw identifier in the extract.
RAW_IDS = sorted(
    {
        value
        for rows in VALID.values()
        for row in rows
        for value in row.values()
        if value.startswith("RAWID-")
    }
)


class ExtractBuilder:
    """Edit ``tables`` / ``manifest`` (deep copies of the valid extract), then ``write()``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tables = copy.deepcopy(VALID)
        self.manifest: dict[str, object] | None = {
            "extract_date": "2024-03-31",
            "synthetic": False,
            "description": "hand-built test extract",
        }
        self._count = 0

    def row(self, table: str, key: str) -> dict[str, str]:
        """Return the row of ``table`` whose first column is ``key`` (to edit in place)."""
        return next(r for r in self.tables[table] if next(iter(r.values())) == key)

    def drop_column(self, table: str, column: str) -> None:
        for r in self.tables[table]:
            del r[column]

    def write(self) -> Path:
        """Write the extract to a new folder and return it."""
        self._count += 1
        folder = self.root / f"extract-{self._count}"
        folder.mkdir(parents=True)
        for name, rows in self.tables.items():
            with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)
        if self.manifest is not None:
            (folder / "extract.json").write_text(json.dumps(self.manifest))
        return folder
