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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from stratify.core.files import write_files_atomic
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


def metadata(
    features: pa.Table,
    target: Target,
    config: FeaturesConfig,
    date_range: tuple[dt.date, dt.date],
    *,
    meta: dict[str, str],
    feats: tuple[Feature, ...],
) -> dict[str, Any]:
    """Describe a built feature table: sizes, labels, dates, config and hashes."""
    label = features.column("label")
    eligible = features.column("eligible")
    counts = {
        "rows": features.num_rows,
        "labelled": len(label) - label.null_count,
        "positives": int(pc.sum(label).as_py() or 0),
        "eligible": int(pc.sum(eligible).as_py() or 0),
        "eligible_positives": int(pc.sum(pc.and_(eligible, pc.equal(label, 1))).as_py() or 0),
    }
    categories = {
        f.name: sorted(v for v in pc.unique(features.column(f.name)).to_pylist() if v)
        for f in feats
        if f.dtype == "category"
    }
    return describe(counts, categories, target, config, date_range, meta=meta, feats=feats)


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
