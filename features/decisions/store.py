"""The decisions database: every list written, and an append-only log of decisions.

``<work>/decisions.duckdb`` holds four tables:

- ``lists``: one row per list written (id, date, locality, model version, digest);
- ``list_families``: its families and their ranks;
- ``list_children``: its children and their audit attributes on the list date (for the
  follow-up's rates by group; never model inputs);
- ``decisions``: one row per decision recorded, never updated or deleted. A family's
  current decision is its latest row; a decision equal to the current one is not
  written again, so importing the same workbook twice changes nothing.

A list's id is derived from its content (date, locality, model version, families and
ranks), so writing the same list again gives the same id, and any change to a list
gives another. Every write is one transaction: all of it is recorded, or nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from stratify.features.decisions.codes import CONTACTED

DECISIONS_FILE = "decisions.duckdb"
#: The listed children's attributes kept for the follow-up's rates by group.
CHILD_ATTRIBUTES = ("ethnic_group", "sex", "has_disability", "age_band", "imd_quintile", "locality")
LOCK_WAIT_SECONDS = 20.0
ERR_CHANGED = "list {list_id} is already recorded with other families: it cannot be replaced"
ERR_LOCKED = "the decisions database {path} stayed locked by another writer for {seconds:.0f} s"
ERR_UNKNOWN = "unknown list id {list_id!r}: stratify wrote no such list"

_DDL = (
    """CREATE TABLE IF NOT EXISTS lists (list_id VARCHAR PRIMARY KEY, as_of DATE NOT NULL,
    locality VARCHAR, model_version INTEGER NOT NULL, families INTEGER NOT NULL,
    digest VARCHAR NOT NULL, written_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS list_families (list_id VARCHAR NOT NULL,
    rank INTEGER NOT NULL, family VARCHAR NOT NULL, locality VARCHAR,
    PRIMARY KEY (list_id, family))""",
    """CREATE TABLE IF NOT EXISTS list_children (list_id VARCHAR NOT NULL,
    family VARCHAR NOT NULL, child VARCHAR NOT NULL, ethnic_group VARCHAR, sex VARCHAR,
    has_disability BOOLEAN, age_band VARCHAR, imd_quintile INTEGER, locality VARCHAR,
    PRIMARY KEY (list_id, child))""",
    "CREATE SEQUENCE IF NOT EXISTS decision_seq",
    """CREATE TABLE IF NOT EXISTS decisions (seq BIGINT DEFAULT nextval('decision_seq'),
    list_id VARCHAR NOT NULL, family VARCHAR NOT NULL, decision VARCHAR NOT NULL,
    note VARCHAR, source VARCHAR NOT NULL, submitted_by VARCHAR NOT NULL,
    recorded_at TIMESTAMP NOT NULL)""",
)


class StoreError(RuntimeError):
    """The decisions database refused a write (a changed list, a lock held too long)."""


@dataclass(frozen=True)
class ListRecord:
    """A list as stratify wrote it: what a returned workbook or API call is checked against.

    Attributes
    ----------
    list_id : str
        ``L<yyyymmdd>-v<version>-<12 hex digits of the digest>``.
    as_of, locality, model_version
        The list's date, locality (None: all) and the model that ranked it.
    families : tuple of (int, str, str)
        ``(rank, family pseudonym, locality)`` by rank.
    digest : str
        SHA-256 of the date, locality, version, ranks and families.
    """

    list_id: str
    as_of: dt.date
    locality: str | None
    model_version: int
    families: tuple[tuple[int, str, str], ...]
    digest: str

    @classmethod
    def build(
        cls,
        as_of: dt.date,
        locality: str | None,
        model_version: int,
        families: Sequence[tuple[int, str, str]],
    ) -> ListRecord:
        """Return the record of a list, its id and digest derived from its content."""
        fams = tuple((int(r), str(f), str(loc)) for r, f, loc in families)
        text = f"{as_of.isoformat()}\n{locality or ''}\n{model_version}\n"
        text += "".join(f"{r}\t{f}\n" for r, f, _ in fams)
        digest = hashlib.sha256(text.encode()).hexdigest()
        list_id = f"L{as_of:%Y%m%d}-v{model_version}-{digest[:12]}"
        return cls(list_id, as_of, locality, model_version, fams, digest)

    @property
    def rank_of(self) -> dict[str, int]:
        """Each listed family's rank."""
        return {f: r for r, f, _ in self.families}


@dataclass(frozen=True)
class DecisionRow:
    """One family's decision as submitted (validated by the caller)."""

    family: str
    decision: str
    note: str = ""


class DecisionStore:
    """The decisions database at ``path`` (created on first write).

    Parameters
    ----------
    path : Path
        The DuckDB file, usually ``<work>/decisions.duckdb``.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def in_work(cls, work_dir: Path) -> DecisionStore:
        """Return the store of a working directory."""
        return cls(Path(work_dir) / DECISIONS_FILE)

    @contextmanager
    def _connect(self, *, write: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the database, waiting while another process holds its lock."""
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=not write)
                break
            except duckdb.IOException as err:
                if "lock" not in str(err).lower() or time.monotonic() > deadline:
                    if "lock" in str(err).lower():
                        raise StoreError(
                            ERR_LOCKED.format(path=self.path, seconds=LOCK_WAIT_SECONDS)
                        ) from None
                    raise
                time.sleep(0.05)
        try:
            if write:
                for statement in _DDL:
                    con.execute(statement)
            yield con
        finally:
            con.close()

    def exists(self) -> bool:
        """Whether any list has been recorded."""
        return self.path.is_file()

    def register(self, record: ListRecord, children: pd.DataFrame) -> bool:
        """Record a written list and its children; return False if it was already recorded.

        ``children`` has ``family``, ``child`` and :data:`CHILD_ATTRIBUTES`.

        Raises
        ------
        StoreError
            If the id is recorded with another digest (cannot happen unless the
            database was edited by hand).
        """
        with self._connect(write=True) as con:
            found = con.execute(
                "SELECT digest FROM lists WHERE list_id = ?", [record.list_id]
            ).fetchall()
            if found:
                if found[0][0] != record.digest:
                    raise StoreError(ERR_CHANGED.format(list_id=record.list_id))
                return False
            kids = children[["family", "child", *CHILD_ATTRIBUTES]].assign(list_id=record.list_id)
            fams = pd.DataFrame(list(record.families), columns=["rank", "family", "locality"])
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(
                    "INSERT INTO lists VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [record.list_id, record.as_of, record.locality, record.model_version,
                     len(record.families), record.digest, _now()],
                )  # fmt: skip
                con.register("_fams", fams.assign(list_id=record.list_id))
                con.execute("INSERT INTO list_families BY NAME SELECT * FROM _fams")
                con.register("_kids", kids)
                con.execute("INSERT INTO list_children BY NAME SELECT * FROM _kids")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return True

    def get_list(self, list_id: str) -> ListRecord:
        """Return a recorded list.

        Raises
        ------
        LookupError
            If no list has that id.
        """
        if not self.exists():
            raise LookupError(ERR_UNKNOWN.format(list_id=list_id[:60]))
        with self._connect(write=False) as con:
            head = con.execute(
                "SELECT as_of, locality, model_version, digest FROM lists WHERE list_id = ?",
                [list_id],
            ).fetchall()
            if not head:
                raise LookupError(ERR_UNKNOWN.format(list_id=list_id[:60]))
            fams = con.execute(
                "SELECT rank, family, locality FROM list_families WHERE list_id = ? ORDER BY rank",
                [list_id],
            ).fetchall()
        as_of, locality, version, digest = head[0]
        return ListRecord(list_id, as_of, locality, int(version), tuple(fams), digest)

    def append(
        self, list_id: str, rows: Sequence[DecisionRow], *, source: str, submitted_by: str
    ) -> int:
        """Append the decisions that differ from each family's current one; return how many.

        One transaction: every new row is written, or none.
        """
        with self._connect(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                current = _current(con, list_id)
                new = [r for r in rows if current.get(r.family) != (r.decision, r.note)]
                now = _now()
                if new:
                    con.executemany(
                        "INSERT INTO decisions (list_id, family, decision, note, source, "
                        "submitted_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [[list_id, r.family, r.decision, r.note, source, submitted_by, now]
                         for r in new],
                    )  # fmt: skip
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return len(new)

    def _frame(self, sql: str, params: Sequence[object] = ()) -> pd.DataFrame:
        with self._connect(write=False) as con:
            return con.execute(sql, list(params)).df()

    def history(self, list_id: str | None = None) -> pd.DataFrame:
        """Return every decision row (of one list, or all), oldest first."""
        where, params = ("WHERE list_id = ?", [list_id]) if list_id else ("", [])
        return self._frame(f"SELECT * FROM decisions {where} ORDER BY seq", params)

    def current(self, list_id: str) -> pd.DataFrame:
        """Return each listed family with its rank and latest decision (None: none yet)."""
        return self._frame(
            "SELECT f.rank, f.family, f.locality, d.decision, d.recorded_at "
            "FROM list_families f LEFT JOIN (SELECT * FROM decisions WHERE list_id = ? "
            "QUALIFY row_number() OVER (PARTITION BY family ORDER BY seq DESC) = 1) d "
            "USING (family) WHERE f.list_id = ? ORDER BY f.rank",
            [list_id, list_id],
        )

    def children(self, list_id: str) -> pd.DataFrame:
        """Return the list's children with their audit attributes."""
        return self._frame("SELECT * FROM list_children WHERE list_id = ? ORDER BY family, child",
                           [list_id])  # fmt: skip

    def lists(self) -> pd.DataFrame:
        """Return every recorded list (empty when nothing was recorded)."""
        if not self.exists():
            return pd.DataFrame(columns=["list_id", "as_of", "locality", "model_version"])
        return self._frame("SELECT * FROM lists ORDER BY as_of, list_id")

    def contacted(self) -> pd.DataFrame:
        """Return ``list_id``, ``as_of``, ``family`` of every currently contacted family.

        What the share of training labels touched by the lists is measured with.
        """
        if not self.exists():
            return pd.DataFrame(columns=["list_id", "as_of", "family"])
        marks = ", ".join("?" for _ in CONTACTED)
        return self._frame(
            "SELECT d.list_id, l.as_of, d.family FROM (SELECT * FROM decisions QUALIFY "
            "row_number() OVER (PARTITION BY list_id, family ORDER BY seq DESC) = 1) d "
            f"JOIN lists l USING (list_id) WHERE d.decision IN ({marks})",
            sorted(CONTACTED),
        )


def _current(con: duckdb.DuckDBPyConnection, list_id: str) -> dict[str, tuple[str, str]]:
    rows = con.execute(
        "SELECT family, decision, coalesce(note, '') FROM decisions WHERE list_id = ? "
        "QUALIFY row_number() OVER (PARTITION BY family ORDER BY seq DESC) = 1",
        [list_id],
    ).fetchall()
    return {f: (d, n) for f, d, n in rows}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
