"""The feature catalogue: every family-context feature, declared once.

Each :class:`Feature` says what the feature means (description), how a practitioner
would read it (a reason template), which part of the family it describes (group), its
data type and valid range, and which way a reviewer expects it to move the risk. The
build, the service's request schema and the plain-language reasons all read this module,
so a feature cannot exist in one and not the others. Windowed counts are declared as
families (one template, several windows) but each window is its own declaration.

Which features a reason may name is declared here too (``as_reason``). A reason must be
something a manager can check in the family's records and act on, so three kinds of
feature are never named, whatever the model makes of them: where the family lives (every
``area`` feature: locality, IMD decile), the child's age, and household size alone (the
counts of children and adults at home). Protected characteristics are not catalogue
features at all (they are audit columns a config may add as model inputs), so a column
the catalogue does not declare is never a reason either.

How a generic feature is computed is declared too: ``stat`` names the computation and
``source`` a *measure*, a named set of dated fact kinds (``MEASURES``). Every fact is
dated, and only facts dated strictly before the decision point count.

Exception: the ``index_*`` features apply to the ``rereferral`` target only. They
describe the referral whose closure *is* the decision point (its closure reason, NFA
decision, length and assessment factors), so they are known on ``as_of_date`` itself
rather than strictly before it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

from stratify.core.targets import TARGETS, Target
from stratify.features.codes import LOCAL_LISTS
from stratify.features.schema import REREFERRAL_CLOSURE_REASONS

Group = Literal["child", "household", "siblings", "adults", "area"]
Dtype = Literal["int", "bool", "category"]
Direction = Literal["raises", "lowers", "none"]
#: count: facts in the window; any: at least one; open: an episode open on the date;
#: months_since: whole months since the latest fact; members_count / members_with /
#: members_open: summed over (or counting) the siblings or adults of the group;
#: the rest (age, composition, area, index) are computed by name.
# fmt: off
Stat = Literal["count", "any", "open", "months_since", "members_count", "members_with",
               "members_open", "age", "composition", "area", "index"]
# fmt: on

#: The one exception to "only facts dated strictly before as_of_date" (see above).
INDEX_EXCEPTION = (
    "index_* features (rereferral only) describe the referral whose closure is the "
    "decision point, so they use facts dated on as_of_date itself"
)

GROUPS: tuple[Group, ...] = ("child", "household", "siblings", "adults", "area")

#: Assessment factor groups (DfE codes). "21" (no factors identified) is not a factor.
FACTOR_GROUPS: dict[str, tuple[str, ...]] = {
    "domestic_abuse": ("3A", "3B", "3C"),
    "mental_health": ("4A", "4B", "4C"),
    "substance_misuse": ("1A", "1B", "1C", "2A", "2B", "2C"),
    "abuse_neglect": ("16A", "17A", "18B", "18C", "19B", "19C"),
    "child_risk": ("10A", "11A", "13A", "14A", "15A", "24A"),
}
NO_FACTOR = "21"
EVENT_TYPES: tuple[str, ...] = tuple(LOCAL_LISTS["agency_event_type"])
EH_OUTCOMES = ("needs_met", "disengaged", "stepped_up")

_PERSON_MEASURES: dict[str, tuple[str, ...]] = {
    "referral": ("referral",),
    "referral_end": ("referral_end",),
    "referral_nfa": ("referral_nfa",),
    "assessment": ("assessment",),
    **{f"factor_{g}": (f"factor_{g}",) for g in (*FACTOR_GROUPS, "other")},
    "s47": ("s47",),
    "icpc": ("icpc",),
    "cin_plan": ("cin_plan",),
    "cp_plan": ("cp_plan",),
    "looked_after": ("looked_after",),
    "statutory": ("cin_plan", "cp_plan", "looked_after"),
    "statutory_end": ("cin_plan_end", "cp_plan_end", "looked_after_end"),
    # fmt: off
    "statutory_involvement": (
        "s47",
        "icpc",
        "cin_plan",
        "cin_plan_end",
        "cp_plan",
        "cp_plan_end",
        "looked_after",
        "looked_after_end",
    ),
    # fmt: on
    "early_help": ("early_help",),
    "early_help_end": ("early_help_end",),
    **{f"early_help_{o}": (f"early_help_{o}",) for o in EH_OUTCOMES},
    **{f"event_{e}": (f"event_{e}",) for e in EVENT_TYPES},
}
_HOUSEHOLD_KINDS = ("household_early_help", "household_early_help_end", "residence_move",
                    "adult_joined", "adult_left")  # fmt: skip
_HOUSEHOLD_MEASURES: dict[str, tuple[str, ...]] = {k: (k,) for k in _HOUSEHOLD_KINDS}
#: measure -> the fact kinds it counts (person facts and household facts).
MEASURES: dict[str, tuple[str, ...]] = {**_PERSON_MEASURES, **_HOUSEHOLD_MEASURES}
HOUSEHOLD_MEASURES = frozenset(_HOUSEHOLD_MEASURES)


@dataclass(frozen=True)
class Feature:
    """One family-context feature.

    Attributes
    ----------
    name, description : str
    reason : str
        Plain-language template: ``{value}`` is the feature's value; ``{s}``, ``{ies}``
        and ``{ren}`` are plural endings ("", "y", "" when the value is 1).
    group : {"child", "household", "siblings", "adults", "area"}
    dtype : {"int", "bool", "category"}
    direction : {"raises", "lowers", "none"}
        Which way a reviewer expects a higher (or true) value to move the risk.
    stat : str
        How the value is computed (see ``Stat``).
    source : str or None
        The measure counted, for generic stats.
    window_months : int or None
        Facts dated in ``[as_of - window, as_of)``; None means all facts before as_of.
    minimum, maximum : int or None
        Valid range (numeric features).
    categories : tuple of str or None
        Allowed values of a categorical feature; None means the values found in the
        warehouse (recorded in the build's metadata).
    nullable : bool
        Whether the value may be missing (e.g. no earlier referral, no known address).
    targets : tuple of str
        The targets the feature applies to.
    as_reason : bool
        Whether a plain-language reason may name the feature. False for where the
        family lives, the child's age and household size alone: facts about who or
        where a family is, not about what has happened to it.
    """

    name: str
    description: str
    reason: str
    group: Group
    dtype: Dtype
    direction: Direction
    stat: Stat
    source: str | None = None
    window_months: int | None = None
    minimum: int | None = 0
    maximum: int | None = None
    categories: tuple[str, ...] | None = None
    nullable: bool = False
    targets: tuple[Target, ...] = TARGETS
    as_reason: bool = True


def _span(window: int | None) -> tuple[str, str]:
    if window is None:
        return "ever", "on record"
    return f"{window}m", f"in the last {window} months"


# A declaration-table DSL, called positionally like ``Feature`` in every table below.
def _family(  # noqa: PLR0917
    stem: str,
    stat: Stat,
    source: str,
    windows: tuple[int | None, ...],
    group: Group,
    what: str,
    reason: str,
    direction: Direction = "raises",
) -> list[Feature]:
    """Declare one count feature per window from one template."""
    out = []
    for w in windows:
        suffix, when = _span(w)
        out.append(
            Feature(
                f"{stem}_{suffix}", f"{what} {when}", f"{reason} {when}", group, "int",
                direction, stat, source, w,
            )
        )  # fmt: skip
    return out


_ALL, _Y3, _Y1, _EVER = (3, 12, 36, None), (36, None), (12, None), (None,)
_FACTOR_WORDS = {
    "domestic_abuse": "domestic abuse",
    "mental_health": "mental health",
    "substance_misuse": "alcohol or drug misuse",
    "abuse_neglect": "abuse or neglect",
    "child_risk": "child-level risk (missing, exploitation, gangs, behaviour, self-harm)",
    "other": "other",
}
_TOXIC_TRIO = ("domestic_abuse", "mental_health", "substance_misuse")
_EVENT_WORDS = {
    "police_domestic_abuse": "police domestic abuse call-out",
    "police_missing_episode": "missing episode",
    "youth_justice": "youth justice contact",
    "school_exclusion": "school suspension or exclusion",
    "persistent_absence": "term of persistent absence",
    "child_mental_health": "CAMHS contact",
    "emergency_department_injury": "emergency department attendance with an injury",
    "anti_social_behaviour": "anti-social behaviour report",
    "homelessness": "homelessness presentation",
    "adult_mental_health": "adult mental health contact",
    "substance_misuse_service": "substance misuse service contact",
}
#: the same, counted: ``{s}`` marks where the plural ending goes
_EVENT_COUNTED = {
    **{e: words + "{s}" for e, words in _EVENT_WORDS.items()},
    "school_exclusion": "school suspension{s} or exclusion{s}",
    "persistent_absence": "term{s} of persistent absence",
    "emergency_department_injury": "emergency department attendance{s} with an injury",
}
_ADULT_ONLY_EVENTS = ("adult_mental_health", "substance_misuse_service")
_ADULT_EVENTS = {
    "domestic_abuse": "police_domestic_abuse",
    "mental_health": "adult_mental_health",
    "substance_misuse": "substance_misuse_service",
    "homelessness": "homelessness",
}
_EH_DIRECTION: dict[str, Direction] = {
    "needs_met": "lowers", "disengaged": "raises", "stepped_up": "raises"
}  # fmt: skip
_RR: tuple[Target, ...] = ("rereferral",)


# The declarations read best as a table, so the formatter leaves them alone.
# fmt: off
def _child() -> list[Feature]:
    c: Group = "child"
    out = [
        Feature("age_months", "Age of the child in whole months (missing before birth)",
                "the child is {value} months old", c, "int", "none", "age", maximum=300,
                nullable=True, as_reason=False),
        *_family("referrals", "count", "referral", _ALL, c, "Referrals of this child",
                 "{value} referral{s} for this child"),
        Feature("months_since_referral", "Whole months since this child's latest referral",
                "{value} month{s} since this child's last referral", c, "int", "lowers",
                "months_since", "referral", nullable=True),
        *_family("nfa_referrals", "count", "referral_nfa", _Y1, c,
                 "Referrals of this child closed with no further action",
                 "{value} referral{s} closed with no further action"),
        Feature("open_referral", "The child has a referral open on the date",
                "the child has an open referral", c, "bool", "raises", "open", "referral"),
        *_family("assessments", "count", "assessment", _Y1, c, "Assessments of this child",
                 "{value} assessment{s} of this child"),
    ]
    for g, words in _FACTOR_WORDS.items():
        out += _family(f"factors_{g}", "count", f"factor_{g}",
                       _Y3 if g in _TOXIC_TRIO else _EVER, c,
                       f"Assessment factors about {words}",
                       f"{{value}} assessment factor{{s}} about {words}")
    out += [
        *_family("s47", "count", "s47", _Y3, c, "Section 47 enquiries about this child",
                 "{value} section 47 enquir{ies}"),
        *_family("icpc", "count", "icpc", _EVER, c, "Initial child protection conferences",
                 "{value} child protection conference{s}"),
        *_family("cin_plans", "count", "cin_plan", _EVER, c, "Child in need plans",
                 "{value} child in need plan{s}"),
        *_family("cp_plans", "count", "cp_plan", _Y3, c, "Child protection plans",
                 "{value} child protection plan{s}"),
        Feature("looked_after_ever", "The child has been looked after before",
                "the child has been looked after before", c, "bool", "raises", "any",
                "looked_after"),
        *_family("looked_after_episodes", "count", "looked_after", _EVER, c,
                 "Periods of being looked after", "{value} period{s} of being looked after"),
        Feature("months_since_statutory", "Whole months since the latest statutory "
                "involvement (a section 47 enquiry, a conference, or a CIN plan, CP plan or "
                "care episode starting or ending)", "{value} month{s} since the last "
                "statutory involvement", c, "int", "lowers", "months_since",
                "statutory_involvement", nullable=True),
        *_family("early_help", "count", "early_help", _Y1, c, "Early help episodes started",
                 "{value} early help episode{s}"),
        Feature("early_help_open", "The child has an early help episode open on the date",
                "early help is working with the child", c, "bool", "none", "open",
                "early_help"),
    ]
    for o, direction in _EH_DIRECTION.items():
        words = o.replace("_", " ")
        out += _family(f"early_help_{o}", "count", f"early_help_{o}", _EVER, c,
                       f"Early help episodes that ended {words}",
                       f"{{value}} early help episode{{s}} ended {words}", direction)
    for e in (e for e in EVENT_TYPES if e not in _ADULT_ONLY_EVENTS):
        stem = e if e.startswith("child_") else f"child_{e}"
        out += _family(stem, "count", f"event_{e}", _Y1, c,
                       f"Agency events for the child: {LOCAL_LISTS['agency_event_type'][e]}",
                       f"{{value}} {_EVENT_COUNTED[e]} for the child")
    return out


def _index() -> list[Feature]:
    c: Group = "child"
    return [
        Feature("index_closure_reason", "Why the closed referral was closed (RC7-RC9)",
                "the referral was closed with reason {value}", c, "category", "none", "index",
                categories=REREFERRAL_CLOSURE_REASONS, minimum=None, targets=_RR),
        Feature("index_nfa", "The closed referral was closed with no further action",
                "the referral was closed with no further action", c, "bool", "raises",
                "index", targets=_RR),
        Feature("index_episode_days", "Days from the closed referral to its closure",
                "the referral was open for {value} day{s}", c, "int", "none", "index",
                targets=_RR),
        Feature("index_assessed", "The closed referral had an assessment",
                "the referral was assessed", c, "bool", "none", "index", targets=_RR),
        Feature("index_assessment_factors", "Factors identified at the closed referral's "
                "assessments", "{value} factor{s} identified at the assessment", c, "int",
                "raises", "index", targets=_RR),
    ]


def _household() -> list[Feature]:
    h: Group = "household"
    return [
        Feature("household_children", "Children in the household (this child included)",
                "{value} child{ren} in the household", h, "int", "none", "composition",
                as_reason=False),
        Feature("household_adults", "Adults in the household",
                "{value} adult{s} in the household", h, "int", "none", "composition",
                as_reason=False),
        Feature("has_second_carer", "Two or more parents or carers live in the household",
                "two parents or carers at home", h, "bool", "lowers", "composition"),
        Feature("other_adults_present", "Adults other than parents or carers live in the "
                "household", "other adults live in the household", h, "bool", "none",
                "composition"),
        *_family("adults_joined", "count", "adult_joined", (12,), h,
                 "Adults who joined the household", "{value} adult{s} joined the household"),
        *_family("adults_left", "count", "adult_left", (12,), h,
                 "Adults who left the household", "{value} adult{s} left the household"),
        *_family("household_moves", "count", "residence_move", (12, 36), h,
                 "Moves of the household to a new address", "{value} move{s} of home"),
        *_family("household_early_help", "count", "household_early_help", _Y1, h,
                 "Early help episodes with the household",
                 "{value} early help episode{s} with the household"),
        Feature("household_early_help_open", "The household has an early help episode open",
                "early help is working with the household", h, "bool", "none", "open",
                "household_early_help"),
    ]


def _siblings_adults_area() -> list[Feature]:
    s: Group = "siblings"
    out = [
        *_family("siblings_referrals", "members_count", "referral", _Y1, s,
                 "Referrals of the other children in the household",
                 "{value} referral{s} of siblings"),
        Feature("siblings_s47_ever", "Other children in the household who have had a "
                "section 47 enquiry", "{value} sibling{s} with a section 47 enquiry", s,
                "int", "raises", "members_with", "s47"),
        Feature("siblings_cp_plan_ever", "Other children in the household who have been on "
                "a CP plan", "{value} sibling{s} ever on a child protection plan", s, "int",
                "raises", "members_with", "cp_plan"),
        Feature("siblings_looked_after_ever", "Other children in the household who have "
                "been looked after", "{value} sibling{s} ever in care", s, "int", "raises",
                "members_with", "looked_after"),
        Feature("siblings_open_statutory", "Other children in the household with an open "
                "CIN plan, CP plan or care episode", "{value} sibling{s} open to social care",
                s, "int", "raises", "members_open", "statutory"),
    ]
    for short, e in _ADULT_EVENTS.items():
        out += _family(f"adults_{short}", "members_count", f"event_{e}", (12, 36), "adults",
                       f"Agency events for the household's adults: {_EVENT_WORDS[e]}",
                       f"{{value}} {_EVENT_COUNTED[e]} for adults at home")
    return out + [
        Feature("imd_decile", "IMD decile of the home's area (1 = most deprived)",
                "the family lives in an area of IMD decile {value}", "area", "int", "lowers",
                "area", minimum=1, maximum=10, nullable=True, as_reason=False),
        Feature("locality", "Locality of the home", "the family lives in {value}", "area",
                "category", "none", "area", minimum=None, nullable=True, as_reason=False),
    ]
# fmt: on


FEATURES: tuple[Feature, ...] = (*_child(), *_index(), *_household(), *_siblings_adults_area())
FEATURE_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}


def features_for(target: Target) -> tuple[Feature, ...]:
    """Return the catalogue's features that apply to ``target``, in catalogue order."""
    return tuple(f for f in FEATURES if target in f.targets)


def catalogue_hash() -> str:
    """Return a stable hash of every declaration and measure (16 hex characters)."""
    payload = {
        "features": [asdict(f) for f in FEATURES],
        "measures": MEASURES,
        "factor_groups": FACTOR_GROUPS,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_JSON_TYPES = {"int": "integer", "bool": "boolean", "category": "string"}


def request_schema(target: Target) -> dict[str, Any]:
    """Return the JSON Schema of one family-context record of ``target``.

    Every applicable feature is required, typed, and bounded by its declared range or
    allowed values (null allowed where the feature is nullable); nothing else is
    accepted. The scoring service validates requests against it.
    """
    properties: dict[str, Any] = {}
    for f in features_for(target):
        kind = _JSON_TYPES[f.dtype]
        prop: dict[str, Any] = {"type": [kind, "null"] if f.nullable else kind}
        prop["description"] = f.description
        if f.minimum is not None:
            prop["minimum"] = f.minimum
        if f.maximum is not None:
            prop["maximum"] = f.maximum
        if f.categories is not None:
            prop["enum"] = [*f.categories, *([None] if f.nullable else [])]
        properties[f.name] = prop
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def reason(feature: Feature | str, value: object) -> str:
    """Render a feature's plain-language reason for ``value``.

    Parameters
    ----------
    feature : Feature or str
        The feature or its name.
    value : object
        The feature's value for one family.

    Returns
    -------
    str
        The sentence, with ``{value}`` filled in and plurals agreed.
    """
    f = FEATURE_BY_NAME[feature] if isinstance(feature, str) else feature
    one = value == 1
    template = f.reason
    if f.stat == "months_since" and value == 0:  # "0 months since" reads as an error
        template = template.replace("{value} month{s}", "less than a month")
    return template.format(
        value=value, s="" if one else "s", ies="y" if one else "ies", ren="" if one else "ren"
    )
