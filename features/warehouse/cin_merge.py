"""Several years' CIN census returns merged into one history, as raw warehouse rows.

The same child and referral recur in consecutive returns (an episode open on 31 March
is returned again the next year, perhaps closed by then). Children are matched on
``LAchildID``, referrals on (child, referral date), and the blocks within a referral on
their start dates. Returns are taken oldest first and a later return wins for every
field it holds; where both hold a value and they differ, the report carries a query
(``STR-CONFLICT``) naming both files. A value only the earlier return holds is kept.

The census has no episode identifiers, so each row's source id is built from the child's
id and the start dates (``<LAchildID>/<referral date>/A/<assessment start>``); ingest
pseudonymises them like any source id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stratify.features.warehouse.cin_checks import BLOCKS, ChildRecord, Part, Row, Value
from stratify.features.warehouse.cin_xml import CensusReturn
from stratify.features.warehouse.report import Issue, issue

#: Canonical table -> (CIN block, {canonical column: census element}); ids are added.
PART_TABLES = {
    "assessments": ("Assessments", {"start_date": "AssessmentActualStartDate",
                                    "authorised_date": "AssessmentAuthorisationDate"}),
    "cin_plans": ("CINPlanDates", {"start_date": "CINPlanStartDate", "end_date": "CINPlanEndDate"}),
    "section47": ("Section47", {"start_date": "S47ActualStartDate",
                                "icpc_date": "DateOfInitialCPC"}),
    "cp_plans": ("ChildProtectionPlans", {"start_date": "CPPstartDate", "end_date": "CPPendDate",
                                          "initial_category": "InitialCategoryOfAbuse"}),
}  # fmt: skip
_ID_COLUMN = {"assessments": "assessment_id", "cin_plans": "plan_id", "section47": "s47_id",
              "cp_plans": "plan_id"}  # fmt: skip
_TAG = {"assessments": "A", "cin_plans": "CIN", "section47": "S47", "cp_plans": "CPP"}
REFERRAL_COLUMNS = {
    "referral_date": "CINreferralDate",
    "source": "ReferralSource",
    "primary_need": "PrimaryNeedCode",
    "nfa": "ReferralNFA",
    "closure_date": "CINclosureDate",
    "closure_reason": "ReasonForClosure",
}


@dataclass
class _Held:
    """A merged record: values, where they were last seen, and merged sub-blocks."""

    values: Row
    file: Path
    line: int | None
    parts: dict[str, dict[object, tuple[Part, Path]]] = field(default_factory=dict)


@dataclass
class RawRows:
    """Raw warehouse rows (text values) with where each came from."""

    tables: dict[str, list[dict[str, str | None]]]
    #: table -> per row: (file, line, LA child id)
    origin: dict[str, list[tuple[str, int | None, str]]]


class _Merger:
    def __init__(self) -> None:
        self.people: dict[str, _Held] = {}
        self.referrals: dict[tuple[str, object], _Held] = {}
        self.issues: list[Issue] = []

    def update(self, held: _Held, new: Row, file: Path, line: int | None, child: str) -> None:
        for key, value in new.items():
            old = held.values.get(key)
            if value is None:
                continue
            if old is not None and old != value:
                detail = f"{held.file.name} had {_text(old)}, {file.name} has {_text(value)}"
                self.issues.append(
                    issue(file, line, "merge", child, key, _text(value), "STR-CONFLICT", detail)
                )
            held.values[key] = value
        held.file, held.line = file, line

    def add(self, rec: ChildRecord) -> None:
        if rec.la_id in self.people:
            self.update(self.people[rec.la_id], rec.person, rec.file, rec.line, rec.la_id)
        else:
            self.people[rec.la_id] = _Held(dict(rec.person), rec.file, rec.line)
        for ep in rec.episodes:
            start = ep.values["CINreferralDate"]
            if start is None:
                continue
            key = (rec.la_id, start)
            held = self.referrals.get(key)
            if held is None:
                held = self.referrals[key] = _Held(dict(ep.values), rec.file, ep.line)
            else:
                self.update(held, ep.values, rec.file, ep.line, rec.la_id)
            for name, parts in ep.parts.items():
                merged = held.parts.setdefault(name, {})
                first = BLOCKS[name][0].element
                for part in parts:
                    begun = part.values[first]
                    if begun is None:
                        continue
                    if begun in merged:
                        old, old_file = merged[begun]
                        was = _Held(old.values, old_file, old.line)
                        self.update(was, part.values, rec.file, part.line, rec.la_id)
                        factors = tuple(dict.fromkeys(old.factors + part.factors))
                        part = Part(part.line, was.values, factors)
                    merged[begun] = (part, rec.file)


def _text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _within_return(ret: CensusReturn) -> list[Issue]:
    """Duplicate children (8510) and duplicate referrals within one child's record."""
    found, seen = [], set()
    for rec in ret.children:
        if rec.la_id and rec.la_id in seen:
            found.append(
                issue(
                    ret.path,
                    rec.line,
                    "ChildIdentifiers",
                    rec.la_id,
                    "LAchildID",
                    rec.la_id,
                    "8510",
                )
            )
        seen.add(rec.la_id)
        dates: set[object] = set()
        for ep in rec.episodes:
            d = ep.values["CINreferralDate"]
            if d is not None and d in dates:
                found.append(
                    issue(
                        ret.path,
                        ep.line,
                        "CINdetails",
                        rec.la_id,
                        "CINreferralDate",
                        _text(d),
                        "STR-DUPLICATE",
                    )
                )
            dates.add(d)
    return found


def merge_returns(returns: Sequence[CensusReturn]) -> tuple[RawRows, list[Issue]]:
    """Merge usable returns, oldest year first, into raw rows of the CIN-derived tables.

    Returns
    -------
    rows : RawRows
        ``persons``, ``referrals``, ``assessments``, ``assessment_factors``,
        ``section47``, ``cin_plans`` and ``cp_plans`` as text.
    issues : list[Issue]
        Duplicates within a return (errors), two returns of one year (a file-level
        error) and conflicts between returns (queries).
    """
    m, years = _Merger(), dict[int, Path]()
    for ret in sorted(returns, key=lambda r: r.year.year if r.year else 0):
        assert ret.year is not None
        if ret.year.year in years:
            detail = f"{years[ret.year.year].name} is also the {ret.year.label} return"
            m.issues.append(
                issue(
                    ret.path, None, "Message", "", "Year", str(ret.year.year), "STR-RETURN", detail
                )
            )
            continue
        years[ret.year.year] = ret.path
        m.issues += _within_return(ret)
        for rec in ret.children:
            m.add(rec)
    return _rows(m), m.issues


def _rows(m: _Merger) -> RawRows:
    tables: dict[str, list[dict[str, str | None]]] = {}
    origin: dict[str, list[tuple[str, int | None, str]]] = {}

    def put(
        table: str, row: dict[str, str | None], held_file: Path, line: int | None, child: str
    ) -> None:
        tables.setdefault(table, []).append(row)
        origin.setdefault(table, []).append((str(held_file), line, child))

    for la, p in m.people.items():
        v = p.values
        person: Row = {"person_id": la, "birth_date": v["birth_date"], "sex": v["sex"],
                       "ethnicity": v["ethnicity"], "disability": v["disability"], "lsoa": None,
                       "imd_decile": None, "locality": None, "is_child": "true"}  # fmt: skip
        put("persons", {k: _opt(x) for k, x in person.items()}, p.file, p.line, la)
    for (la, start), ref in m.referrals.items():
        rid = f"{la}/{start}"
        row: dict[str, str | None] = {"referral_id": rid, "person_id": la}
        row |= {col: _text(ref.values[el]) or None for col, el in REFERRAL_COLUMNS.items()}
        put("referrals", row, ref.file, ref.line, la)
        for table, (block, columns) in PART_TABLES.items():
            for begun, (part, file) in sorted(
                ref.parts.get(block, {}).items(), key=lambda kv: str(kv[0])
            ):
                pid = f"{rid}/{_TAG[table]}/{begun}"
                row = {_ID_COLUMN[table]: pid, "referral_id": rid, "person_id": la}
                row |= {col: _text(part.values[el]) or None for col, el in columns.items()}
                put(table, row, file, part.line, la)
                if table == "assessments":
                    for factor in part.factors:
                        put(
                            "assessment_factors",
                            {"assessment_id": pid, "factor": factor},
                            file,
                            part.line,
                            la,
                        )
    return RawRows(tables, origin)


def _opt(x: Value) -> str | None:
    return None if x is None else _text(x)
