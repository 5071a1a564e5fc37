"""A region to measure: several simulated boroughs, each with its own LA code, as one extract.

:func:`simulate_region` simulates ``boroughs`` boroughs of ``cfg.children`` children
each (seeds ``cfg.seed``, ``cfg.seed + 1``, ...), prefixes every identifier with the
borough's DfE LA code (``352-P00000123``) so that no two boroughs share a person,
household or record, names each locality after its borough ("Manchester North"), and
writes all of them as one CSV extract whose ``extract.json`` lists the LA codes. The
first ten boroughs are Greater Manchester's councils; more get made-up codes (9xx).
A region extract carries no ground-truth sample and no simulator state: it is for
measuring scale, not for the ceiling or for continuing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from stratify.core.files import remove_stale, replace_paths, temporary_sibling
from stratify.features.config import FeaturesConfig, SimulationConfig
from stratify.features.simulate.output import SimulationResult, write_extract

#: Greater Manchester's ten councils: DfE LA code and name.
GREATER_MANCHESTER = (
    ("350", "Bolton"),
    ("351", "Bury"),
    ("352", "Manchester"),
    ("353", "Oldham"),
    ("354", "Rochdale"),
    ("355", "Salford"),
    ("356", "Stockport"),
    ("357", "Tameside"),
    ("358", "Trafford"),
    ("359", "Wigan"),
)
ERR_BOROUGHS = "--boroughs must be between 1 and 99, got {n}"


def la_codes(boroughs: int) -> list[tuple[str, str]]:
    """Return ``boroughs`` (LA code, name) pairs: Greater Manchester's, then made-up ones."""
    if not 1 <= boroughs <= 99:
        raise ValueError(ERR_BOROUGHS.format(n=boroughs))
    made_up = [(f"9{i:02d}", f"Borough {i}") for i in range(len(GREATER_MANCHESTER) + 1, 100)]
    return [*GREATER_MANCHESTER, *made_up][:boroughs]


def relabel(tables: dict[str, pd.DataFrame], code: str, name: str) -> dict[str, pd.DataFrame]:
    """Return one borough's tables with identifiers and LSOAs under ``code``, localities named."""
    out = {}
    for table, frame in tables.items():
        frame = frame.copy()
        for col in frame.columns:
            if col.endswith("_id") or col == "lsoa":
                frame[col] = (code + "-" + frame[col].astype("string")).where(frame[col].notna())
            elif col == "locality":
                frame[col] = (name + " " + frame[col].astype("string")).where(frame[col].notna())
        out[table] = frame
    return out


def simulate_region(
    cfg: SimulationConfig,
    out: Path,
    boroughs: int,
    features: FeaturesConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> SimulationResult:
    """Simulate ``boroughs`` boroughs and write them as one extract into ``out/extract``.

    Returns
    -------
    SimulationResult
        The region's tables (no truth sample); ``seconds`` is the simulation time.
    """
    from stratify.features.simulate.run import run

    say = progress or (lambda _: None)
    parts: list[dict[str, pd.DataFrame]] = []
    seconds, extract_date = 0.0, cfg.end_date
    codes = la_codes(boroughs)
    for i, (code, name) in enumerate(codes):
        say(f"{name} ({code}), borough {i + 1} of {boroughs}")
        result = run(cfg.model_copy(update={"seed": cfg.seed + i}), features)
        parts.append(relabel(result.tables, code, name))
        seconds, extract_date = seconds + result.seconds, result.extract_date
    tables = {t: pd.concat([p[t] for p in parts], ignore_index=True) for t in parts[0]}
    region = SimulationResult(tables, pd.DataFrame(), extract_date, seconds, Path(out))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale(out, "extract")
    tmp = temporary_sibling(out / "extract")
    write_extract(region, tmp, cfg)
    manifest = json.loads((tmp / "extract.json").read_text())
    manifest["la_code"] = "+".join(code for code, _ in codes)
    manifest["description"] = (
        f"stratify synthetic region of {boroughs} boroughs ("
        + ", ".join(f"{n} {c}" for c, n in codes)
        + f"), {cfg.children} children each: "
        + manifest["description"]
    )
    (tmp / "extract.json").write_text(json.dumps(manifest, indent=2) + "\n")
    replace_paths({out / "extract": tmp})
    return region
