"""How far the lists have touched the labels a model learns from.

Help given to a contacted family changes what happens next, so a decision point whose
family was contacted from a list dated inside the point's label window no longer has an
untouched label. :func:`touched_share` measures the share of such points among the
training decision points; the model card's limitations and the follow-up report state it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stratify.features.build.cohorts import add_months
from stratify.features.decisions import DecisionStore
from stratify.features.listing import family_of

STATEMENT = (
    "{touched:,} of {points:,} training decision points ({share}) belong to a family that "
    "was on an earlier outreach list and recorded as contacted within the point's "
    "{horizon}-month label window; the help given may have changed those labels."
)
NO_DECISIONS = (
    "No outreach list decisions were recorded before these training labels, so none of the "
    "{points:,} training decision points was touched by a contact from a list (measured)."
)


@dataclass(frozen=True)
class LabelTouch:
    """The measured share of training decision points touched by a list's contact."""

    points: int
    touched: int
    horizon_months: int
    decisions_recorded: bool

    @property
    def share(self) -> float:
        """Touched points over all points (0 when there are none)."""
        return self.touched / self.points if self.points else 0.0

    def sentence(self) -> str:
        """Return the statement the card and the follow-up report print."""
        if not self.decisions_recorded:
            return NO_DECISIONS.format(points=self.points)
        return STATEMENT.format(touched=self.touched, points=self.points,
                                share=f"{self.share:.2%}", horizon=self.horizon_months)  # fmt: skip


def touched(points: pd.DataFrame, contacted: pd.DataFrame, horizon_months: int) -> np.ndarray:
    """Return, per decision point, whether its family was contacted within its label window.

    ``points``: ``person_id``, ``household_id``, ``as_of_date``; ``contacted``: ``family``
    and the list's ``as_of``. A contact from a list dated ``L`` touches a point dated
    ``d`` when ``d <= L < d + horizon``.
    """
    if not len(points) or not len(contacted):
        return np.zeros(len(points), bool)
    fam = family_of(points["household_id"], points["person_id"])
    pts = pd.DataFrame({"i": np.arange(len(points)), "family": fam,
                        "d": pd.to_datetime(points["as_of_date"]).dt.date})  # fmt: skip
    pts["end"] = [add_months(d, horizon_months) for d in pts["d"]]
    hit = pts.merge(
        contacted.assign(L=pd.to_datetime(contacted["as_of"]).dt.date)[["family", "L"]],
        on="family",
    )
    hit = hit.loc[(hit["d"] <= hit["L"]) & (hit["L"] < hit["end"])]
    out = np.zeros(len(points), bool)
    out[hit["i"].to_numpy(dtype=np.int64)] = True
    return out


def touched_share(
    points: pd.DataFrame, contacted: pd.DataFrame, horizon_months: int, *, recorded: bool
) -> LabelTouch:
    """Return the measured :class:`LabelTouch` of ``points`` (see :func:`touched`).

    ``recorded``: whether any decision has been recorded at all.
    """
    hits = touched(points, contacted, horizon_months)
    return LabelTouch(len(points), int(hits.sum()), horizon_months, recorded)


def measure(work_dir: Path, points: pd.DataFrame, horizon_months: int) -> LabelTouch:
    """Measure ``points`` against the contacts recorded in ``work_dir``'s decisions database."""
    store = DecisionStore.in_work(work_dir)
    recorded = store.exists() and len(store.history()) > 0
    return touched_share(points, store.contacted(), horizon_months, recorded=recorded)
