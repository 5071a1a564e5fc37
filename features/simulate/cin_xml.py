"""The synthetic borough as yearly CIN census XML returns, as a council would submit them.

One return per complete census year (1 April to 31 March) of the extract: every child
with a referral episode open at some time in the year, each episode as it stood on the
year's reference date (31 March): later dates are not yet known, so an episode closed
in May appears open in March's return and closed in the next. An unborn child has an
expected birth date. Elements follow the XSD's order, so the 2023/24 return validates
against the bundled schema. Sex is written as the year codes it (:mod:`stratify.
features.warehouse.cin_years`). Written with lxml's incremental writer, one child at a
time.

What stratify does not read is written only where the XSD requires it:
``ICPCnotRequired`` (false) and ``LatestCategoryOfAbuse`` (the initial category). The
bundled XSD types ``NumberOfPreviousCPP`` as a positive integer, so a first plan is
written as 1 (stratify does not read it).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from lxml import etree

from stratify.features.warehouse.cin_years import CENSUS_YEARS, CensusYear

type Rec = dict[str, Any]

#: Canonical sub-table -> (CIN block, [(element, column)]) in the XSD's element order.
_PARTS = {
    "assessments": ("Assessments", [("AssessmentActualStartDate", "start_date"),
                                    ("AssessmentAuthorisationDate", "authorised_date")]),
    "cin_plans": ("CINPlanDates", [("CINPlanStartDate", "start_date"),
                                   ("CINPlanEndDate", "end_date")]),
    "section47": ("Section47", [("S47ActualStartDate", "start_date"),
                                ("DateOfInitialCPC", "icpc_date")]),
    "cp_plans": ("ChildProtectionPlans", [("CPPstartDate", "start_date"),
                                          ("CPPendDate", "end_date")]),
}  # fmt: skip
_SEX_WORDS = {"1": "M", "2": "F", "0": "U", "9": "U"}


def census_year_of(day: dt.date) -> int:
    """Return the collection year whose census period holds ``day``."""
    return day.year + 1 if day.month >= 4 else day.year  # noqa: PLR2004 - April


def _column(values: pd.Series) -> list[Any]:
    """Return a column's values as Python objects: dates as dates, missing as None."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(values):
        dates = values.dt.date.astype(object)
        return dates.where(values.notna(), None).tolist()
    return values.astype(object).where(values.notna(), None).tolist()


def _records(frame: pd.DataFrame) -> list[Rec]:
    """Return the rows as dicts, built column by column (no per-cell pandas boxing)."""
    keys = [str(k) for k in frame.columns]
    columns = [_column(frame[k]) for k in frame.columns]
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]


class _Borough:
    """The tables as Python records, grouped for writing children one at a time."""

    def __init__(self, tables: Mapping[str, pd.DataFrame]) -> None:
        persons = tables["persons"]  # only children a return can hold: those referred
        referred = persons[persons["person_id"].isin(tables["referrals"]["person_id"])]
        self.persons = {r["person_id"]: r for r in _records(referred)}
        self.referrals = _records(tables["referrals"].sort_values(["person_id", "referral_date"]))
        self.parts: dict[str, dict[str, list[Rec]]] = {}
        for name in _PARTS:
            grouped: dict[str, list[Rec]] = defaultdict(list)
            for r in _records(tables[name].sort_values("start_date")):
                grouped[r["referral_id"]].append(r)
            self.parts[name] = grouped
        self.factors: dict[str, list[str]] = defaultdict(list)
        for r in _records(tables["assessment_factors"]):
            self.factors[r["assessment_id"]].append(r["factor"])
        self.previous_cpp: dict[str, int] = {}
        cpp = tables["cp_plans"].sort_values("start_date")
        for pid, n in zip(cpp["plan_id"], cpp.groupby("person_id").cumcount(), strict=True):
            self.previous_cpp[pid] = int(n)

    def children(self, year: CensusYear) -> Iterator[tuple[Rec, list[Rec]]]:
        """Yield each child with an episode open in the year, with those episodes."""
        start, end = year.period_start, year.reference_date
        current: list[Rec] = []
        for ref in self.referrals:
            if ref["referral_date"] > end or (ref["closure_date"] or end) < start:
                continue
            if current and current[0]["person_id"] != ref["person_id"]:
                yield self.persons[current[0]["person_id"]], current
                current = []
            current.append(ref)
        if current:
            yield self.persons[current[0]["person_id"]], current


def _sub(parent: etree._Element, tag: str, value: object) -> None:
    if value is not None:
        etree.SubElement(parent, tag).text = (
            value.isoformat() if isinstance(value, dt.date) else str(value)
        )


def _known(day: dt.date | None, end: dt.date) -> dt.date | None:
    """Return ``day`` if the return can know it (on or before the reference date), else None."""
    return day if day is not None and day <= end else None


def _child(b: _Borough, person: Rec, refs: list[Rec], year: CensusYear) -> etree._Element:
    end = year.reference_date
    child = etree.Element("Child")
    ids = etree.SubElement(child, "ChildIdentifiers")
    _sub(ids, "LAchildID", person["person_id"])
    born = person["birth_date"]
    _sub(ids, "PersonBirthDate" if born <= end else "ExpectedPersonBirthDate", born)
    sex = str(person["sex"])
    _sub(ids, year.sex_element, _SEX_WORDS[sex] if year.sex_element == "Sex" else sex)
    chars = etree.SubElement(child, "ChildCharacteristics")
    _sub(chars, "Ethnicity", person["ethnicity"])
    _sub(etree.SubElement(chars, "Disabilities"), "Disability", person["disability"])
    for ref in refs:
        _episode(b, etree.SubElement(child, "CINdetails"), ref, end)
    return child


def _episode(b: _Borough, cin: etree._Element, ref: Rec, end: dt.date) -> None:
    closed = _known(ref["closure_date"], end)
    _sub(cin, "CINreferralDate", ref["referral_date"])
    _sub(cin, "ReferralSource", ref["source"])
    _sub(cin, "PrimaryNeedCode", ref["primary_need"])
    _sub(cin, "CINclosureDate", closed)
    _sub(cin, "ReasonForClosure", ref["closure_reason"] if closed else None)
    for name, (block, columns) in _PARTS.items():
        if name == "cp_plans":
            _sub(cin, "ReferralNFA", "true" if ref["nfa"] else "false")
        for part in b.parts[name].get(ref["referral_id"], []):
            if part["start_date"] > end:
                continue
            el = etree.SubElement(cin, block)
            for tag, column in columns:
                _sub(el, tag, _known(part[column], end))
            _extra(b, el, name, part, end)


def _extra(b: _Borough, el: etree._Element, name: str, part: Rec, end: dt.date) -> None:
    if name == "assessments" and _known(part["authorised_date"], end):
        factors = b.factors.get(part["assessment_id"], [])
        if factors:
            held = etree.SubElement(el, "FactorsIdentifiedAtAssessment")
            for f in factors:
                _sub(held, "AssessmentFactors", f)
    elif name == "section47":
        _sub(el, "ICPCnotRequired", "false")
    elif name == "cp_plans":
        _sub(el, "InitialCategoryOfAbuse", part["initial_category"])
        _sub(el, "LatestCategoryOfAbuse", part["initial_category"])
        _sub(el, "NumberOfPreviousCPP", max(1, b.previous_cpp[part["plan_id"]]))


def _header(year: CensusYear, la_code: str) -> etree._Element:
    header = etree.Element("Header")
    details = etree.SubElement(header, "CollectionDetails")
    _sub(details, "Collection", "CIN")
    _sub(details, "Year", year.year)
    _sub(details, "ReferenceDate", year.reference_date)
    source = etree.SubElement(header, "Source")
    _sub(source, "SourceLevel", "L")
    _sub(source, "LEA", la_code)
    return header


def write_return(b: _Borough, year: CensusYear, path: Path, la_code: str) -> int:
    """Write one year's return to ``path``; return how many children it holds."""
    n = 0
    with etree.xmlfile(str(path), encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element("Message"):
            xf.write("\n", _header(year, la_code), pretty_print=True)
            with xf.element("Children"):
                xf.write("\n")
                for person, refs in b.children(year):
                    xf.write(_child(b, person, refs, year), pretty_print=True)
                    n += 1
    return n


def write_cin_returns(
    tables: Mapping[str, pd.DataFrame],
    folder: Path,
    *,
    extract_date: dt.date,
    la_code: str = "999",
    description: str = "",
) -> dict[int, int]:
    """Write ``cin-<year>.xml`` for each complete census year, and ``extract.json``.

    Parameters
    ----------
    tables : Mapping[str, pandas.DataFrame]
        The simulator's tables (canonical columns, source ids).
    folder : Path
        Created; the caller writes it atomically (a temporary folder moved into place).
    extract_date : datetime.date
        The last complete census year is the one whose reference date is on or before it.
    la_code : str
        The three-digit code written as ``LEA`` (999: not a real authority).
    description : str
        Recorded in ``extract.json`` (declared synthetic).

    Returns
    -------
    dict[int, int]
        Collection year -> children in its return.
    """
    folder.mkdir(parents=True)
    b = _Borough(tables)
    first = census_year_of(min(r["referral_date"] for r in b.referrals)) if b.referrals else None
    last = census_year_of(extract_date) - (0 if extract_date.strftime("%m-%d") == "03-31" else 1)
    written = {}
    for y in range(max(first or last, min(CENSUS_YEARS)), min(last, max(CENSUS_YEARS)) + 1):
        written[y] = write_return(b, CENSUS_YEARS[y], folder / f"cin-{y}.xml", la_code)
    meta = {"synthetic": True, "description": description or "stratify synthetic borough"}
    (folder / "extract.json").write_text(json.dumps(meta, indent=2) + "\n")
    return written
