"""The feature build on Spark: the same Ibis definitions, kept tables that cut lineage.

:func:`build_on_spark` reads the warehouse exported as Parquet
(:mod:`stratify.features.warehouse.dataset`), runs :func:`~stratify.features.build.pipeline.plan`
unchanged on Ibis's PySpark backend, and writes the feature and audit tables with
Spark as folders of Parquet part files, with the metadata from Spark aggregates.
Three things differ from DuckDB, each handled here:

* a kept table is ``localCheckpoint(eager=True)`` plus a temporary view
  (:class:`SparkKeep`): ``Table.cache()`` would nest every kept plan in the next, until
  the plan string alone outgrows the driver, and on PySpark it skips Ibis's
  pre-execute hooks, so in-memory tables were never registered;
* Spark widens some types (``COALESCE(int8, 0)`` is an int), so every kept and written
  table is cast to the schema Ibis declares (the one DuckDB returns);
* every Spark action runs under a :class:`Watchdog`: a JVM failure or an action past
  ``features.spark.action_timeout_seconds`` becomes a :class:`SparkStageError` naming
  the build stage, instead of a ten-minute silent hang.
"""

from __future__ import annotations

import contextlib
import json
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from stratify.core.progress import StageCallback as Progress
from stratify.core.targets import Target
from stratify.features.build import cohorts
from stratify.features.build.facts import warehouse_schema
from stratify.features.build.output import describe, staged_outputs, stamped, summary
from stratify.features.build.pipeline import check_sources, extract_date_of, leave_out, plan
from stratify.features.catalogue import Feature
from stratify.features.config import FeaturesConfig, SparkConfig
from stratify.features.schema import TABLES
from stratify.features.warehouse import dataset

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ERR_NO_PYSPARK = (
    "features.backend is pyspark but PySpark is not installed: "
    "pip install 'stratify[spark]' (it needs Java 17)"
)
ERR_STAGE_TIMEOUT = (
    "Spark did not finish the build stage '{stage}' within {seconds:g} s "
    "(features.spark.action_timeout_seconds); its jobs were cancelled"
)
ERR_STAGE_FAILED = "Spark failed in the build stage '{stage}': {reason}"
ERR_STUCK = (
    "the Spark session is still stuck in the build stage '{stage}': restart the process "
    "(a driver out of memory? raise features.spark.driver_memory)"
)
#: Seconds a cancelled action is given to stop before the session counts as stuck.
CANCEL_GRACE_SECONDS = 10.0


class SparkStageError(RuntimeError):
    """A Spark action failed or timed out; the message names the build stage."""


def session_conf(settings: SparkConfig) -> dict[str, str]:
    """Return the Spark settings the build asks for (a cluster's own settings win)."""
    return {
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.driver.memory": settings.driver_memory,
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # A driver out of memory exits (the watchdog then names the stage) instead of
        # hanging in a half-dead JVM.
        "spark.driver.extraJavaOptions": "-XX:+ExitOnOutOfMemoryError",
    }


def spark_session(settings: SparkConfig) -> SparkSession:
    """Return the process's Spark session, started with ``settings`` if there is none."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkStageError(ERR_NO_PYSPARK) from None
    builder = SparkSession.builder.appName("stratify")
    if settings.master:
        builder = builder.master(settings.master)
    for key, value in session_conf(settings).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")  # errors reach the user through the watchdog
    if settings.master.startswith("local"):
        # Local Python workers (memtables, mapInPandas) run this interpreter, not
        # whatever `python3` is on PATH; a cluster's workers have their own.
        session.sparkContext.pythonExec = sys.executable
    return session


def _reason(err: BaseException) -> str:
    """Return the informative line of a Spark or Py4J error (the Java exception's)."""
    lines = [line.strip(" :\t") for line in str(err).splitlines() if line.strip(" :\t")]
    java = [line for line in lines if "Exception" in line or "Error" in line]
    return ((java or lines or [type(err).__name__])[0])[:300]


class _ActionThread:
    """One long-lived daemon thread that runs every Spark action of the process.

    One thread keeps one Py4J connection (a thread per action would leave a socket
    behind each time), and a daemon never holds the interpreter open behind a JVM
    that stopped answering.
    """

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def submit(self, action: Callable[[], Any]) -> Future[Any]:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._serve, name="stratify-spark", daemon=True
                )
                self.thread.start()
        done: Future[Any] = Future()
        self.jobs.put((action, done))
        return done

    def _serve(self) -> None:
        while True:
            action, done = self.jobs.get()
            try:
                done.set_result(action())
            except BaseException as err:  # handed to the waiting caller
                done.set_exception(err)


_ACTIONS = _ActionThread()


class Watchdog:
    """Run Spark actions with a timeout, turning JVM failures into errors naming the stage.

    Each action runs under a Spark job group on the action thread; past ``timeout``
    the group's jobs are cancelled and :class:`SparkStageError` is raised. ``stage``
    is the build stage the next action belongs to.
    """

    def __init__(self, session: SparkSession, timeout: float) -> None:
        self.session, self.timeout = session, timeout
        self.stage, self.stuck = "starting", False

    def __call__[T](self, action: Callable[[], T]) -> T:
        """Return what ``action`` returns, or raise :class:`SparkStageError`."""
        if self.stuck:
            raise SparkStageError(ERR_STUCK.format(stage=self.stage))
        stage, group = self.stage, f"stratify-{uuid.uuid4().hex[:12]}"
        context = self.session.sparkContext

        def work() -> T:
            context.setJobGroup(group, f"stratify: {stage}", interruptOnCancel=True)
            return action()

        done = _ACTIONS.submit(work)
        try:
            return done.result(self.timeout)
        except FutureTimeout:
            with contextlib.suppress(Exception):
                context.cancelJobGroup(group)
            with contextlib.suppress(Exception):
                done.exception(CANCEL_GRACE_SECONDS)
            self.stuck = not done.done()
            raise SparkStageError(
                ERR_STAGE_TIMEOUT.format(stage=stage, seconds=self.timeout)
            ) from None
        except Exception as err:
            raise _stage_error(stage, err) from err


def _stage_error(stage: str, err: BaseException) -> BaseException:
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    if isinstance(err, Py4JError | PySparkException):
        return SparkStageError(ERR_STAGE_FAILED.format(stage=stage, reason=_reason(err)))
    return err


def typed_frame(con: Any, expr: ir.Table) -> DataFrame:
    """Return ``expr`` as a Spark DataFrame cast to the schema Ibis declares for it.

    Registers the in-memory tables ``expr`` reads first (Ibis does so only in its own
    execute methods), and casts every column: Spark widens e.g. ``COALESCE`` of an int8
    to int, which Ibis, thinking the type unchanged, does not cast back. (A column
    Spark knows has no nulls, e.g. ``target``, is written as a required field.)
    """
    from ibis.backends.pyspark.datatypes import PySparkSchema
    from pyspark.sql import functions as F  # noqa: N812

    con._run_pre_execute_hooks(expr)
    schema = PySparkSchema.from_ibis(expr.schema())
    frame = con._session.sql(con.compile(expr))
    return frame.select(*(F.col(f"`{f.name}`").cast(f.dataType) for f in schema.fields))


class SparkKeep:
    """Keep intermediate tables on Spark as local checkpoints, and release them after.

    A kept table is computed once (``localCheckpoint(eager=True)``: its blocks stay on
    the executors, its lineage is cut) and read back through a temporary view, so the
    next plan starts from it rather than nesting its whole plan.
    """

    def __init__(self, con: Any, watchdog: Watchdog) -> None:
        self.con, self.run = con, watchdog
        self.views: list[str] = []
        self.before = self._checkpointed()

    def _checkpointed(self) -> set[int]:
        rdds = self.con._session.sparkContext._jsc.getPersistentRDDs()
        return {int(k) for k in rdds.keySet()}

    def __call__(self, expr: ir.Table) -> ir.Table:
        """Compute ``expr`` once on Spark and return a table reading the result."""
        frame = typed_frame(self.con, expr)
        kept = self.run(lambda: frame.localCheckpoint(eager=True))
        name = f"stratify_kept_{uuid.uuid4().hex[:12]}"
        kept.createOrReplaceTempView(name)
        self.views.append(name)
        return self.con.table(name)

    def release(self) -> None:
        """Drop the views and unpersist the checkpoints (not if the session is stuck)."""
        if self.run.stuck:
            return
        catalog = self.con._session.catalog
        while self.views:
            catalog.dropTempView(self.views.pop())
        rdds = self.con._session.sparkContext._jsc.getPersistentRDDs()
        for rdd_id in self._checkpointed() - self.before:
            rdds.get(rdd_id).unpersist(False)


def spark_tables(con: Any, path: Path) -> dict[str, ir.Table]:
    """Bind each warehouse table to the dataset's part files, as a temporary view."""
    from ibis.backends.pyspark.datatypes import PySparkSchema

    tables = {}
    for tab in TABLES:
        name = f"stratify_{tab.name}"
        # The schema is known (check_dataset checked it): no footer-reading job per table.
        schema = PySparkSchema.from_ibis(warehouse_schema(tab))
        con._session.read.schema(schema).parquet(str(path / tab.name)).createOrReplaceTempView(name)
        tables[tab.name] = con.table(name)
    return tables


def arrow(con: Any, expr: ir.Table) -> pa.Table:
    """Return a small result (a scalar, an aggregate) through Arrow, not pandas."""
    return typed_frame(con, expr).toArrow()


def _write(  # noqa: PLR0913  # what is written, where, and what describes it
    con: Any,
    run: Watchdog,
    exprs: tuple[ir.Table, ir.Table],
    out: Path,
    *,
    describe_as: Callable[[dict, dict], dict[str, Any]],
    feats: tuple[Feature, ...],
) -> dict[str, Any]:
    """Write the tables with Spark under temporary names, then move all three into place."""
    with staged_outputs(out) as staged:
        for expr, key in zip(exprs, ("features", "audit"), strict=True):
            frame = typed_frame(con, expr)
            run(partial(frame.write.parquet, str(staged[key]), compression="zstd"))
        run.stage = "metadata from Spark aggregates"
        written = con._session.read.parquet(str(staged["features"]))
        view = f"stratify_written_{uuid.uuid4().hex[:12]}"
        written.createOrReplaceTempView(view)
        try:
            about = describe_as(
                *summary(con.table(view), feats, lambda e: run(partial(arrow, con, e)))
            )
        finally:
            con._session.catalog.dropTempView(view)
        dates = about["date_range"]
        cohorts.require_points(about["target"], about["rows"], dates["start"], dates["end"])
        staged["metadata"].write_text(json.dumps(about, indent=2, sort_keys=True) + "\n")
    return about


def build_on_spark(  # noqa: PLR0913  # the build's inputs, where it writes, and the engine
    path: Path | str,
    target: Target,
    config: FeaturesConfig,
    out: Path | str,
    *,
    session: SparkSession | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Build ``target``'s family-context tables on Spark and write them into ``out``.

    Parameters
    ----------
    path : Path or str
        The warehouse exported as a Parquet dataset (``stratify export``).
    target : {"escalation", "rereferral"}
    config : FeaturesConfig
        As for the DuckDB build; ``config.spark`` starts the session if none is given.
    out : Path or str
        Receives ``features.parquet`` and ``audit.parquet`` (folders of Parquet part
        files, in decision-point order) and ``metadata.json``, each replaced only when
        all three are complete.
    session : SparkSession, optional
        The session to use (left running); otherwise one is started and stopped.
    progress : callable, optional
        Called with a short description as each stage starts.

    Returns
    -------
    dict
        The metadata written (as :func:`~stratify.features.build.pipeline.build` gives).

    Raises
    ------
    SparkStageError
        If a Spark action fails or outlasts ``config.spark.action_timeout_seconds``.
    """
    began, path, say = time.perf_counter(), Path(path), progress or (lambda _: None)
    say("opening the warehouse dataset")
    meta = dataset.check_dataset(path)
    extract_date = extract_date_of(path, meta)
    check_sources(target, meta)
    own = session is None
    session = session or spark_session(config.spark)
    con = ibis.pyspark.connect(session)
    run = Watchdog(session, config.spark.action_timeout_seconds)
    keep = SparkKeep(con, run)

    def stage(text: str) -> None:
        run.stage = text
        say(text)

    try:
        stage("reading the warehouse dataset")
        tables = run(lambda: spark_tables(con, path))
        (features, audit), dates = plan(
            tables,
            target,
            config,
            extract_date=extract_date,
            keep=keep,
            scalar=lambda e: run(lambda: arrow(con, e.as_table()).column(0)[0].as_py()),
            say=stage,
        )
        features, feats, groups = leave_out(features, target, meta)
        stage("writing the tables")

        def describe_as(counts: dict, categories: dict) -> dict[str, Any]:
            about = describe(counts, categories, target, config, dates, meta=meta, feats=feats)
            return stamped(about, groups, began)

        return _write(con, run, (features, audit), Path(out), describe_as=describe_as, feats=feats)
    finally:
        keep.release()
        if own and not run.stuck:
            session.stop()
