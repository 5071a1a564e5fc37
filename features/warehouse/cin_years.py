"""What differs between the yearly CIN census schemas stratify reads (2017/18 to 2025/26).

Declared as data. A return names its collection year in ``Header/CollectionDetails/Year``
(the year the census period ends: ``2022`` is 1 April 2021 to 31 March 2022).

- The child's sex: ``GenderCurrent`` coded 1 male, 2 female, 0 not recorded or unborn,
  9 indeterminate, up to 2023/24; from 2024/25 ``Sex`` coded M, F or U (DfE CBDS change
  RFC 1233). Both load into the warehouse's 0/1/2/9 list (U as 0, not recorded).
- The ``PreProceedings`` block of newer returns has no canonical table: it is read and
  skipped with a note in the report.
- The XSD: only the 2023/24 schema is bundled (``CIN_schema_2024.xsd``); other years get
  stratify's structural checks (required elements, dates, code lists), and the report's
  first line says which check a file had.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

from lxml import etree

_XS = "http://www.w3.org/2001/XMLSchema"

_GENDER_CURRENT = MappingProxyType({"0": "0", "1": "1", "2": "2", "9": "9"})
_SEX = MappingProxyType({"M": "1", "F": "2", "U": "0"})


@dataclass(frozen=True)
class CensusYear:
    """One collection year's schema differences.

    Attributes
    ----------
    year : int
        The year the census period ends (``Header/CollectionDetails/Year``).
    sex_element : str
        The element under ``ChildIdentifiers`` holding the child's sex.
    sex_codes : Mapping[str, str]
        The return's sex codes -> the warehouse's (DfE 0/1/2/9) codes.
    xsd : str or None
        The bundled XSD file the year's children are validated against, if any.
    """

    year: int
    sex_element: str
    sex_codes: MappingProxyType[str, str]
    xsd: str | None = None

    @property
    def period_start(self) -> dt.date:
        """First day of the census period (1 April of the year before)."""
        return dt.date(self.year - 1, 4, 1)

    @property
    def reference_date(self) -> dt.date:
        """Last day of the census period (31 March)."""
        return dt.date(self.year, 3, 31)

    @property
    def label(self) -> str:
        """The collection as the DfE names it, e.g. ``2021/22``."""
        return f"{self.year - 1}/{self.year % 100:02d}"


CENSUS_YEARS: MappingProxyType[int, CensusYear] = MappingProxyType(
    {
        **{
            y: CensusYear(
                y, "GenderCurrent", _GENDER_CURRENT, "CIN_schema_2024.xsd" if y == 2024 else None
            )
            for y in range(2018, 2025)
        },
        **{y: CensusYear(y, "Sex", _SEX) for y in (2025, 2026)},
    }
)


@cache
def child_schema(xsd: str) -> etree.XMLSchema:
    """Return the year's XSD with ``Child`` declared globally, to validate one child at a time.

    Validating each ``Child`` as it streams past keeps memory flat on a 50,000-child
    return and reports every error of every child (a whole-document validation during
    ``iterparse`` stops at the first).
    """
    doc = etree.fromstring(
        (resources.files("stratify.features.data") / xsd).read_bytes(),
        etree.XMLParser(resolve_entities=False, no_network=True),
    )
    etree.SubElement(doc, f"{{{_XS}}}element", name="Child", type="childtype")
    return etree.XMLSchema(doc)
