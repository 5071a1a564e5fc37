"""The demo's decisions loop: list, decisions, import, the borough's response, follow-up.

After the first quarter's lists are written, simulated managers
(:mod:`stratify.features.simulate.managers`, policy ``managers`` in the run config) fill
in the borough-wide list's Decisions sheet, as a team would, in a copy under
``<work>/outreach/<date>/returned/``; ``stratify decisions import`` records it. The
families that took help get early help in the continued borough
(:mod:`stratify.features.simulate.response`). A year after the list, the borough is
continued further (into ``<work>/sim-year``, loaded into a warehouse of its own so the
quarterly warehouse is left alone) and ``stratify follow-up`` reports on the list.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from rich.console import Console

from stratify.core.text import fmt_ci
from stratify.features.config import Config
from stratify.features.simulate.world import World
from stratify.serving.outreach.run import OutreachOutcome
from stratify.stages import file_key, key_of, run_stage

YEAR_DIR = "sim-year"
YEAR_WAREHOUSE = Path("follow-up") / "warehouse-year.duckdb"
SUBMITTER = "simulated early help manager (synthetic data)"


def returned_path(workbook: Path) -> Path:
    """Return where the simulated team's filled-in copy of a workbook goes."""
    return workbook.parent / "returned" / workbook.name


def first_quarter(cfg: Config) -> dt.date:
    """Return the date of the first quarter's lists (the first extract's latest snapshot)."""
    from stratify.serving.outreach.run import latest_snapshot

    meta = json.loads((cfg.work_dir / "sim" / "extract" / "extract.json").read_text())
    extract = dt.date.fromisoformat(meta["extract_date"])
    return latest_snapshot(extract, cfg.features.snapshot_months)


def decide_and_import(
    cfg: Config, outcomes: Sequence[OutreachOutcome], console: Console
) -> list[str]:
    """Fill in and import the first quarter's borough-wide list; return the decided list ids.

    Only the first quarter's list is decided (a later run of the demo writes the next
    quarter's lists here, which the loop leaves alone); the ids returned are those of
    every decided borough-wide list of that date, so a rerun follows the same list up.
    """
    from stratify.features.decisions import DecisionStore
    from stratify.features.simulate.managers import decide_list
    from stratify.serving.decisions import import_workbook, list_record
    from stratify.serving.decisions.sheet import fill

    store = DecisionStore.in_work(cfg.work_dir)
    first = first_quarter(cfg)
    for o in outcomes:
        lst = o.outreach
        # each locality's list is its part of the borough-wide one
        if lst.locality is not None or lst.as_of != first:
            continue
        record = list_record(lst.as_of, lst.locality, lst.model_version, lst.families)
        decisions = decide_list(cfg.work_dir, record.list_id, cfg.managers)
        returned = fill(o.workbook, decisions, returned_path(o.workbook))
        done = import_workbook(returned, store, submitted_by=SUBMITTER)
        console.print(f"- decisions on list {done.list_id} (simulated managers): "
                      f"{done.decided} of {done.families} families, {done.appended} recorded, "
                      f"{done.unchanged} unchanged")  # fmt: skip
        console.print(f"    {returned}")
    lists = store.lists()
    chosen = lists.loc[(pd.to_datetime(lists["as_of"]).dt.date == first) & lists["locality"].isna()]
    return [i for i in chosen["list_id"] if len(store.history(i))]


def taken_key(cfg: Config) -> str:
    """Return a key of the families that took help (the continued borough depends on it)."""
    from stratify.features.simulate.managers import help_taken

    return hashlib.sha256("\n".join(help_taken(cfg.work_dir)).encode()).hexdigest()[:16]


def response_hook(cfg: Config) -> Callable[[World, int], object]:
    """Return the continuation hook opening early help for the families that took it."""
    from stratify.features.simulate.managers import help_taken
    from stratify.features.simulate.response import open_help
    from stratify.features.warehouse.pseudonymise import resolve_key

    return open_help(help_taken(cfg.work_dir), resolve_key(cfg.pseudonym_secret, synthetic=True))


def follow_up_year(cfg: Config, list_ids: Sequence[str], console: Console) -> None:
    """Continue the borough to a year after the lists, load it aside, follow each list up.

    The year is continued from the first extract's simulation with the same response
    as the next quarter's (so its first months are the next quarter's, step for step):
    a continued simulation whose world was changed from outside cannot be replayed, so
    it is never continued again.
    """
    from stratify.features.build.cohorts import add_months
    from stratify.features.cli import load_warehouse
    from stratify.features.simulate import continue_simulation
    from stratify.training.followup import follow_up
    from stratify.training.followup.outcomes import FOLLOW_UP_MONTHS

    if not list_ids:
        return
    work = cfg.work_dir
    sim, year = work / "sim", work / YEAR_DIR
    first = first_quarter(cfg)
    extract = dt.date.fromisoformat(
        json.loads((sim / "extract" / "extract.json").read_text())["extract_date"]
    )
    seen = sum(add_months(first, m) <= extract + dt.timedelta(days=1) for m in range(1, 13))
    months = FOLLOW_UP_MONTHS - seen
    key = key_of(file_key(sim / "extract" / "extract.json"), months, taken_key(cfg))

    def simulate() -> None:
        shutil.rmtree(year, ignore_errors=True)
        continue_simulation(sim, months, year, cfg=cfg.simulation, features=cfg.features,
                            before_new_months=response_hook(cfg))  # fmt: skip

    run_stage(work, "simulate-follow-up-year", key, [year / "extract" / "extract.json"], simulate,
              say=console.print)  # fmt: skip
    warehouse = work / YEAR_WAREHOUSE
    quiet = Console(quiet=True)
    run_stage(work, "load-follow-up-year", key_of(key, file_key(year / "extract" / "extract.json")),
              [warehouse], lambda: load_warehouse(cfg, year / "extract", warehouse, console=quiet),
              say=console.print)  # fmt: skip
    for list_id in list_ids:
        show_follow_up(follow_up(cfg, list_id, warehouse=warehouse), console)


def show_follow_up(done: object, console: Console) -> None:
    """Print a follow-up's headline figures: contact rate, outcomes, largest disparity."""
    from stratify.training.followup import FollowUp

    assert isinstance(done, FollowUp)
    console.print(f"- follow-up of list {done.list_id} ({done.months_observed} months after it): "
                  f"{done.decided} of {done.families} families decided, contact rate "
                  f"{done.contact_rate:.1%}")  # fmt: skip
    for r in done.outcomes.to_dict("records"):
        console.print(f"    {r['decision']}: {r['families']} families; early help started "
                      f"{r['early_help']}, referral {r['referral']}, section 47 "
                      f"{r['section47']}, plan or care {r['plan_or_care']}",
                      highlight=False)  # fmt: skip
    top = done.largest_disparity
    if top is not None:
        ci = fmt_ci(top["difference"], top["difference_low"], top["difference_high"])
        flag = " (flagged)" if top["flagged"] else ""
        text = f"{top['dimension']} = {top['group']}: {ci}{flag}"
        console.print(f"    largest 'not appropriate' difference from the rest of the list: {text}",
                      highlight=False)  # fmt: skip
    console.print(f"    {done.labels.sentence()}", highlight=False)
    console.print(f"    {done.files['html']}")
