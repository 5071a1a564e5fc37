"""One ``Child`` of a CIN census return: its values as the warehouse needs them, checked.

The fields read from each block are declared in ``BLOCKS`` (element, kind, required,
code list); one reader checks them all, so every problem is reported with its file,
line, element and value, under the DfE rule number where one exists.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

from lxml import etree

from stratify.features.codes import codes
from stratify.features.warehouse.cin_years import CensusYear
from stratify.features.warehouse.report import Issue, issue

Kind = Literal["date", "code", "bool"]


class Spec(NamedTuple):
    """One element read from a block: its kind, whether required, its code list."""

    element: str
    kind: Kind
    required: bool = False
    code_list: str | None = None


#: Block element -> the elements stratify reads from it.
BLOCKS: dict[str, tuple[Spec, ...]] = {
    "CINdetails": (
        Spec("CINreferralDate", "date", True),
        Spec("ReferralSource", "code", True, "referral_source"),
        Spec("PrimaryNeedCode", "code", False, "primary_need"),
        Spec("CINclosureDate", "date"),
        Spec("ReasonForClosure", "code", False, "closure_reason"),
        Spec("ReferralNFA", "bool", True),
    ),
    "Assessments": (
        Spec("AssessmentActualStartDate", "date", True),
        Spec("AssessmentAuthorisationDate", "date"),
    ),
    "CINPlanDates": (Spec("CINPlanStartDate", "date", True), Spec("CINPlanEndDate", "date")),
    "Section47": (Spec("S47ActualStartDate", "date", True), Spec("DateOfInitialCPC", "date")),
    "ChildProtectionPlans": (
        Spec("CPPstartDate", "date", True),
        Spec("CPPendDate", "date"),
        Spec("InitialCategoryOfAbuse", "code", True, "cp_category"),
    ),
}
#: The sub-blocks of a CIN episode kept in the warehouse, each keyed by its start date.
EPISODE_PARTS = ("Assessments", "CINPlanDates", "Section47", "ChildProtectionPlans")
#: DfE rule numbers for a problem with an element: (element, problem) -> rule.
DFE_RULES = {
    ("CINreferralDate", "missing"): "8600",
    ("CINreferralDate", "period"): "8600",
    ("PrimaryNeedCode", "code"): "8650",
    ("PrimaryNeedCode", "missing"): "8610",
    ("LAchildID", "missing"): "8500",
}
_PROBLEM_RULES = {"missing": "STR-REQUIRED", "code": "STR-CODE", "date": "STR-DATE"}
_PROBLEM_RULES["period"] = "STR-PERIOD"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_BOOL = {"true": True, "1": True, "false": False, "0": False}
#: A PreProceedings block (newer returns) has no canonical table.
SKIPPED_BLOCKS = ("PreProceedings",)

type Value = str | bool | dt.date | None
type Row = dict[str, Value]


@dataclass
class Part:
    """One block's values with the line it starts on."""

    line: int | None
    values: Row
    factors: tuple[str, ...] = ()


@dataclass
class Episode:
    """One ``CINdetails`` block and the dated blocks within it."""

    line: int | None
    values: Row
    parts: dict[str, list[Part]] = field(default_factory=dict)


@dataclass
class ChildRecord:
    """One child of one return."""

    la_id: str
    line: int | None
    file: Path
    year: int
    person: Row
    episodes: list[Episode]


class _Reader:
    def __init__(self, year: CensusYear, path: Path, child: str) -> None:
        self.year, self.path, self.child = year, path, child
        self.issues: list[Issue] = []

    def add(  # noqa: PLR0913, PLR0917 - the issue's place, value and problem
        self,
        elem: etree._Element,
        module: str,
        fld: str,
        value: str,
        problem: str,
        expected: str = "",
    ) -> None:
        rule = DFE_RULES.get((fld, problem), _PROBLEM_RULES[problem])
        detail = f"expected {expected}" if expected else ""
        if problem == "period":
            detail = f"census {self.year.label} ends {self.year.reference_date}"
        self.issues.append(
            issue(self.path, elem.sourceline, module, self.child, fld, value, rule, detail)
        )

    def value(self, block: etree._Element, spec: Spec, module: str) -> Value:
        found = block.find(spec.element)
        text = (found.text or "").strip() if found is not None else ""
        at = found if found is not None else block
        if not text:
            if spec.required:
                self.add(at, module, spec.element, "", "missing")
            return None
        if spec.kind == "date":
            return self._date(at, module, spec.element, text)
        if spec.kind == "bool":
            if text.lower() not in _BOOL:
                self.add(at, module, spec.element, text, "code", "true, false, 1 or 0")
            return _BOOL.get(text.lower())
        if spec.code_list is not None and text not in codes(spec.code_list):
            self.add(at, module, spec.element, text, "code", f"a {spec.code_list} code")
            return None
        return text

    def _date(  # noqa: PLR0913, PLR0917 - the place, the value and whether the period applies
        self, at: etree._Element, module: str, fld: str, text: str, period: bool = True
    ) -> dt.date | None:
        try:
            day = dt.date.fromisoformat(text) if _DATE.fullmatch(text) else None
        except ValueError:
            day = None
        if day is None:
            self.add(at, module, fld, text, "date")
        elif period and day > self.year.reference_date:
            self.add(at, module, fld, text, "period")
            return None
        return day

    def block(self, elem: etree._Element) -> Row:
        return {s.element: self.value(elem, s, str(elem.tag)) for s in BLOCKS[str(elem.tag)]}

    def codes(self, elems: list[etree._Element], module: str, code_list: str) -> tuple[str, ...]:
        kept = []
        for e in elems:
            text = (e.text or "").strip()
            if text in codes(code_list):
                kept.append(text)
            else:
                self.add(e, module, str(e.tag), text, "code", f"a {code_list} code")
        return tuple(kept)


def _birth(r: _Reader, ids: etree._Element) -> dt.date | None:
    """Return the birth date, or the expected one for an unborn child (no period check)."""
    for tag in ("PersonBirthDate", "ExpectedPersonBirthDate"):
        found = ids.find(tag)
        if found is not None and (found.text or "").strip():
            return r._date(found, "ChildIdentifiers", tag, (found.text or "").strip(), False)
    r.add(ids, "ChildIdentifiers", "PersonBirthDate", "", "missing", "a birth or expected date")
    return None


def _person(r: _Reader, elem: etree._Element) -> Row:
    ids = elem.find("ChildIdentifiers")
    chars = elem.find("ChildCharacteristics")
    ids = ids if ids is not None else elem
    chars = chars if chars is not None else elem
    born = _birth(r, ids)
    sex_elem = ids.find(r.year.sex_element)
    sex_text = (sex_elem.text or "").strip() if sex_elem is not None else ""
    sex = r.year.sex_codes.get(sex_text)
    if sex is None:
        problem = "code" if sex_text else "missing"
        expected = f"{r.year.sex_element} coded {'/'.join(r.year.sex_codes)} in {r.year.label}"
        at = sex_elem if sex_elem is not None else ids
        r.add(at, "ChildIdentifiers", r.year.sex_element, sex_text, problem, expected)
    ethnicity = r.value(chars, Spec("Ethnicity", "code", True, "ethnicity"), "ChildCharacteristics")
    disabilities = r.codes(
        chars.findall("Disabilities/Disability"), "ChildCharacteristics", "disability"
    )
    named = [d for d in disabilities if d != "NONE"]
    return {
        "birth_date": born,
        "sex": sex,
        "ethnicity": ethnicity,
        "disability": named[0] if named else "NONE",
    }


def _episode(r: _Reader, elem: etree._Element) -> Episode:
    ep = Episode(elem.sourceline, r.block(elem))
    if not (elem.findtext("PrimaryNeedCode") or "").strip():
        # an NFA referral may have no primary need: the warehouse records N0, not stated
        if ep.values["ReferralNFA"] is False:
            r.add(elem, "CINdetails", "PrimaryNeedCode", "", "missing")
        ep.values["PrimaryNeedCode"] = "N0"
    for name in EPISODE_PARTS:
        parts = []
        for sub in elem.findall(name):
            factors = r.codes(
                sub.findall("FactorsIdentifiedAtAssessment/AssessmentFactors"),
                name,
                "assessment_factor",
            )
            parts.append(Part(sub.sourceline, r.block(sub), factors))
        ep.parts[name] = parts
    return ep


def read_child(
    elem: etree._Element, year: CensusYear, path: Path
) -> tuple[ChildRecord, list[Issue]]:
    """Read and check one ``Child`` element.

    Returns
    -------
    record : ChildRecord
        The values the warehouse uses (None where missing or invalid).
    issues : list[Issue]
        Every problem found, each naming file, line, element and value.
    """
    la_id = (elem.findtext("ChildIdentifiers/LAchildID") or "").strip()
    r = _Reader(year, path, la_id)
    if not la_id:
        r.add(elem, "ChildIdentifiers", "LAchildID", "", "missing")
    person = _person(r, elem)
    episodes = [_episode(r, e) for e in elem.findall("CINdetails")]
    if not episodes:
        r.issues.append(issue(path, elem.sourceline, "CINdetails", la_id, "CINdetails", "", "8590"))
    for name in SKIPPED_BLOCKS:
        for e in elem.iter(name):
            r.issues.append(issue(path, e.sourceline, name, la_id, name, "", "STR-SKIPPED"))
    return ChildRecord(la_id, elem.sourceline, path, year.year, person, episodes), r.issues
