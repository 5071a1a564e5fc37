"""Month-by-month progress of open cases.

Assessments and enquiries conclude; plans continue, escalate or end; children come
into and leave care.
"""

from __future__ import annotations

import numpy as np

from stratify.features.simulate.adversity import latent_matrix, recent_matrix
from stratify.features.simulate.early_help import start_early_help
from stratify.features.simulate.factors import record_factors
from stratify.features.simulate.pathway import (
    ASSESS,
    CIN,
    CP,
    LAC,
    _stamp,
    close_episode,
    open_s47,
    start_plan,
)
from stratify.features.simulate.records import code
from stratify.features.simulate.world import World

MALE = code("sex", "1")


def casework_step(w: World, month_index: int) -> None:
    """Advance every open case by one month (order matters: enquiries before plans)."""
    pp = w.persons
    active = pp["active"]
    due = active & (pp["asmt_until"] >= 0) & (pp["asmt_until"] <= month_index)
    _conclude_assessments(w, month_index, np.flatnonzero(due))
    _conclude_s47(
        w, month_index, np.flatnonzero(active & (pp["s47"] >= 0) & (pp["s47_until"] <= month_index))
    )
    _cin_month(
        w, month_index, np.flatnonzero(active & (pp["st"] == CIN) & (pp["st_until"] < month_index))
    )
    _cp_month(
        w, month_index, np.flatnonzero(active & (pp["st"] == CP) & (pp["st_until"] < month_index))
    )
    _lac_month(
        w, month_index, np.flatnonzero(active & (pp["st"] == LAC) & (pp["st_until"] < month_index))
    )


def _seen(w: World, kids: np.ndarray) -> np.ndarray:
    return w.persons["need"][kids] + w.rng.normal(0, w.p.assessment_noise, len(kids))


def _conclude_assessments(w: World, month_index: int, kids: np.ndarray) -> None:
    """Authorise due assessments, record factors, and decide what happens next.

    The decision is left to the enquiry for children with a section 47 under way.
    """
    if len(kids) == 0:
        return
    p, pp, rng = w.p, w.persons, w.rng
    day = _stamp(w, kids, month_index, gap=1)
    pp["asmt_until"][kids] = -1
    if w.rec is not None:
        _record_assessments(w, month_index, kids, day)
    decide = (pp["st"][kids] == ASSESS) & (pp["s47"][kids] < 0)
    kids, day = kids[decide], day[decide]
    seen = _seen(w, kids)
    not_in_need = seen < p.not_in_need_below
    enquiry = seen > p.s47_above
    done, done_day = kids[not_in_need], day[not_in_need]
    to_eh = rng.random(len(done)) < p.step_down_to_eh
    close_episode(w, done[to_eh], month_index, done_day[to_eh], "RC9")
    start_early_help(w, pp["hh"][done[to_eh]], month_index, done_day[to_eh], stepped_down=True)
    close_episode(w, done[~to_eh], month_index, done_day[~to_eh], "RC8")
    plan = ~not_in_need & ~enquiry
    start_plan(w, kids[plan], month_index, CIN, day[plan])
    open_s47(w, kids[enquiry], month_index)


def _record_assessments(w: World, month_index: int, kids: np.ndarray, day: np.ndarray) -> None:
    p, pp = w.p, w.persons
    assert w.rec is not None
    asmt = pp["asmt"][kids]
    w.rec.assessments["auth"][asmt] = day
    other_adult = np.zeros(len(w.households), bool)
    other_adult[pp["hh"][pp["active"] & (pp["role"] == 2)]] = True
    rows, factors = record_factors(
        w.rng,
        latent_matrix(w, kids),
        recent_matrix(w, kids, month_index, p.factor_history_months),
        age=w.age_months(month_index, kids) / 12,
        male=pp["sex"][kids] == MALE,
        other_adult=other_adult[pp["hh"][kids]],
        noise=p.factor_noise,
        history=p.factor_history,
    )
    w.rec.factors.add(len(rows), assessment=asmt[rows], factor=factors)


def _conclude_s47(w: World, month_index: int, kids: np.ndarray) -> None:
    if len(kids) == 0:
        return
    p, pp, rng = w.p, w.persons, w.rng
    seen = _seen(w, kids)
    icpc = rng.random(len(kids)) < 1 / (1 + np.exp(-(p.icpc_intercept + p.icpc_slope * seen)))
    day = _stamp(w, kids, month_index, gap=1)
    if w.rec is not None:
        s47 = pp["s47"][kids]
        w.rec.s47["icpc"][s47[icpc]] = day[icpc]
    pp["s47"][kids] = -1
    st = pp["st"][kids]
    care = (seen > p.s47_above + 1.5) & (rng.random(len(kids)) < p.lac_from_s47) & (st != LAC)
    to_cp = icpc & (rng.random(len(kids)) < p.cp_after_icpc) & (st < CP) & ~care
    start_plan(w, kids[care], month_index, LAC, day[care])
    start_plan(w, kids[to_cp], month_index, CP, day[to_cp])
    rest = ~care & ~to_cp
    # no plan came of the enquiry: support under a CIN plan, or close if not in need
    open_no_plan = rest & (st == ASSESS)
    cin = open_no_plan & (seen >= p.not_in_need_below)
    start_plan(w, kids[cin], month_index, CIN, day[cin])
    shut = open_no_plan & ~cin
    unfinished = shut & (pp["asmt_until"][kids] >= 0)  # the assessment ends with the enquiry
    if w.rec is not None:
        _record_assessments(w, month_index, kids[unfinished], day[unfinished])
    pp["asmt_until"][kids[unfinished]] = -1
    close_episode(w, kids[shut], month_index, day[shut], "RC8")


def _cin_month(w: World, month_index: int, kids: np.ndarray) -> None:
    p, pp, rng = w.p, w.persons, w.rng
    escalate = pp["incident"][kids] & (rng.random(len(kids)) < p.cin_s47_on_incident)
    open_s47(w, kids[escalate], month_index)
    need = pp["need"][kids]
    end_rate = p.cin_end * np.where(need < p.in_need_threshold, 1.5, 0.6)
    end = ~escalate & (pp["s47"][kids] < 0) & (rng.random(len(kids)) < end_rate)
    teen_care = ~end & pp["teen"][kids] & (need > 1.5) & (rng.random(len(kids)) < p.lac_teen_s20)
    k = kids[end]
    close_episode(w, k, month_index, _stamp(w, k, month_index, gap=1), "RC7")
    k = kids[teen_care]
    start_plan(w, k, month_index, LAC, _stamp(w, k, month_index, gap=1))


def _cp_month(w: World, month_index: int, kids: np.ndarray) -> None:
    """Advance child protection plans a month: escalation to care, review conferences.

    Plans end at review conferences (the first within 3 months of the initial
    conference, then every 6 months: Working Together 2023), when the conference sees
    the risk of significant harm reduced (assessed need under ``cp_end_below``; under
    ``cp_first_review_below`` at the first review, as change must have lasted), or, for
    a plan over ``cp_long_months``, when it decides the plan has run its course (care
    proceedings, or a step down) with ``cp_long_end`` chance. Between reviews a child
    whose need stays grave comes into care. A plan ended is stepped down to a child in
    need plan or closed; adversity still present then is what brings a child back.
    """
    p, pp, rng = w.p, w.persons, w.rng
    months = month_index - pp["st_until"][kids]
    # the first review falls in the plan's third or fourth month, as the conference diary
    # allows (alternate children, so that no state is needed); then every few months
    first = p.cp_first_review + (kids + pp["st_until"][kids]) % 2
    review = (months == first) | ((months > first) & ((months - first) % p.cp_review_every == 0))
    seen = _seen(w, kids)
    long = months >= p.cp_long_months
    # the first review wants change that has lasted: a lower bar than later ones
    bar = np.where(months == first, p.cp_first_review_below, p.cp_end_below)
    ended = review & ((seen < bar) | (long & (rng.random(len(kids)) < p.cp_long_end)))
    grave = seen > p.s47_above
    # pre-proceedings work comes first: care between reviews only after the first review
    later = months > first
    care = (~ended & grave & later & (rng.random(len(kids)) < p.cp_care_hazard)) | (
        ended & long & grave
    )
    ended &= ~care
    # change achieved under a plan mostly lasts: the family is less prone to relapse
    w.households["frailty"][pp["hh"][kids[ended]]] *= p.cp_lasting_change
    cin = ended & (rng.random(len(kids)) < p.cp_to_cin)
    close = ended & ~cin
    for sel, state in ((care, LAC), (cin, CIN)):
        k = kids[sel]
        start_plan(w, k, month_index, state, _stamp(w, k, month_index, gap=1))
    k = kids[close]
    close_episode(w, k, month_index, _stamp(w, k, month_index, gap=1), "RC7")


def _lac_month(w: World, month_index: int, kids: np.ndarray) -> None:
    p, pp, rng = w.p, w.persons, w.rng
    long = pp["lac_long"][kids]
    end = rng.random(len(kids)) < np.where(long, p.lac_long_end, p.lac_short_end)
    k = kids[end]
    if len(k) == 0:
        return
    day = _stamp(w, k, month_index, gap=1)
    young = w.age_months(month_index, k) < 60
    u = rng.random(len(k))
    reason = np.where(
        long[end] & young & (u < 0.45),
        1,
        np.where(long[end] & (u < 0.25), 4, np.where(long[end] & (u < 0.35), 3, 7)),
    )
    for r in (1, 3, 4, 7):
        sel = reason == r
        close_episode(w, k[sel], month_index, day[sel], f"RC{r}")
    adopted = reason == 1  # adopted children leave their birth family's household
    w.end_people(k[adopted], day[adopted])
