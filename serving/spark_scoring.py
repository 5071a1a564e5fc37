"""Batch scoring on Spark: the champion scores a cohort where the feature table lives.

:func:`score_frame` runs the same :class:`~stratify.serving.scoring.Scorer` as the
service, inside ``mapInPandas`` (each executor scores its own partitions; the scorer is
shipped once per task), so only keys and scores leave the executors.
:func:`spark_outreach_list` builds one date's outreach list with the single-machine
list code (:func:`stratify.serving.outreach.ranking.build_list`): the driver receives
the cohort's keys, audit columns and scores, never its feature values, and reasons
(TreeSHAP) are computed on Spark for the children of the listed families only.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stratify.features.build.output import AUDIT_COLUMNS
from stratify.features.build.spark import Watchdog
from stratify.features.config import Capacity
from stratify.serving.outreach.ranking import OutreachList, build_list
from stratify.serving.reasons import TOP_REASONS, Reason
from stratify.serving.scoring import Scorer

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ERR_UNSCORED = "{n} of the children asked about are not in the Spark cohort"
ERR_DUPLICATE = "the Spark cohort has {n} children more than once: give one date's cohort"
#: The list's own columns of the feature table (the rest stays on the executors).
LIST_COLUMNS = ("target", "person_id", "as_of_date", "household_id", "eligible")
SCORE_SCHEMA = "person_id string, probability double, band long"
REASON_SCHEMA = "person_id string, reasons string"


def _scores(scorer: Scorer) -> Any:
    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            p, band = scorer.score(batch)
            yield pd.DataFrame(
                {"person_id": batch["person_id"].to_numpy(), "probability": p, "band": band}
            )

    return run


def _reasons(scorer: Scorer, top: int) -> Any:
    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            explained = scorer.explain(batch, top=top)
            text = [
                json.dumps([[r.feature, r.text, r.contribution] for r in rs]) for rs in explained
            ]
            yield pd.DataFrame({"person_id": batch["person_id"].to_numpy(), "reasons": text})

    return run


def score_frame(cohort: DataFrame, scorer: Scorer) -> DataFrame:
    """Return ``person_id``, ``probability`` and ``band`` of every row of ``cohort``.

    ``cohort`` holds the scorer's input columns (the feature table's, with any audit
    column the model reads joined in) and ``person_id``.
    """
    return cohort.mapInPandas(_scores(scorer), SCORE_SCHEMA)


class SparkScorer:
    """A scorer for :func:`~stratify.serving.outreach.ranking.build_list` over a Spark cohort.

    ``score`` scores the whole cohort on Spark once and answers in the order asked;
    ``explain`` computes reasons on Spark for the children asked about only. The cohort
    is one date's: a child appears once.
    """

    def __init__(self, scorer: Scorer, cohort: DataFrame, run: Watchdog) -> None:
        self.scorer, self.cohort, self.run = scorer, cohort, run
        self.version, self.columns = scorer.version, scorer.columns

    def _aligned(self, records: pd.DataFrame, got: pd.DataFrame) -> pd.DataFrame:
        if got["person_id"].duplicated().any():
            raise ValueError(ERR_DUPLICATE.format(n=int(got["person_id"].duplicated().sum())))
        out = records[["person_id"]].merge(got, on="person_id", how="left", validate="1:1")
        missing = int(out.iloc[:, 1].isna().sum())
        if missing:
            raise ValueError(ERR_UNSCORED.format(n=missing))
        return out

    def score(self, records: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Return the probabilities and bands of ``records`` (by ``person_id``)."""
        self.run.stage = "scoring the cohort"
        scored = self.run(lambda: score_frame(self.cohort, self.scorer).toArrow().to_pandas())
        out = self._aligned(records, scored)
        return out["probability"].to_numpy(np.float64), out["band"].to_numpy(np.int64)

    def explain(self, records: pd.DataFrame, top: int = TOP_REASONS) -> list[list[Reason]]:
        """Return the top reasons of ``records`` (by ``person_id``), computed on Spark."""
        from pyspark.sql import functions as F  # noqa: N812

        self.run.stage = "explaining the listed children"
        wanted = self.cohort.where(F.col("person_id").isin(list(records["person_id"])))
        frame = wanted.mapInPandas(_reasons(self.scorer, top), REASON_SCHEMA)
        got = self.run(lambda: frame.toArrow().to_pandas())
        out = self._aligned(records, got)
        return [[Reason(f, t, float(c)) for f, t, c in json.loads(s)] for s in out["reasons"]]


def spark_outreach_list(  # noqa: PLR0913  # build_list's arguments, and where the tables are
    session: SparkSession,
    features: Path | str,
    audit: Path | str,
    scorer: Scorer,
    *,
    as_of: dt.date,
    capacity: Capacity | int,
    locality: str | None = None,
    dimensions: Sequence[str] = (),
    min_people: int = 10,
    timeout: float = 1800.0,
) -> OutreachList:
    """Build ``as_of``'s outreach list with the champion scoring on Spark.

    Parameters
    ----------
    session : SparkSession
    features, audit : Path or str
        The escalation feature and audit tables (a Parquet file or folder of parts,
        e.g. what the Spark build wrote).
    scorer : Scorer
        The champion.
    as_of, capacity, locality, dimensions, min_people
        As for :func:`~stratify.serving.outreach.ranking.build_list`.
    timeout : float
        Seconds any one Spark action may take (:class:`~stratify.features.build.spark.Watchdog`).

    Returns
    -------
    OutreachList
        The list the single-machine path gives for the same cohort and champion.
    """
    from pyspark.sql import functions as F  # noqa: N812

    run = Watchdog(session, timeout)
    on_date = F.col("as_of_date") == F.lit(as_of)
    feats = session.read.parquet(str(features)).where(on_date)
    aud = session.read.parquet(str(audit)).where(on_date)
    extra = [c for c in scorer.columns if c not in feats.columns and c in aud.columns]
    cohort = feats.join(aud.select("person_id", *extra), "person_id") if extra else feats
    run.stage = "reading the cohort's keys and audit columns"
    keys = run(lambda: feats.select(*LIST_COLUMNS).orderBy("person_id").toArrow().to_pandas())
    audit_cols = ["person_id", *(c for c in AUDIT_COLUMNS if c in aud.columns)]
    people = run(lambda: aud.select(*audit_cols).orderBy("person_id").toArrow().to_pandas())
    return build_list(
        keys,
        people,
        SparkScorer(scorer, cohort, run),
        as_of=as_of,
        capacity=capacity,
        locality=locality,
        dimensions=dimensions,
        min_people=min_people,
    )
