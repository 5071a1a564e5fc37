"""Read one CIN census XML return by streaming: every child checked, nothing kept but rows.

:func:`read_return` walks the file with lxml ``iterparse``, validates each ``Child`` as
it ends (against the year's XSD where bundled, :mod:`.cin_years`), checks it with the
census rules stratify needs (:mod:`.cin_checks`), keeps the values the warehouse uses
and frees the element, so memory grows with the rows kept, not with the document.
File-level problems (not XML, truncated, a namespace, no known year) are issues without
a child: the loader refuses the whole load on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from stratify.features.warehouse.cin_checks import ChildRecord, read_child
from stratify.features.warehouse.cin_years import CENSUS_YEARS, CensusYear, child_schema
from stratify.features.warehouse.report import Issue, issue

ROOT = "Message"


@dataclass
class CensusReturn:
    """The children of one yearly return, checked, with the issues found."""

    path: Path
    year: CensusYear | None = None
    la_code: str | None = None
    children: list[ChildRecord] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    ok: bool = True  # False after a file-level error: the return cannot be used

    def fail(self, line: int | None, fld: str, value: str, rule: str, detail: str = "") -> None:
        """Record a file-level error."""
        self.issues.append(issue(self.path, line, "Message", "", fld, value, rule, detail))
        self.ok = False


def _header(ret: CensusReturn, elem: etree._Element) -> None:
    year_elem = elem.find("CollectionDetails/Year")
    year_line = year_elem.sourceline if year_elem is not None else elem.sourceline
    year_text = (elem.findtext("CollectionDetails/Year") or "").strip()
    ret.la_code = (elem.findtext("Source/LEA") or "").strip() or None
    year = CENSUS_YEARS.get(int(year_text)) if year_text.isdigit() else None
    if year is None:
        supported = f"{min(CENSUS_YEARS)}-{max(CENSUS_YEARS)}"
        ret.fail(year_line, "Year", year_text, "STR-YEAR", f"supported: {supported}")
        return
    ref = (elem.findtext("CollectionDetails/ReferenceDate") or "").strip()
    if ref and ref != year.reference_date.isoformat():
        detail = f"expected {year.reference_date} for the {year.label} census"
        ret.fail(elem.sourceline, "ReferenceDate", ref, "STR-YEAR", detail)
        return
    ret.year = year


def _schema_issues(
    ret: CensusReturn, schema: etree.XMLSchema, elem: etree._Element, child: str, seen: set[int]
) -> None:
    """Add the XSD's findings on lines the census checks did not already report."""
    if schema.validate(elem):
        return
    for err in schema.error_log:
        if err.line not in seen:
            fld = (err.path or "").rsplit("/", 1)[-1]
            ret.issues.append(
                issue(ret.path, err.line, "Child", child, fld, "", "STR-XSD", err.message)
            )


def _free(elem: etree._Element) -> None:
    elem.clear()
    parent = elem.getparent()
    while parent is not None and elem.getprevious() is not None:
        del parent[0]


def _check_root(ret: CensusReturn, elem: etree._Element) -> None:
    if str(elem.tag).startswith("{"):
        ns = str(elem.tag)[1:].split("}")[0]
        ret.fail(elem.sourceline, "Message", ns, "STR-NS", f"found namespace {ns}")
    elif elem.tag != ROOT:
        ret.fail(elem.sourceline, str(elem.tag), "", "STR-ROOT")


def _on_child(ret: CensusReturn, elem: etree._Element, schema: etree.XMLSchema | None) -> None:
    assert ret.year is not None
    record, found = read_child(elem, ret.year, ret.path)
    ret.issues += found
    if schema is not None:
        seen = {i.line for i in found if i.line is not None}
        _schema_issues(ret, schema, elem, record.la_id, seen)
    ret.children.append(record)
    _free(elem)


def _stream(ret: CensusReturn) -> None:
    schema: etree.XMLSchema | None = None
    with ret.path.open("rb") as f:
        events = etree.iterparse(
            f, events=("start", "end"), resolve_entities=False, no_network=True
        )
        for n, (event, elem) in enumerate(events):
            if n == 0:
                _check_root(ret, elem)
            if not ret.ok:
                return
            if event == "end" and elem.tag == "Header":
                _header(ret, elem)
                if ret.year is not None and ret.year.xsd is not None:
                    schema = child_schema(ret.year.xsd)
            elif event == "end" and elem.tag == "Child":
                if ret.year is None:
                    ret.fail(elem.sourceline, "Header", "", "STR-YEAR", "no Header before Child")
                    return
                _on_child(ret, elem, schema)


def read_return(path: Path) -> CensusReturn:
    """Stream one return: its year, its children's rows, and every issue found.

    Parameters
    ----------
    path : Path
        A CIN census XML return.

    Returns
    -------
    CensusReturn
        ``ok`` is False after a file-level error (its ``issues`` say which).
    """
    ret = CensusReturn(Path(path))
    try:
        _stream(ret)
    except etree.XMLSyntaxError as err:
        ret.fail(err.lineno or None, "", "", "STR-XML", str(err.msg or err))
        return ret
    if ret.ok and ret.year is None:
        ret.fail(None, "Header", "", "STR-YEAR", "the return has no Header/CollectionDetails/Year")
    return ret
