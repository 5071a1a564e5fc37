"""Code lists: the DfE CIN census lists (read from the bundled 2024 XSD) and stratify's own.

Each list maps a code to its meaning. ``CODE_LISTS`` is what validation checks against.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType

_XS = "{http://www.w3.org/2001/XMLSchema}"

#: code list name -> simpleType name in CIN_schema_2024.xsd
_XSD_TYPES = {
    "sex": "gendertype",
    "ethnicity": "ethnicitytype",
    "disability": "disabilitytype",
    "referral_source": "referralsourcetype",
    "cp_category": "categoryofabuse",
    "primary_need": "primaryneedcodetype",
    "closure_reason": "reasonforclosuretype",
    "assessment_factor": "assessmentfactorstype",
}

#: Lists stratify defines itself (not in the CIN census schema).
LOCAL_LISTS: dict[str, dict[str, str]] = {
    "household_role": {
        "child": "a child of the household",
        "parent_carer": "a parent or carer of the children",
        "other_adult": "another adult living in the household",
    },
    # SSDA903 legal status codes (children looked after return).
    "legal_status": {
        "C1": "interim care order",
        "C2": "full care order",
        "D1": "freeing order granted",
        "E1": "placement order granted",
        "J1": "remanded to local authority accommodation or youth detention",
        "J2": "placed in local authority accommodation under PACE",
        "J3": "sentenced to a youth rehabilitation order with residence requirement",
        "L1": "under police protection and in local authority accommodation",
        "L2": "emergency protection order",
        "L3": "under child assessment order and in local authority accommodation",
        "V2": "single period of accommodation under section 20",
        "V3": "accommodated under an agreed series of short-term breaks (single placements)",
        "V4": "accommodated under an agreed series of short-term breaks (multiple placements)",
    },
    "early_help_outcome": {
        "needs_met": "the family's needs were met",
        "stepped_up": "stepped up to children's social care",
        "disengaged": "the family disengaged",
        "stepped_down_from_csc": "support continued after children's social care closed",
        "other": "ended for another reason",
    },
    "agency_event_type": {
        "police_domestic_abuse": "police attended a domestic abuse incident at the home",
        "police_missing_episode": "the child was reported missing to the police",
        "youth_justice": "contact with the youth justice service",
        "school_exclusion": "a suspension or exclusion from school",
        "persistent_absence": "persistent absence from school in a term",
        "adult_mental_health": "an adult in the household was seen by mental health services",
        "child_mental_health": "the child was seen by mental health services (CAMHS)",
        "substance_misuse_service": "an adult was in contact with substance misuse services",
        "homelessness": "the household presented as homeless or at risk",
        "emergency_department_injury": "the child attended an emergency department with an injury",
        "anti_social_behaviour": "anti-social behaviour reported by the police or housing",
    },
    "agency": {
        "police": "police",
        "schools": "schools and education",
        "health": "health services",
        "housing": "housing",
        "la_services": "local authority services (youth justice, adult social care)",
    },
    "imd_decile": {str(d): f"IMD decile {d} (1 = most deprived)" for d in range(1, 11)},
}

#: DfE major ethnic groups used in published tables and in the fairness audit.
ETHNIC_GROUP: Mapping[str, str] = MappingProxyType(
    {
        **dict.fromkeys(["WBRI", "WIRI", "WIRT", "WOTH", "WROM"], "White"),
        **dict.fromkeys(["MWBC", "MWBA", "MWAS", "MOTH"], "Mixed"),
        **dict.fromkeys(["AIND", "APKN", "ABAN", "AOTH"], "Asian"),
        **dict.fromkeys(["BCRB", "BAFR", "BOTH"], "Black"),
        **dict.fromkeys(["CHNE", "OOTH"], "Other"),
        **dict.fromkeys(["REFU", "NOBT"], "Unknown"),
    }
)

#: Published source-of-referral groups (DfE table c1) for each referral source code.
SOURCE_GROUP: Mapping[str, str] = MappingProxyType(
    {
        **dict.fromkeys(["1A", "1B", "1C", "1D"], "individual"),
        "2A": "schools",
        "2B": "education services",
        **dict.fromkeys(["3A", "3B", "3C", "3D", "3E", "3F"], "health"),
        "4": "housing",
        **dict.fromkeys(["5A", "5B", "5C", "5D"], "LA services"),
        "6": "police",
        "7": "other legal agency",
        "8": "other",
        "9": "anonymous",
        "10": "unknown",
    }
)


@cache
def _xsd_lists() -> dict[str, dict[str, str]]:
    path = resources.files("stratify.features.data") / "CIN_schema_2024.xsd"
    root = ET.fromstring(path.read_bytes())
    by_type: dict[str, dict[str, str]] = {}
    for st in root.iter(f"{_XS}simpleType"):
        codes = {}
        for enum in st.iter(f"{_XS}enumeration"):
            doc = enum.find(f"{_XS}annotation/{_XS}documentation")
            text = doc.text if doc is not None and doc.text else ""
            codes[enum.attrib["value"]] = text.strip()
        by_type[st.attrib.get("name", "")] = codes
    return {name: by_type[xsd_type] for name, xsd_type in _XSD_TYPES.items()}


@cache
def code_lists() -> Mapping[str, Mapping[str, str]]:
    """Return every code list by name: code -> meaning.

    Returns
    -------
    Mapping[str, Mapping[str, str]]
        The DfE lists from the CIN census XSD and stratify's local lists.
    """
    merged = {**_xsd_lists(), **LOCAL_LISTS}
    return MappingProxyType({k: MappingProxyType(v) for k, v in merged.items()})


def codes(name: str) -> frozenset[str]:
    """Return the set of valid codes for the list ``name``."""
    return frozenset(code_lists()[name])
