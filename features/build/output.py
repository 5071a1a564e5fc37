"""The build's outputs: the audit table, the metadata, and writing them atomically.

The audit table carries the protected characteristics (never model inputs) beside the
same keys as the feature table. :func:`write_build` writes each file under a temporary
name in the output folder and moves it into place with ``os.replace`` only when all
three are complete; ``metadata.json`` is replaced last, so a reader that finds it knows
the tables beside it are from the same build. No partial file is ever left.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from stratify.core.files import (
    fsync,
    remove_stale,
    replace_paths,
    temporary_sibling,
    write_files_atomic,
)
from stratify.core.targets import Target
from stratify.features.build.facts import left_join_on, whole_months
from stratify.features.catalogue import Feature, catalogue_hash
from stratify.features.codes import ETHNIC_GROUP
from stratify.features.config import FeaturesConfig

FEATURES_FILE, AUDIT_FILE, METADATA_FILE = "features.parquet", "audit.parquet", "metadata.json"


@dataclass(frozen=True)
class FeatureBuild:
    """What one build produced (not yet written): the two tables and the metadata."""

    features: pa.Table
    audit: pa.Table
    metadata: dict[str, Any]


KEY_COLUMNS = ("target", "person_id", "as_of_date", "household_id")
AUDIT_COLUMNS = (
    "ethnicity",
    "ethnic_group",
    "sex",
    "disability",
    "has_disability",
    "age_band",
    "imd_quintile",
    "locality",
)
#: DfE age bands: upper bound in whole months (exclusive) -> band.
AGE_BANDS = ((12, "<1"), (60, "1-4"), (120, "5-9"), (192, "10-15"))


def audit_table(points: ir.Table, persons: ir.Table, area: ir.Table, target: Target) -> ir.Table:
    """Return the audit attributes of each decision point, keyed like the features.

    Ethnicity and its DfE major group, sex, disability (and whether there is one), the
    DfE age band on the date (before birth: "<1"), and the IMD quintile and locality of
    the home on the date (``area`` from :func:`stratify.features.build.household.area_at`).
    """
    who = persons.select("person_id", "birth_month", "ethnicity", "sex", "disability")
    p = left_join_on(points.join(who, "person_id"), area, "dp_id")
    months = whole_months(p.birth_month, p.as_of_date)
    band = ibis.cases(*((months < top, name) for top, name in AGE_BANDS), else_="16+")
    return p.order_by("dp_id").select(
        target=ibis.literal(target),
        person_id=p.person_id,
        as_of_date=p.as_of_date,
        household_id=p.household_id,
        ethnicity=p.ethnicity,
        ethnic_group=p.ethnicity.substitute(dict(ETHNIC_GROUP), else_="Unknown"),
        sex=p.sex,
        disability=p.disability,
        has_disability=p.disability != "NONE",
        age_band=band,
        imd_quintile=((p.imd_decile + 1) // 2).cast("int8"),
        locality=p.locality,
    )


def summary(
    t: ir.Table, feats: tuple[Feature, ...], run: Callable[[ir.Table], pa.Table]
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Return the metadata's counts and categories of the feature table ``t``.

    Computed by the engine that holds ``t`` (one aggregate row, then one distinct
    column per category feature), never by collecting the table: ``run`` executes a
    small expression there and returns it through Arrow.
    """
    as_int = ibis.literal(1, "int64")
    row = t.aggregate(
        rows=t.count(),
        labelled=t.label.count(),
        positives=t.label.cast("int64").sum(),
        eligible=ibis.ifelse(t.eligible, as_int, 0).sum(),
        eligible_positives=ibis.ifelse(t.eligible & (t.label == 1), as_int, 0).sum(),
    )
    counts = {k: int(v or 0) for k, v in run(row).to_pylist()[0].items()}
    categories = {
        f.name: sorted(v for v in run(t.select(f.name).distinct()).column(0).to_pylist() if v)
        for f in feats
        if f.dtype == "category"
    }
    return counts, categories


@contextmanager
def staged_outputs(out: Path) -> Iterator[dict[str, Path]]:
    """Yield temporary names for the three outputs; move them into place if all went well.

    ``features``, ``audit`` and ``metadata`` -> a temporary sibling of the final file
    (or folder) in ``out``. When the block completes the staged outputs replace the
    final ones, metadata last; whatever the block left is removed in any case, so a
    failed build leaves the previous outputs as they were.
    """
    created = [d for d in (out, *out.parents) if not d.exists()]  # deepest first
    out.mkdir(parents=True, exist_ok=True)
    final = {"features": FEATURES_FILE, "audit": AUDIT_FILE, "metadata": METADATA_FILE}
    for name in final.values():
        remove_stale(out, name)
    staged = {key: temporary_sibling(out / name) for key, name in final.items()}
    try:
        yield staged
        for tmp in staged.values():
            if tmp.is_file():
                fsync(tmp)
        replace_paths({out / final[key]: tmp for key, tmp in staged.items()})
    except BaseException:
        _remove(staged.values())
        with suppress(OSError):  # not empty: something else wrote there meanwhile
            for folder in created:
                folder.rmdir()
        raise
    finally:
        _remove(staged.values())


def _remove(paths: Iterable[Path]) -> None:
    for tmp in paths:
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)


def describe(  # noqa: PLR0913  # the figures, and what the build was asked for
    counts: dict[str, int],
    categories: dict[str, list[str]],
    target: Target,
    config: FeaturesConfig,
    date_range: tuple[dt.date, dt.date],
    *,
    meta: dict[str, str],
    feats: tuple[Feature, ...],
) -> dict[str, Any]:
    """Return the metadata from the table's counts and categories, however computed.

    ``counts`` holds ``rows``, ``labelled``, ``positives``, ``eligible`` and
    ``eligible_positives``; ``categories`` each category feature's non-empty values.
    """
    labelled, positives = counts["labelled"], counts["positives"]
    return {
        "target": target,
        "rows": counts["rows"],
        "labelled": labelled,
        "unlabelled": counts["rows"] - labelled,
        "positives": positives,
        "base_rate": positives / labelled if labelled else None,
        "eligible": counts["eligible"],
        "eligible_positives": counts["eligible_positives"],
        "date_range": {"start": date_range[0].isoformat(), "end": date_range[1].isoformat()},
        "extract_date": meta.get("extract_date"),
        "config": config.model_dump(mode="json"),
        "warehouse_content_hash": meta.get("content_hash"),
        "catalogue_hash": catalogue_hash(),
        "features": [f.name for f in feats],
        "categories": categories,
    }


def stamped(about: dict[str, Any], groups: list[dict[str, Any]], began: float) -> dict[str, Any]:
    """Add the unavailable feature groups, the build's duration and time to ``about``."""
    return {
        **about,
        "unavailable": groups,
        "build_seconds": round(time.perf_counter() - began, 2),
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def write_build(result: FeatureBuild, out_dir: Path | str) -> dict[str, Path]:
    """Write ``features.parquet``, ``audit.parquet`` and ``metadata.json`` into ``out_dir``.

    Parameters
    ----------
    result : FeatureBuild
        What :func:`stratify.features.build.pipeline.build` returned.
    out_dir : Path or str
        Created if missing; files already there are replaced.

    Returns
    -------
    dict[str, Path]
        ``features``, ``audit`` and ``metadata`` -> the written paths.
    """
    out = Path(out_dir)
    final = {"features": out / FEATURES_FILE, "audit": out / AUDIT_FILE}
    final["metadata"] = out / METADATA_FILE
    text = json.dumps(result.metadata, indent=2, sort_keys=True) + "\n"
    write_files_atomic(
        {
            final["features"]: lambda tmp: pq.write_table(result.features, tmp, compression="zstd"),
            final["audit"]: lambda tmp: pq.write_table(result.audit, tmp, compression="zstd"),
            final["metadata"]: lambda tmp: tmp.write_text(text),
        }
    )
    return final
