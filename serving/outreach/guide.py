"""What the outreach list says, in words: its columns, the guide, the summary.

The workbook (:mod:`stratify.serving.outreach.excel`) and the web page
(:mod:`stratify.serving.outreach.html`) show the same content, so both read it from here: the
list's columns with a plain description each, the rows of the list (one per child,
grouped by family), the "How to read this list" text and the fairness sheet's columns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from stratify.core.targets import model_name
from stratify.features.labels import group_label
from stratify.serving.outreach.cohort import TARGET
from stratify.serving.outreach.fairness import DIMENSION_NAMES, SUPPRESSED
from stratify.serving.outreach.ranking import REASON_COLUMNS, OutreachList

MODEL_NAME = model_name(TARGET)
Format = Literal["text", "int", "score", "share", "ratio"]


@dataclass(frozen=True)
class Column:
    """One column of a sheet: its key, header, description, width and number format."""

    key: str
    header: str
    description: str
    width: int
    format: Format = "text"
    family: bool = False  # the same on every row of a family
    wrap: bool = False  # long text in a narrow column: wrapped over lines, never cut off


LIST_COLUMNS = (
    Column("rank", "Rank", "The family's place on the list (1 = highest family score).",
           7, "int", True),
    Column("family", "Family", "The household's pseudonym.", 25, family=True),
    Column("family_score", "Family score", "The highest score of the family's children: the "
           "estimated chance (0 to 1) of a section 47 enquiry, a child protection plan or "
           "becoming looked after within 12 months, given the records.", 7, "score", True),
    Column("band", "Band", "1 to 10: where the family score falls among all children the "
           "model learnt from (10 = the highest tenth).", 7, "int", True),
    Column("children", "Children", "How many of the family's children are listed below it.",
           8, "int", True),
    Column("child", "Child", "The child's pseudonym.", 25),
    Column("age_band", "Age", "The child's age band on the date.", 11, wrap=True),
    Column("child_score", "Child score", "The child's own score (the family score is the "
           "highest).", 7, "score"),
    Column("locality", "Locality", "Where the family lives.", 10, wrap=True),
    *(Column(c, f"Reason {i + 1}", "A fact in the records that raised the score (statistical "
             "association, not a finding).", 23, family=True, wrap=True)
      for i, c in enumerate(REASON_COLUMNS)),
    Column("model_version", "Model version", "The model that produced the score.", 12,
           family=True, wrap=True),
    Column("council_reference", "Council reference", "Left empty: for the council's own "
           "case reference, to join the list back to its records.", 12),
)  # fmt: skip

FAIRNESS_COLUMNS = (
    Column("dimension", "Characteristic", "", 30),
    Column("group", "Group", "", 18),
    Column("eligible", "Eligible children", "Children in eligible families.", 17, "int"),
    Column("eligible_share", "Share of eligible", "", 17, "share"),
    Column("listed", "Listed children", "Children on the list.", 15, "int"),
    Column("listed_share", "Share of list", "", 14, "share"),
    Column("selection_rate", "Selection rate", "Listed / eligible.", 15, "share"),
    Column("ratio", "Ratio to largest group", "This group's selection rate divided by the "
           "largest group's.", 22, "ratio"),
    Column("compared_with", "Largest group", "The group the ratio compares with.", 16),
)  # fmt: skip


def model_label(version: int) -> str:
    """Return how the model is named on the list."""
    return f"{MODEL_NAME} v{version}"


def scope(lst: OutreachList) -> str:
    """Return where the list is for, in words."""
    return f"locality {lst.locality}" if lst.locality else "all localities"


def list_rows(lst: OutreachList) -> list[dict[str, Any]]:
    """Return one row per listed child (family columns filled on each), by rank.

    Each row has the :data:`LIST_COLUMNS` keys and ``first`` (the family's first row).
    """
    fams: dict[str, dict[str, Any]] = {
        str(f["family"]): {str(k): v for k, v in f.items()} for f in lst.families.to_dict("records")
    }
    rows: list[dict[str, Any]] = []
    previous = None
    for child in lst.children.to_dict("records"):
        fam = fams[str(child["family"])]
        rows.append(
            {
                "rank": int(child["rank"]),
                "family": fam["family"],
                "family_score": round(float(fam["family_score"]), 3),
                "band": int(fam["band"]),
                "children": int(fam["children"]),
                "child": child["child"],
                "age_band": group_label("age_band", child["age_band"]),
                "child_score": round(float(child["child_score"]), 3),
                "locality": fam["locality"],
                **{c: fam[c] for c in REASON_COLUMNS},
                "model_version": model_label(lst.model_version),
                "council_reference": "",
                "first": fam["family"] != previous,
            }
        )
        previous = fam["family"]
    return rows


def fairness_rows(lst: OutreachList) -> list[dict[str, Any]]:
    """Return the fairness check's rows with the characteristics named in words."""
    rows: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in lst.fairness.to_dict("records")
    ]
    for r in rows:
        r["dimension"] = DIMENSION_NAMES.get(str(r["dimension"]), str(r["dimension"]))
    return rows


def _day_before(day: dt.date) -> str:
    return (day - dt.timedelta(days=1)).isoformat()


def guide(lst: OutreachList, card: Path, min_people: int) -> list[tuple[str, str]]:
    """Return the "How to read this list" text: (heading, paragraph) pairs."""
    shown = len(lst.families)
    short = "" if shown == lst.capacity else (
        f" Only {shown} families were eligible, so the list is shorter than the capacity."
    )  # fmt: skip
    return [
        ("What this list is",
         f"A prioritisation aid for early help outreach in {scope(lst)}. It ranks families "
         f"by how likely it is, given the records held on {lst.as_of.isoformat()}, that a "
         "child in the family has a section 47 enquiry, a child protection plan or becomes "
         "looked after in the next 12 months. It is not a judgement about any family and "
         "not a decision: a practitioner decides whether and how to offer help."),
        ("The score",
         "The family score is the highest score of its children: an estimated chance from "
         "0 to 1 (0.250 means that of 100 children with records like these, about 25 had "
         "such an escalation within 12 months). The band (1 to 10) says where the score "
         "falls among all children the model learnt from: band 10 is the highest tenth."),
        ("The reasons",
         "Up to three facts from the records that raised the family's score the most, "
         "across its children. They are statistical associations found in past records, "
         "not findings about this family and not causes; check them against the case "
         "records. Ethnicity, sex, disability, age, where the family lives and how many "
         "live in the household are never given as reasons (the model uses some of them, "
         "but they are nothing a practitioner can check or act on), and a fact is given "
         "only when it pushed the score the way a reviewer would expect."),
        ("Who is not on the list",
         f"Families in which anyone, on {lst.as_of.isoformat()}, is open to children's "
         "social care (a child in need plan, a child protection plan, looked after) or has "
         "an open referral (an assessment or a section 47 enquiry may be under way) are "
         f"left out: {lst.excluded_families:,} families ({lst.excluded_children:,} "
         "children). Early help does not approach a family in the middle of a statutory "
         "process. Children not known to any service in the previous 24 months are not "
         "scored."),
        ("Capacity",
         f"Capacity: {lst.capacity_rule}. The list holds {shown:,} of "
         f"{lst.eligible_families:,} eligible families ({lst.eligible_children:,} "
         f"children).{short} The model card's figures describe lists drawn this way."),
        ("Date",
         f"Only facts dated before {lst.as_of.isoformat()} are used (records up to "
         f"{_day_before(lst.as_of)})."),
        ("Model",
         f"{model_label(lst.model_version)}. Its model card (what it predicts, how well, "
         f"for whom it works less well, what it must not be used for): {card}"),
        ("Identifiers",
         "Families and children are shown by pseudonym only. The council's data team can "
         "match pseudonyms to the council's own records; write the case reference in the "
         "empty \"Council reference\" column."),
        ("Fairness check",
         "The \"Fairness check\" compares who is on the list with all eligible children, by "
         "group. A ratio well below 1 means a group is listed less often than the largest "
         "group: a prompt to look, not proof of bias. Groups with fewer than "
         f"{min_people} children are shown as \"{SUPPRESSED}\"."),
        ("Use",
         "Share the list only with the early help team. Do not contact a family only "
         "because of its rank, and never use the list to decide about a family without a "
         "practitioner's review."),
    ]  # fmt: skip


def summary(lst: OutreachList) -> list[str]:
    """Return the short summary printed after a run (counts only, never ids)."""
    return [
        f"Outreach list for {lst.as_of.isoformat()}, {scope(lst)}, "
        f"{model_label(lst.model_version)}",
        f"  cohort: {lst.cohort_children:,} children in {lst.cohort_families:,} families "
        f"({lst.scored_children:,} children scored)",
        f"  excluded (open to social care or an open referral): {lst.excluded_families:,} families "
        f"({lst.excluded_children:,} children)",
        f"  listed: {len(lst.families):,} of {lst.eligible_families:,} eligible families "
        f"({len(lst.children):,} children), capacity {lst.capacity:,}",
    ]
