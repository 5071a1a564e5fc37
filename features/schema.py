"""The canonical warehouse schema: tables, columns, types, keys and code lists.

This module is the single description of the warehouse that the loader, the validator,
the simulator's extract writer and the feature build all read. The DDL is generated
from it, and ``SCHEMA_VERSION`` is stored in the warehouse so a stale file is detected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SCHEMA_VERSION = 1

SqlType = Literal["VARCHAR", "DATE", "BOOLEAN", "TINYINT"]


@dataclass(frozen=True)
class Column:
    """One warehouse column.

    Attributes
    ----------
    name : str
    type : {"VARCHAR", "DATE", "BOOLEAN", "TINYINT"}
    nullable : bool
        Whether the column may be empty (open episodes have no end date).
    codes : str or None
        Name of the code list in :mod:`stratify.features.codes` the value must belong to.
    id_namespace : str or None
        Set for source identifiers: the value is pseudonymised at ingest with this
        namespace, so the same source id in two tables maps to the same pseudonym.
    """

    name: str
    type: SqlType = "VARCHAR"
    nullable: bool = False
    codes: str | None = None
    id_namespace: str | None = None


@dataclass(frozen=True)
class Table:
    """One warehouse table with its key and references."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    #: (column, referenced table, referenced column)
    references: tuple[tuple[str, str, str], ...] = ()
    #: (earlier column, later column): later must be on or after earlier when both are set
    date_order: tuple[tuple[str, str], ...] = ()
    description: str = ""
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _id(name: str, namespace: str, nullable: bool = False) -> Column:
    return Column(name, "VARCHAR", nullable, id_namespace=namespace)


def _date(name: str, nullable: bool = False) -> Column:
    return Column(name, "DATE", nullable)


TABLES: tuple[Table, ...] = (
    Table(
        "persons",
        (
            _id("person_id", "person"),
            _date("birth_month"),
            Column("sex", codes="sex"),
            Column("ethnicity", codes="ethnicity"),
            Column("disability", codes="disability"),
            # empty when the source has no address (a CIN census return)
            Column("lsoa", nullable=True),
            Column("imd_decile", "TINYINT", nullable=True, codes="imd_decile"),
            Column("locality", nullable=True),
            Column("is_child", "BOOLEAN"),
        ),
        ("person_id",),
        description="Children and the adults in their households; birth month only.",
    ),
    Table(
        "household_members",
        (
            _id("household_id", "household"),
            _id("person_id", "person"),
            Column("role", codes="household_role"),
            _date("start_date"),
            _date("end_date", nullable=True),
        ),
        ("household_id", "person_id", "start_date"),
        references=(("person_id", "persons", "person_id"),),
        date_order=(("start_date", "end_date"),),
        description="Who lived in which household when (membership intervals).",
    ),
    Table(
        "residences",
        (
            _id("household_id", "household"),
            Column("lsoa"),
            Column("imd_decile", "TINYINT", codes="imd_decile"),
            Column("locality"),
            _date("start_date"),
            _date("end_date", nullable=True),
        ),
        ("household_id", "start_date"),
        references=(("household_id", "household_members", "household_id"),),
        date_order=(("start_date", "end_date"),),
        description="Where each household lived when, so area features are point-in-time.",
    ),
    Table(
        "referrals",
        (
            _id("referral_id", "referral"),
            _id("person_id", "person"),
            _date("referral_date"),
            Column("source", codes="referral_source"),
            Column("primary_need", codes="primary_need"),
            Column("nfa", "BOOLEAN"),
            _date("closure_date", nullable=True),
            Column("closure_reason", nullable=True, codes="closure_reason"),
        ),
        ("referral_id",),
        references=(("person_id", "persons", "person_id"),),
        date_order=(("referral_date", "closure_date"),),
        description="Referral episodes to children's social care (CIN census).",
    ),
    Table(
        "assessments",
        (
            _id("assessment_id", "assessment"),
            _id("referral_id", "referral"),
            _id("person_id", "person"),
            _date("start_date"),
            _date("authorised_date", nullable=True),
        ),
        ("assessment_id",),
        references=(
            ("referral_id", "referrals", "referral_id"),
            ("person_id", "persons", "person_id"),
        ),
        date_order=(("start_date", "authorised_date"),),
        description="Child and family assessments within a referral episode.",
    ),
    Table(
        "assessment_factors",
        (_id("assessment_id", "assessment"), Column("factor", codes="assessment_factor")),
        ("assessment_id", "factor"),
        references=(("assessment_id", "assessments", "assessment_id"),),
        description="Factors identified at the end of assessment (DfE codes).",
    ),
    Table(
        "section47",
        (
            _id("s47_id", "section47"),
            _id("referral_id", "referral"),
            _id("person_id", "person"),
            _date("start_date"),
            _date("icpc_date", nullable=True),
        ),
        ("s47_id",),
        references=(
            ("referral_id", "referrals", "referral_id"),
            ("person_id", "persons", "person_id"),
        ),
        date_order=(("start_date", "icpc_date"),),
        description="Section 47 enquiries and initial child protection conferences.",
    ),
    Table(
        "cin_plans",
        (
            _id("plan_id", "cin_plan"),
            _id("referral_id", "referral"),
            _id("person_id", "person"),
            _date("start_date"),
            _date("end_date", nullable=True),
        ),
        ("plan_id",),
        references=(
            ("referral_id", "referrals", "referral_id"),
            ("person_id", "persons", "person_id"),
        ),
        date_order=(("start_date", "end_date"),),
        description="Child in need plans.",
    ),
    Table(
        "cp_plans",
        (
            _id("plan_id", "cp_plan"),
            _id("referral_id", "referral"),
            _id("person_id", "person"),
            _date("start_date"),
            _date("end_date", nullable=True),
            Column("initial_category", codes="cp_category"),
        ),
        ("plan_id",),
        references=(
            ("referral_id", "referrals", "referral_id"),
            ("person_id", "persons", "person_id"),
        ),
        date_order=(("start_date", "end_date"),),
        description="Child protection plans with the initial category of abuse.",
    ),
    Table(
        "looked_after",
        (
            _id("episode_id", "looked_after"),
            _id("person_id", "person"),
            _date("start_date"),
            _date("end_date", nullable=True),
            Column("legal_status", codes="legal_status"),
        ),
        ("episode_id",),
        references=(("person_id", "persons", "person_id"),),
        date_order=(("start_date", "end_date"),),
        description="Periods of being looked after (SSDA903 legal status).",
    ),
    Table(
        "early_help",
        (
            _id("episode_id", "early_help"),
            _id("person_id", "person"),
            _id("household_id", "household"),
            _date("start_date"),
            _date("end_date", nullable=True),
            Column("outcome", nullable=True, codes="early_help_outcome"),
        ),
        ("episode_id",),
        references=(
            ("person_id", "persons", "person_id"),
            ("household_id", "household_members", "household_id"),
        ),
        date_order=(("start_date", "end_date"),),
        description="Early help episodes and how they ended (empty while open).",
    ),
    Table(
        "agency_events",
        (
            _id("event_id", "agency_event"),
            _id("person_id", "person"),
            _date("event_date"),
            Column("event_type", codes="agency_event_type"),
            Column("agency", codes="agency"),
        ),
        ("event_id",),
        references=(("person_id", "persons", "person_id"),),
        description="Contacts with other agencies (police, schools, health, housing, ...).",
    ),
)

TABLE_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}

#: Cross-table date rules: (table, column, parent table, parent column, join column).
#: The child's date must be on or after the parent's date for the joined row.
CROSS_DATE_ORDER: tuple[tuple[str, str, str, str, str], ...] = (
    ("assessments", "start_date", "referrals", "referral_date", "referral_id"),
    ("section47", "start_date", "referrals", "referral_date", "referral_id"),
    ("cin_plans", "start_date", "referrals", "referral_date", "referral_id"),
    ("cp_plans", "start_date", "referrals", "referral_date", "referral_id"),
)

#: Cross-table identity rules: (table, column, parent table, join column): the row's
#: ``column`` must equal the parent row's ``column`` (an assessment of a referral is
#: about the referral's child).
CROSS_SAME_PERSON: tuple[tuple[str, str, str, str], ...] = (
    ("assessments", "person_id", "referrals", "referral_id"),
    ("section47", "person_id", "referrals", "referral_id"),
    ("cin_plans", "person_id", "referrals", "referral_id"),
    ("cp_plans", "person_id", "referrals", "referral_id"),
)

META_TABLE = "_stratify_meta"


def ddl() -> list[str]:
    """Return the CREATE TABLE statements for the warehouse, keys included."""
    statements = []
    for t in TABLES:
        cols = [f'"{c.name}" {c.type}{"" if c.nullable else " NOT NULL"}' for c in t.columns]
        cols.append("PRIMARY KEY (" + ", ".join(f'"{k}"' for k in t.primary_key) + ")")
        statements.append(f'CREATE TABLE "{t.name}" (\n  ' + ",\n  ".join(cols) + "\n)")
    statements.append(f'CREATE TABLE "{META_TABLE}" (key VARCHAR PRIMARY KEY, value VARCHAR)')
    return statements


# ---------------------------------------------------------------------------
# Decision points and labels (ARCHITECTURE.md "Targets"), made exact. The simulator's
# ground truth and the feature build both follow these definitions.
#
# Time: a fact dated d is known at decision point ``as_of`` iff d < as_of.
#
# escalation: decision points are snapshot dates, the first day of every
#   ``snapshot_months``-th month counted from 1 January (quarterly: 1 Jan, 1 Apr,
#   1 Jul, 1 Oct). Cohort: every person with is_child, aged 0-17 on as_of
#   (birth_month < as_of and as_of < birth_month + 18 years), a member of a household
#   on as_of (a membership with start_date < as_of and (end_date is null or
#   end_date >= as_of)), known to any service in the lookback window
#   [as_of - lookback, as_of) (a referral, early help episode, CIN plan, CP plan or
#   looked-after episode active at some time in the window - started before as_of
#   and not ended/closed before the window starts - or an agency event dated in it),
#   and not open to statutory social care on as_of (no CIN plan, CP plan or
#   looked-after episode with start_date < as_of and (end_date is null or
#   end_date >= as_of)).
#   Label: 1 if a section 47 enquiry, CP plan or looked-after episode starts on a
#   date d with as_of <= d < as_of + horizon, else 0.
# rereferral: one decision point per referral closed with RC7, RC8 or RC9;
#   as_of = closure_date. Label: 1 if another referral of the same child has
#   as_of <= referral_date < as_of + horizon, else 0.
# Both: when as_of + horizon > the warehouse's extract_date the label window is
#   incomplete and the label is null (unlabelled, kept for scoring).
# ---------------------------------------------------------------------------
REREFERRAL_CLOSURE_REASONS = ("RC7", "RC8", "RC9")
