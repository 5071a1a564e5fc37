"""The quarterly report's follow-up: every earlier list whose 12-month window has matured.

A list's outcomes can be read in full once the records cover the 12 months after its
date: :func:`matured_lists` picks the lists of the decisions database whose window
ends on or before the extract date. :func:`followup_section` follows each of them up
(:func:`stratify.training.followup.follow_up`, which also writes the list's own
follow-up report) and returns the retraining report's section: what happened to the
families by decision, the contact rate, the groups managers set the list aside for more
often, and what the contacts mean for training labels. When no list has matured, it
says so plainly, and when the earliest one will.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import pandas as pd

from stratify.core.text import SUPPRESSED, fmt_ci
from stratify.features.build.cohorts import add_months
from stratify.features.config import Config
from stratify.features.decisions import DecisionStore
from stratify.features.labels import dimension_label, group_label
from stratify.training.card.formatting import md_table
from stratify.training.followup.outcomes import FOLLOW_UP_MONTHS, OUTCOME_NAMES, OUTCOMES
from stratify.training.followup.run import FollowUp, follow_up

#: The target whose outreach lists managers decide on (the decisions database's lists).
LISTED_TARGET = "escalation"
NO_LISTS = (
    "No outreach list has been recorded yet (no decisions database), so there is no "
    "follow-up to report."
)
NONE_MATURED = (
    "No outreach list has matured yet: outcomes are followed up {months} months after a "
    "list's date, and the records (extract of {extract}) do not cover that long for any of "
    "the {n} recorded lists. The earliest, of {first}, matures on {due}."
)


def matures_on(as_of: dt.date, months: int = FOLLOW_UP_MONTHS) -> dt.date:
    """Return the last day of a list's follow-up window (the records must reach it)."""
    return add_months(as_of, months) - dt.timedelta(days=1)


def matured_lists(
    lists: pd.DataFrame, extract: dt.date, months: int = FOLLOW_UP_MONTHS
) -> pd.DataFrame:
    """Return the lists (``list_id``, ``as_of``, ...) whose window ends by ``extract``."""
    as_of = pd.to_datetime(lists["as_of"]).dt.date
    done = [matures_on(d, months) <= extract for d in as_of]
    return lists.loc[done].sort_values(["as_of", "list_id"]).reset_index(drop=True)


def _cell(count: int, share: float) -> str:
    return f"{int(count)} ({float(share):.0%})"


def _outcomes(done: FollowUp, min_people: int) -> str:
    rows = []
    for r in done.outcomes.to_dict("records"):
        small = r["families"] < min_people
        rows.append([
            str(r["decision"]), SUPPRESSED if small else str(int(r["families"])),
            *(SUPPRESSED if small else _cell(r[o], r[f"{o}_share"]) for o in OUTCOMES),
        ])  # fmt: skip
    heads = ("Decision", "Families", *(OUTCOME_NAMES[o] for o in OUTCOMES))
    return md_table(heads, rows)


def _ci(row: Mapping[Hashable, Any], name: str) -> str:
    return fmt_ci(row[name], row[f"{name}_low"], row[f"{name}_high"])


def _flagged(done: FollowUp) -> str:
    rates = done.rates
    flagged = rates.loc[rates["flagged"].astype(bool)] if "flagged" in rates else rates.iloc[:0]
    if len(flagged) == 0:
        return "No group was set aside as not appropriate more often than the rest of the list."
    words = [
        f"{dimension_label(r['dimension'])}: {group_label(r['dimension'], r['group'])} (not "
        f"appropriate {_ci(r, 'not_appropriate')}; {_ci(r, 'difference')} above the rest)"
        for r in flagged.to_dict("records")
    ]
    return "Groups set aside as not appropriate more often than the rest: " + "; ".join(words) + "."


def _one(done: FollowUp, record: Mapping[Hashable, Any], min_people: int) -> list[str]:
    rate = "no decision yet" if not done.decided else f"{done.contact_rate:.0%} contacted"
    locality = record.get("locality")
    where = locality if isinstance(locality, str) and locality else "all localities"
    return [
        f"### List {done.list_id}",
        "",
        f"Dated {pd.Timestamp(str(record['as_of'])).date()}, "
        f"{where}, model version "
        f"{record['model_version']}: {done.decided} of {done.families} families have a "
        f"decision ({rate}); the records cover {done.months_observed} months after it.",
        "",
        _outcomes(done, min_people),
        "",
        _flagged(done),
        "",
        f"The list's own follow-up report: `{done.files['html']}`.",
        "",
    ]


def followup_section(
    cfg: Config, extract: dt.date, *, say: Callable[[str], object] | None = None
) -> str:
    """Return the retraining report's follow-up section (Markdown, no heading).

    Every list whose 12-month window has matured by ``extract`` is followed up against
    the current warehouse (which must hold the extract), oldest first.
    """
    store = DecisionStore.in_work(cfg.work_dir)
    lists = store.lists()
    if len(lists) == 0:
        return NO_LISTS
    ready = matured_lists(lists, extract)
    if len(ready) == 0:
        first = pd.to_datetime(lists["as_of"]).dt.date.min()
        return NONE_MATURED.format(months=FOLLOW_UP_MONTHS, extract=extract, n=len(lists),
                                   first=first, due=matures_on(first))  # fmt: skip
    parts = [
        f"{len(ready)} of the {len(lists)} recorded lists have matured: the records cover the "
        f"{FOLLOW_UP_MONTHS} months after each. Outcomes follow the decision and the help "
        "given: they describe what happened, not whether a decision was right. A decision "
        f"taken for fewer than {cfg.audit.min_people} families is shown as {SUPPRESSED}.",
        "",
    ]
    done = None
    for record in ready.to_dict("records"):
        if say:
            say(f"following up list {record['list_id']}")
        done = follow_up(cfg, str(record["list_id"]))
        parts += _one(done, record, cfg.audit.min_people)
    assert done is not None
    parts.append(done.labels.sentence())
    return "\n".join(parts)
