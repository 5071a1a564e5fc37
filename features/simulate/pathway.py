"""The statutory pathway: referral, assessment, section 47, CIN and CP plans, care.

States per child: 0 not open, 1 referral open (assessment or enquiry under way),
2 child in need plan, 3 child protection plan, 4 looked after. Decisions use the
child's true need seen through assessment noise; re-referral and escalation are not
drawn directly but follow from adversity that persists after an episode closes.
"""

from __future__ import annotations

import numpy as np

from stratify.features.simulate.adversity import latent_matrix
from stratify.features.simulate.early_help import end_child_early_help
from stratify.features.simulate.factors import cp_category, primary_need
from stratify.features.simulate.params import SOURCES
from stratify.features.simulate.records import code
from stratify.features.simulate.world import World

NONE, ASSESS, CIN, CP, LAC = 0, 1, 2, 3, 4
#: transition log kinds, kept for ground truth labels (replicas have no records)
S47, CP_START, LAC_START, REFERRAL = 1, 2, 3, 4
CLOSED = 100  # + the RC number

_SOURCE_CODE = {
    "police": "6",
    "schools": "2A",
    "other": "8",
    "other_legal": "7",
    "education": "2B",
    "anonymous": "9",
    "unknown": "10",
    "housing": "4",
}


def _stamp(w: World, kids: np.ndarray, month_index: int, gap: int = 0) -> np.ndarray:
    """Date a new record in each child's episode: in month ``month_index``, never earlier."""
    p = w.persons
    day = np.maximum(w.day_in(month_index, len(kids)), p["last_day"][kids] + gap)
    # never past the month's end: what happens in month t is dated in month t (so the
    # final month's records never postdate the extract)
    day = np.minimum(day, w.month_end(month_index))
    p["last_day"][kids] = day
    return day


def _log(w: World, kind: int, kids: np.ndarray, day: np.ndarray) -> None:
    if w.log is not None and len(kids):
        w.log.append((kind, kids.copy(), np.asarray(day, np.int32).copy()))


def source_codes(w: World, kids: np.ndarray, src: np.ndarray, month_index: int) -> np.ndarray:
    """Return the DfE referral source code index for each referral's source group."""
    rng = w.rng
    age = w.age_months(month_index, kids) / 12
    out = np.empty(len(kids), np.int8)
    for g, name in enumerate(SOURCES):
        sel = src == g
        n = int(sel.sum())
        if name in _SOURCE_CODE:
            choices, prob = [_SOURCE_CODE[name]], [1.0]
        elif name == "health":
            choices, prob = ["3A", "3B", "3C", "3D", "3E", "3F"], [0.25, 0.2, 0.1, 0.15, 0.2, 0.1]
        elif name == "la_services":
            choices, prob = ["5A", "5B", "5C", "5D"], [0.45, 0.25, 0.15, 0.15]
        else:  # individual
            choices, prob = ["1A", "1B", "1C", "1D"], [0.55, 0.2, 0.1, 0.15]
        pick = rng.choice(len(choices), size=n, p=prob)
        c = np.array([code("referral_source", x) for x in choices], np.int8)[pick]
        if name == "health":  # health visitors see the youngest children
            c = np.where(age[sel] < 5, code("referral_source", "3B"), c)
        out[sel] = c
    return out


def refer(w: World, kids: np.ndarray, src_code: np.ndarray, month_index: int) -> None:
    """Open referrals for ``kids``: no further action, or an assessment (and maybe s47)."""
    if len(kids) == 0:
        return
    p, pp, rng = w.p, w.persons, w.rng
    day = w.day_in(month_index, len(kids))
    pp["last_day"][kids] = day
    pp["last_contact"][kids] = month_index
    _log(w, REFERRAL, kids, day)
    seen = pp["need"][kids] + rng.normal(0, p.assessment_noise, len(kids))
    nfa = rng.random(len(kids)) < 1 / (1 + np.exp(-(p.nfa_intercept + p.nfa_slope * seen)))
    lat = latent_matrix(w, kids)
    if w.rec is not None:
        need = primary_need(lat, nfa, rng)
        pp["ref"][kids] = w.rec.referrals.add(
            len(kids),
            person=kids,
            day=day,
            source=src_code,
            need=need,
            nfa=nfa,
            close=-1,
            reason=-1,
        )
    # no further action: closed within a few days
    shut = kids[nfa]
    close_day = np.minimum(
        day[nfa] + rng.integers(0, 3, len(shut)), w.month_end(month_index)
    ).astype(np.int32)
    pp["last_day"][shut] = close_day
    close_episode(w, shut, month_index, close_day, "RC8")
    # otherwise an assessment starts; a harm incident or grave concern starts an enquiry too
    go = kids[~nfa]
    pp["st"][go] = ASSESS
    pp["asmt_until"][go] = month_index + 1 + (rng.random(len(go)) < 0.25)
    start = _stamp(w, go, month_index)
    if w.rec is not None:
        pp["asmt"][go] = w.rec.assessments.add(
            len(go), ref=pp["ref"][go], person=go, start=start, auth=-1
        )
    urgent = (pp["incident"][go] & (rng.random(len(go)) < p.s47_on_incident)) | (
        seen[~nfa] > p.s47_above + 0.75
    )
    open_s47(w, go[urgent], month_index)


def open_s47(w: World, kids: np.ndarray, month_index: int) -> None:
    """Start section 47 enquiries (concluded next month)."""
    pp = w.persons
    kids = kids[pp["s47"][kids] < 0]
    if len(kids) == 0:
        return
    day = _stamp(w, kids, month_index)
    _log(w, S47, kids, day)
    pp["s47_until"][kids] = month_index + 1
    if w.rec is not None:
        pp["s47"][kids] = w.rec.s47.add(
            len(kids), ref=pp["ref"][kids], person=kids, start=day, icpc=-1
        )
    else:
        pp["s47"][kids] = 0


def close_episode(
    w: World, kids: np.ndarray, month_index: int, day: np.ndarray, reason: str
) -> None:
    """Close referral episodes (and anything still open in them) on ``day``."""
    if len(kids) == 0:
        return
    pp = w.persons
    _end_plan(w, kids, day)
    _log(w, CLOSED + int(reason[2:]), kids, day)
    if w.rec is not None:
        ref = pp["ref"][kids]
        ok = ref >= 0
        w.rec.referrals["close"][ref[ok]] = day[ok]
        w.rec.referrals["reason"][ref[ok]] = code("closure_reason", reason)
        open_asmt = pp["asmt"][kids]
        ok = (open_asmt >= 0) & (pp["asmt_until"][kids] >= 0)
        w.rec.assessments["auth"][open_asmt[ok]] = np.maximum(
            w.rec.assessments["start"][open_asmt[ok]], day[ok]
        )
    pp["st"][kids] = NONE
    pp["ref"][kids] = -1
    pp["s47"][kids] = -1
    pp["asmt"][kids] = -1
    pp["asmt_until"][kids] = -1
    pp["closed_m"][kids] = month_index
    pp["last_contact"][kids] = month_index


def _end_plan(w: World, kids: np.ndarray, day: np.ndarray) -> None:
    """End whatever plan or care episode each child is on, on ``day``."""
    pp = w.persons
    st = pp["st"][kids]
    if w.rec is not None:
        for state, store in ((CIN, w.rec.cin), (CP, w.rec.cp), (LAC, w.rec.lac)):
            sel = st == state
            store["end"][pp["plan"][kids[sel]]] = day[sel]
    pp["plan"][kids] = -1


def start_plan(w: World, kids: np.ndarray, month_index: int, state: int, day: np.ndarray) -> None:
    """Move children onto a CIN or CP plan, or into care, from ``day``."""
    if len(kids) == 0:
        return
    pp, rng = w.persons, w.rng
    _end_plan(w, kids, day)
    pp["st"][kids] = state
    pp["st_until"][kids] = month_index
    if state == CP:
        _log(w, CP_START, kids, day)
    if state == LAC:
        _log(w, LAC_START, kids, day)
        pp["lac_long"][kids] = rng.random(len(kids)) < w.p.lac_long_share
    if w.rec is None:
        pp["plan"][kids] = 0
        return
    ref = pp["ref"][kids]
    if state == CIN:
        pp["plan"][kids] = w.rec.cin.add(len(kids), ref=ref, person=kids, start=day, end=-1)
    elif state == CP:
        cat = cp_category(latent_matrix(w, kids), rng, w.p.cp_substance_neglect)
        pp["plan"][kids] = w.rec.cp.add(
            len(kids), ref=ref, person=kids, start=day, end=-1, category=cat
        )
    else:
        long = pp["lac_long"][kids]
        status = np.where(long, code("legal_status", "C2"), code("legal_status", "V2"))
        status = np.where(long & (rng.random(len(kids)) < 0.3), code("legal_status", "C1"), status)
        pp["plan"][kids] = w.rec.lac.add(len(kids), person=kids, start=day, end=-1, status=status)


def end_for_leaving(
    w: World, kids: np.ndarray, month_index: int, day: np.ndarray, reason: str
) -> None:
    """Close the open episodes of children leaving (turning 18 or moving away)."""
    pp = w.persons
    open_ = pp["st"][kids] != NONE
    k = kids[open_]
    d = np.maximum(day[open_], pp["last_day"][k])
    close_episode(w, k, month_index, d, reason)
    end_child_early_help(w, kids, day)
