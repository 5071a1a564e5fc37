"""Load CIN census XML returns into the warehouse: stream, check, merge, validate, write.

A file or a folder of yearly returns (``*.xml``). Each return is read by streaming
(:mod:`.cin_xml`), checked against its year (:mod:`.cin_years`, :mod:`.cin_checks`),
the years merged into one history (:mod:`.cin_merge`), and the merged rows go through
the same canonical validation, pseudonymisation and atomic write as the CSV path
(:mod:`.ingest`, :mod:`.validate`, :mod:`.store`). The census carries no households,
addresses, early help, care episodes or agency contacts: those tables load empty and
persons' area columns stay empty (:data:`SOURCES_ABSENT`).

Strict (the default): any error refuses the load and the warehouse is left as it was.
``quarantine=True``: children with errors are left out and listed; the rest load. A
file-level error (not XML, truncated, wrong namespace, unknown year) always refuses.
The report (:mod:`.report`) holds raw ids and is written beside the returns.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from stratify.core.progress import StageCallback
from stratify.features.schema import TABLES
from stratify.features.sources import META_ABSENT
from stratify.features.warehouse.cin_merge import RawRows, merge_returns
from stratify.features.warehouse.cin_xml import CensusReturn, read_return
from stratify.features.warehouse.ingest import (
    IngestError,
    LoadResult,
    Manifest,
    _scratch,
    extract_key,
    read_manifest,
    write_pseudonymised,
)
from stratify.features.warehouse.pseudonymise import key_fingerprint
from stratify.features.warehouse.report import Issue, errors_by_child, issue, write_report
from stratify.features.warehouse.validate import LINE, RULE_CROSS_DATE_ORDER, find_violations

ERR_NO_RETURNS = "{path}: no CIN census XML returns (*.xml) found"
ERR_REFUSED = (
    "the CIN returns have {errors} error(s) in {children} child record(s) and {files} "
    "file-level error(s); nothing was loaded"
)
#: Warehouse tables the census does not carry (they load empty) and why.
SOURCES_ABSENT = {
    "household_members": "the CIN census has no household links",
    "residences": "the CIN census has no addresses",
    "looked_after": "care episodes are in the SSDA903 return, not the CIN census",
    "early_help": "early help is outside the CIN census",
    "agency_events": "other agencies' contacts are outside the CIN census",
}
STAGE_READ = "reading the returns"
STAGE_VALIDATE = "validating"
STAGE_WRITE = "pseudonymising and writing the warehouse"
_CIN_PLAN_RULE = RULE_CROSS_DATE_ORDER.format(
    column="start_date", parent="referrals", parent_column="referral_date"
)
_LINE_RE = re.compile(r"line (\d+)\)?$")


class CinReturnsInvalid(IngestError):
    """The returns have errors and the load was refused; nothing was written."""

    def __init__(self, issues: Sequence[Issue], report: tuple[Path, Path], files: int) -> None:
        self.issues, self.report = list(issues), report
        errors = [i for i in issues if i.severity == "error"]
        children = len({i.child for i in errors if i.child})
        super().__init__(ERR_REFUSED.format(errors=len(errors), children=children, files=files))


@dataclass(frozen=True)
class CinLoadResult:
    """A CIN load: the warehouse written, the report and who was held back."""

    load: LoadResult
    issues: list[Issue]
    quarantined: list[str]
    report: tuple[Path, Path]
    years: list[int]


def return_files(src: Path) -> list[Path]:
    """Return the XML returns at ``src`` (the file, or a folder's ``*.xml``, sorted)."""
    src = Path(src)
    files = sorted(src.glob("*.xml")) if src.is_dir() else [src] if src.is_file() else []
    if not files:
        raise IngestError(ERR_NO_RETURNS.format(path=src))
    return files


def _arrow(rows: RawRows, keep: set[str] | None) -> dict[str, pa.Table]:
    """Each canonical table as all-text Arrow with ``LINE`` = 1-based index into its origin."""
    out = {}
    for t in TABLES:
        names = [("birth_date" if c == "birth_month" else c) for c in t.column_names]
        data, origin = rows.tables.get(t.name, []), rows.origin.get(t.name, [])
        idx = [i for i, o in enumerate(origin) if keep is None or o[2] in keep]
        cols = {LINE: pa.array([i + 1 for i in idx], pa.int64())}
        cols |= {n: pa.array([data[i].get(n) for i in idx], pa.string()) for n in names}
        out[t.name] = pa.table(cols)
    return out


def _register(con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table]) -> dict[str, str]:
    for name, table in tables.items():
        con.register(f"arrow_{name}", table)
        con.execute(f"CREATE OR REPLACE TABLE raw_{name} AS SELECT * FROM arrow_{name}")
        con.unregister(f"arrow_{name}")
    return {name: f"raw_{name}" for name in tables}


def _warehouse_issues(
    con: duckdb.DuckDBPyConnection, raw: dict[str, str], rows: RawRows
) -> list[Issue]:
    """Run the CSV path's canonical rules on the merged rows; trace them to file and line."""
    found = []
    for table, row_key, column, value, rule in find_violations(con, raw).fetchall():
        match = _LINE_RE.search(row_key)
        origin = rows.origin[table][int(match.group(1)) - 1] if match else ("", None, "")
        file, line, child = origin
        code = "4015" if (table, rule) == ("cin_plans", _CIN_PLAN_RULE) else "STR-WAREHOUSE"
        found.append(
            issue(file, line, table, child, column, value, code, "" if code == "4015" else rule)
        )
    return found


def _read_all(files: Sequence[Path]) -> tuple[list[CensusReturn], RawRows, list[Issue], int]:
    """Read and merge every return; count the file-level errors."""
    returns, issues, file_errors = [], [], 0
    for path in files:
        ret = read_return(path)
        issues += ret.issues
        if ret.ok:
            returns.append(ret)
        else:
            file_errors += 1
    rows, merged = merge_returns(returns)
    file_errors += sum(1 for i in merged if i.severity == "error" and not i.child)
    return returns, rows, issues + merged, file_errors


def _meta(
    returns: Sequence[CensusReturn], manifest: Manifest, key: bytes, years: list[int]
) -> dict[str, str]:
    meta = {
        "extract_date": dt.date(max(years), 3, 31).isoformat(),
        "synthetic": str(manifest.synthetic).lower(),
        "description": manifest.description or f"CIN census returns {years[0]}-{years[-1]}",
        "key_fingerprint": key_fingerprint(key),
        "source": "cin_census_xml",
        META_ABSENT: json.dumps(SOURCES_ABSENT),
    }
    la_codes = {r.la_code for r in returns if r.la_code}
    if manifest.la_code or len(la_codes) == 1:
        meta["la_code"] = manifest.la_code or la_codes.pop()
    return meta


def load_cin_returns(  # noqa: PLR0913 - the loader's options, all keyword-only
    src: Path,
    warehouse: Path,
    *,
    key: bytes | None = None,
    secret: str | None = None,
    quarantine: bool = False,
    progress: StageCallback | None = None,
) -> CinLoadResult:
    """Load CIN census XML returns into ``warehouse`` (replaced atomically, or untouched).

    Parameters
    ----------
    src : Path
        A return, or a folder of yearly returns (``*.xml``, optional ``extract.json``
        as for a CSV extract: ``synthetic``, ``description``).
    warehouse : Path
        The warehouse file.
    key, secret
        The pseudonymisation key, or the secret it is resolved from (as
        :func:`~stratify.features.warehouse.ingest.load_extract`).
    quarantine : bool
        Load the children without errors and list the others, instead of refusing.
    progress : callable, optional
        Called with each stage's name as it starts.

    Returns
    -------
    CinLoadResult

    Raises
    ------
    IngestError
        No returns at ``src``.
    CinReturnsInvalid
        Errors in strict mode, or a file-level error in any mode; the report is written.
    """
    files = return_files(Path(src))
    folder = Path(src) if Path(src).is_dir() else Path(src).parent
    manifest = read_manifest(folder)
    key = extract_key(key, secret, manifest)
    say = progress or (lambda stage: None)
    say(STAGE_READ)
    returns, rows, issues, file_errors = _read_all(files)
    title = f"stratify validation report: CIN census returns in {folder}"
    with _scratch() as con:
        say(STAGE_VALIDATE)
        raw = _register(con, _arrow(rows, None))
        bad = errors_by_child(issues)
        issues += [i for i in _warehouse_issues(con, raw, rows) if i.child not in bad]
        bad = errors_by_child(issues)
        if file_errors or (bad and not quarantine):
            report = write_report(issues, folder, title=title)
            raise CinReturnsInvalid(issues, report, file_errors)
        quarantined = sorted(bad)
        keep = {o[2] for o in rows.origin.get("persons", [])} - set(bad)
        raw = _register(con, _arrow(rows, keep))
        say(STAGE_WRITE)
        years = sorted(r.year.year for r in returns if r.year)
        meta = _meta(returns, manifest, key, years)
        load = write_pseudonymised(
            con, raw, warehouse, key=key, meta=meta, synthetic=manifest.synthetic
        )
    report = write_report(issues, folder, title=title, quarantined=quarantined)
    return CinLoadResult(load, issues, quarantined, report, years)
