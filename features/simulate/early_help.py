"""Early help: family support below the statutory threshold, and how it ends.

Episodes are per household (one record per child in it). An episode that works
lowers the family's adversity; one that does not may be stepped up to a referral.
"""

from __future__ import annotations

import numpy as np

from stratify.features.simulate.params import HOUSEHOLD_LATENTS
from stratify.features.simulate.records import code
from stratify.features.simulate.store import unique_ids
from stratify.features.simulate.world import World

OUTCOME = {
    k: code("early_help_outcome", k) for k in ("needs_met", "stepped_up", "disengaged", "other")
}


def start_early_help(
    w: World, hh: np.ndarray, month_index: int, day: np.ndarray, *, stepped_down: bool = False
) -> None:
    """Open early help for households ``hh`` (those not already open) from ``day``."""
    h, pp, rng = w.households, w.persons, w.rng
    hh, first, _ = unique_ids(hh, len(h))
    day = np.asarray(day)[first]
    new = ~h["eh_open"][hh]
    hh, day = hh[new], day[new]
    if len(hh) == 0:
        return
    h["eh_open"][hh] = True
    h["eh_until"][hh] = month_index + 2 + rng.geometric(w.p.eh_end, len(hh))
    h["eh_eff"][hh] = rng.random(len(hh)) < w.p.eh_effective * h["engagement"][hh] / 0.57
    day_h = np.zeros(len(h), np.int32)
    day_h[hh] = day
    mask = np.zeros(len(h), bool)
    mask[hh] = True
    kids = w.children()
    kids = kids[mask[pp["hh"][kids]]]
    pp["last_contact"][kids] = month_index
    if w.rec is not None:
        pp["eh"][kids] = w.rec.early_help.add(
            len(kids),
            person=kids,
            hh=pp["hh"][kids],
            start=day_h[pp["hh"][kids]],
            end=-1,
            outcome=-1,
        )
    del stepped_down  # the route is not recorded: the extract only carries the outcome


def end_child_early_help(
    w: World, kids: np.ndarray, day: np.ndarray, outcome: str = "other"
) -> None:
    """End the early help records of ``kids`` (leaving, or the episode ending)."""
    pp = w.persons
    eh = pp["eh"][kids]
    ok = eh >= 0
    if w.rec is not None and ok.any():
        rec = w.rec.early_help
        rec["end"][eh[ok]] = np.maximum(day[ok], rec["start"][eh[ok]])
        rec["outcome"][eh[ok]] = OUTCOME[outcome]
    pp["eh"][kids] = -1


def early_help_step(
    w: World, month_index: int, kids: np.ndarray, open_statutory: np.ndarray
) -> np.ndarray:
    """End due episodes, open new ones; return children to refer as stepped up (5D)."""
    p, h, pp, rng = w.p, w.households, w.persons, w.rng
    hh = pp["hh"][kids]
    due = np.flatnonzero(h["eh_open"] & (h["eh_until"] <= month_index))
    need_h = np.zeros(len(h), np.float32)
    np.maximum.at(need_h, hh, pp["need"][kids])
    eff = h["eh_eff"][due]
    high = need_h[due] > 1.2
    up = ~eff & high & (rng.random(len(due)) < p.eh_step_up)
    gone = ~eff & ~up & (rng.random(len(due)) < p.eh_disengage / (1 - p.eh_effective))
    outcome = np.where(eff, 0, np.where(up, 1, np.where(gone, 2, 3)))
    names = ("needs_met", "stepped_up", "disengaged", "other")
    due_mask = np.zeros(len(h), np.int8) - 1
    due_mask[due] = outcome
    day_h = w.day_in(month_index, len(h))
    for i, name in enumerate(names):
        sel = kids[due_mask[hh] == i]
        end_child_early_help(w, sel, day_h[pp["hh"][sel]], name)
    h["eh_open"][due] = False
    for a in HOUSEHOLD_LATENTS:
        clear = eff & (rng.random(len(due)) < p.eh_clear)
        h[a][due[clear]] = False
    stepped = kids[(due_mask[hh] == 1) & ~open_statutory]
    # new episodes: agencies ask for family support when they see some need
    eligible = h["active"] & ~h["eh_open"]
    blocked = np.zeros(len(h), bool)
    blocked[hh[open_statutory]] = True
    rate = p.eh_rate * need_h * h["bias"]
    rate = rate * w.scenario.early_help_uptake(month_index, w.lsoa["locality"][h["lsoa"]])
    start = np.flatnonzero(eligible & ~blocked & (rng.random(len(h)) < rate))
    start_early_help(w, start, month_index, w.day_in(month_index, len(start)))
    return stepped
