"""Labels, not codes: the one place that turns dimension names and codes into words.

Everything a person reads (the model card, the ATRS record, the outreach and step-down
workbooks and pages, the retraining report) names an audit dimension and its groups
through :func:`dimension_label` and :func:`group_label`. Group words come from a code
list's meaning: the DfE CIN census lists (:func:`stratify.features.codes.code_lists`:
sex, disability, ethnicity) and the audit's own derived lists below (the DfE major
ethnic groups, disability yes/no, the DfE age bands, IMD quintiles). Locality names are
the council's own names and are shown as they are.

Public API: :data:`DIMENSION_NAMES`, :data:`AUDIT_LISTS`, :func:`dimension_label`,
:func:`group_label`, :func:`label_lists`, :func:`meanings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from stratify.features.codes import code_lists

#: How an intersection of two dimensions is written in the audit ("White x 1").
SEP = " x "
UNKNOWN = "Not known"
#: Audit dimension -> readable name.
DIMENSION_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "ethnic_group": "Ethnic group",
        "ethnicity": "Ethnicity",
        "sex": "Sex",
        "disability": "Disability",
        "has_disability": "Disability",
        "age_band": "Age",
        "imd_quintile": "Area deprivation",
        "imd_decile": "Area deprivation (decile)",
        "locality": "Locality",
        "Overall": "Overall",
    }
)
#: The audit's derived code lists: dimension -> code -> meaning.
AUDIT_LISTS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        # the DfE's major ethnic groups of its published tables (codes.ETHNIC_GROUP)
        "ethnic_group": MappingProxyType(
            {
                "White": "White",
                "Mixed": "Mixed or multiple ethnic groups",
                "Asian": "Asian or Asian British",
                "Black": "Black, Black British, Caribbean or African",
                "Other": "Other ethnic group",
                "Unknown": "Ethnicity not known (refused or not yet obtained)",
            }
        ),
        "has_disability": MappingProxyType(
            {"True": "Disabled", "False": "Not disabled", "1": "Disabled", "0": "Not disabled"}
        ),
        # the DfE age bands of the CIN census tables (features.build.output.AGE_BANDS)
        "age_band": MappingProxyType(
            {
                "<1": "Under 1 year",
                "1-4": "1 to 4 years",
                "5-9": "5 to 9 years",
                "10-15": "10 to 15 years",
                "16+": "16 years and over",
            }
        ),
        "imd_quintile": MappingProxyType(
            {
                "1": "Most deprived fifth of areas",
                "2": "Second most deprived fifth",
                "3": "Middle fifth of areas",
                "4": "Second least deprived fifth",
                "5": "Least deprived fifth of areas",
            }
        ),
        # every group at once: the overall figure, and a dimension not audited at all
        "Overall": MappingProxyType({"Overall": "Overall", "(all)": "All groups"}),
    }
)
#: Dimensions whose words come straight from a DfE CIN census list.
_DFE = {"sex": "sex", "ethnicity": "ethnicity", "disability": "disability"}
#: Dimensions whose values are names already (never codes).
NAMED = frozenset({"locality"})


@cache
def label_lists() -> Mapping[str, Mapping[str, str]]:
    """Return every list a group's words may come from: dimension -> code -> meaning."""
    dfe = code_lists()
    merged = {dim: dfe[name] for dim, name in _DFE.items()}
    return MappingProxyType({**merged, **AUDIT_LISTS})


def meanings() -> frozenset[str]:
    """Return every meaning of every list (what a shown group label may be)."""
    return frozenset(m for codes in label_lists().values() for m in codes.values()) | {UNKNOWN}


def _key(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def dimension_label(dimension: str) -> str:
    """Return a dimension (or an intersection ``"a x b"``) in words.

    >>> dimension_label("ethnic_group x sex")
    'Ethnic group and sex'
    """
    parts = [DIMENSION_NAMES.get(p, p.replace("_", " ").capitalize()) for p in dimension.split(SEP)]
    if len(parts) == 1:
        return parts[0]
    return parts[0] + " and " + ", ".join(p[0].lower() + p[1:] for p in parts[1:])


def group_label(dimension: str, value: object) -> str:
    """Return one group of ``dimension`` in words: the meaning of its code.

    An intersection's group (``"White x 1"`` of ``"ethnic_group x sex"``) is each part's
    meaning joined by a comma. A missing value or a code no list knows is
    ``"Not known"`` (locality names are shown as they are).
    """
    if str(value) in AUDIT_LISTS["Overall"]:
        return AUDIT_LISTS["Overall"][str(value)]
    if str(value) == "":
        return ""  # no group (a check with nothing to compare with)
    dims = dimension.split(SEP)
    values = str(value).split(SEP) if len(dims) > 1 else [value]
    if len(dims) != len(values):
        return str(value)
    words = []
    for dim, val in zip(dims, values, strict=True):
        if val is None or (isinstance(val, float) and val != val):
            words.append(UNKNOWN)
        elif dim in NAMED:
            words.append(str(val))
        else:
            words.append(label_lists().get(dim, {}).get(_key(val), UNKNOWN))
    return ", ".join(words)
