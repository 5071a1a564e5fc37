"""Hand-made CIN census XML returns for the tests: small, readable, one line per element.

Every element sits on its own line so a test can say on which line a problem must be
reported (:func:`line_of`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

KEY = b"test-key-for-cin-returns-0123456789"


def _el(tag: str, value: str | None) -> list[str]:
    return [] if value is None else [f"<{tag}>{value}</{tag}>"]


def child(  # noqa: PLR0913 - one argument per element the tests vary
    la_id: str,
    *,
    sex: tuple[str, str] = ("GenderCurrent", "1"),
    birth: str = "2015-06-14",
    ethnicity: str = "WBRI",
    disabilities: Sequence[str] = ("NONE",),
    episodes: Sequence[str] = (),
) -> str:
    """Return one ``Child`` element."""
    lines = [
        "<Child>",
        "<ChildIdentifiers>",
        *_el("LAchildID", la_id),
        *_el("PersonBirthDate", birth),
        *_el(sex[0], sex[1]),
        "</ChildIdentifiers>",
        "<ChildCharacteristics>",
        *_el("Ethnicity", ethnicity),
        "<Disabilities>",
        *(f"<Disability>{d}</Disability>" for d in disabilities),
        "</Disabilities>",
        "</ChildCharacteristics>",
        *episodes,
        "</Child>",
    ]
    return "\n".join(lines)


def episode(  # noqa: PLR0913 - one argument per element the tests vary
    referral: str,
    *,
    source: str = "2A",
    need: str | None = "N1",
    closure: tuple[str, str] | None = None,
    nfa: str = "false",
    assessments: Sequence[tuple[str, str | None, Sequence[str]]] = (),
    cin_plans: Sequence[tuple[str, str | None]] = (),
    s47: Sequence[tuple[str, str | None]] = (),
    cp_plans: Sequence[tuple[str, str | None, str]] = (),
    extra: Sequence[str] = (),
) -> str:
    """Return one ``CINdetails`` element, in the XSD's element order."""
    lines = ["<CINdetails>", *_el("CINreferralDate", referral), *_el("ReferralSource", source)]
    lines += _el("PrimaryNeedCode", need)
    if closure:
        lines += [*_el("CINclosureDate", closure[0]), *_el("ReasonForClosure", closure[1])]
    for start, auth, factors in assessments:
        lines += ["<Assessments>", *_el("AssessmentActualStartDate", start)]
        lines += _el("AssessmentAuthorisationDate", auth)
        if factors:
            lines += ["<FactorsIdentifiedAtAssessment>"]
            lines += [f"<AssessmentFactors>{f}</AssessmentFactors>" for f in factors]
            lines += ["</FactorsIdentifiedAtAssessment>"]
        lines += ["</Assessments>"]
    for start, end in cin_plans:
        lines += ["<CINPlanDates>", *_el("CINPlanStartDate", start)]
        lines += [*_el("CINPlanEndDate", end), "</CINPlanDates>"]
    for start, icpc in s47:
        lines += ["<Section47>", *_el("S47ActualStartDate", start)]
        lines += [*_el("DateOfInitialCPC", icpc), "<ICPCnotRequired>false</ICPCnotRequired>"]
        lines += ["</Section47>"]
    lines += _el("ReferralNFA", nfa)
    for start, end, category in cp_plans:
        lines += ["<ChildProtectionPlans>", *_el("CPPstartDate", start), *_el("CPPendDate", end)]
        lines += [*_el("InitialCategoryOfAbuse", category)]
        lines += [
            *_el("LatestCategoryOfAbuse", category),
            "<NumberOfPreviousCPP>1</NumberOfPreviousCPP>",
        ]
        lines += ["</ChildProtectionPlans>"]
    lines += [*extra, "</CINdetails>"]
    return "\n".join(lines)


def census(year: int, children: Sequence[str], *, root: str = "<Message>") -> str:
    """Return a whole return for collection ``year`` (period ending 31 March ``year``)."""
    return "\n".join(
        [
            '<?xml version="1.0" encoding="utf-8"?>',
            root,
            "<Header>",
            "<CollectionDetails>",
            "<Collection>CIN</Collection>",
            f"<Year>{year}</Year>",
            f"<ReferenceDate>{year}-03-31</ReferenceDate>",
            "</CollectionDetails>",
            "<Source>",
            "<SourceLevel>L</SourceLevel>",
            "<LEA>201</LEA>",
            "</Source>",
            "</Header>",
            "<Children>",
            *children,
            "</Children>",
            "</Message>",
            "",
        ]
    )


def write(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``folder/name`` and return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """Return the 1-based line holding the ``nth`` occurrence of ``needle``."""
    seen = 0
    for n, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == nth:
                return n
    raise AssertionError(needle)
