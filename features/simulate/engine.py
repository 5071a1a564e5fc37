"""The monthly loop that ties demography, adversity, agencies and casework together."""

from __future__ import annotations

import numpy as np

from stratify.features.simulate.adversity import adversity_step, latent_matrix
from stratify.features.simulate.casework import casework_step
from stratify.features.simulate.detection import agency_events, referral_sources
from stratify.features.simulate.early_help import early_help_step
from stratify.features.simulate.pathway import CIN, CP, LAC, NONE, refer, source_codes
from stratify.features.simulate.population import demography
from stratify.features.simulate.records import code
from stratify.features.simulate.world import World

STEP_UP_SOURCE = code("referral_source", "5D")


def step(w: World, month_index: int) -> None:
    """Advance the borough ``w`` through month ``month_index``."""
    pp = w.persons
    if w.log is not None:
        w.log.clear()
    demography(w, month_index)
    adversity_step(w, month_index)
    kids = w.children()
    contact = np.zeros(len(pp), bool)
    if w.rec is not None:  # replicas record no agency events (nor draw for them)
        contact[kids[agency_events(w, month_index, kids, latent_matrix(w, kids))]] = True
    casework_step(w, month_index)
    kids = kids[pp["active"][kids]]
    st = pp["st"][kids]
    stepped = early_help_step(w, month_index, kids, np.isin(st, (CIN, CP, LAC)))
    _new_referrals(w, month_index, kids, stepped)
    st = pp["st"][kids]
    supported = np.zeros(len(w.households), bool)
    supported[pp["hh"][kids[(st == CIN) | (st == CP)]]] = True
    w.households["supported"][:] = supported
    protected = np.zeros(len(w.households), bool)
    protected[pp["hh"][kids[st == CP]]] = True
    w.households["protected"][:] = protected
    seen = (st != NONE) | (pp["eh"][kids] >= 0) | contact[kids]
    pp["last_contact"][kids[seen]] = month_index


def _new_referrals(w: World, month_index: int, kids: np.ndarray, stepped_up: np.ndarray) -> None:
    """Refer children agencies are concerned about, unless already open this month."""
    pp = w.persons
    src = referral_sources(w, kids, latent_matrix(w, kids), month_index)
    free = (pp["st"][kids] == NONE) & (pp["closed_m"][kids] != month_index)
    new = free & (src >= 0)
    still_free = np.zeros(len(pp), bool)
    still_free[kids[free & ~new]] = True
    up = stepped_up[still_free[stepped_up]]
    codes = source_codes(w, kids[new], src[new], month_index)
    refer(
        w,
        np.concatenate([kids[new], up]),
        np.concatenate([codes, np.full(len(up), STEP_UP_SOURCE, np.int8)]),
        month_index,
    )
