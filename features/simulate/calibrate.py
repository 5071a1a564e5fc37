"""The calibration procedure: score candidate parameters against the tuned figures only.

``python -m stratify.features.simulate.calibrate '{"cp_end_below": 1.1}' --seeds 20261123 1 2``
simulates the default borough (no ground truth) at each seed with the given
:class:`~stratify.features.simulate.params.SimParams` overrides and prints, for every
figure parameters are tuned to, how many standard errors the simulation is from its
published range, seed by seed. The held-out figures (``realism_mechanisms.TUNED``
excludes them) are printed only with ``--show-checks``, and only after a candidate is
chosen; ``features/data/simulator_calibration.md`` gives the steps.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math

import pandas as pd

from stratify.features.config import SimulationConfig
from stratify.features.simulate.params import SimParams
from stratify.features.simulate.realism import PUBLISHED, compute_figures, realism_table
from stratify.features.simulate.realism_mechanisms import (
    TARGETS,
    TUNED,
    mechanism_figures,
    mechanism_table,
)
from stratify.features.simulate.run import run

#: The 51 figures of the main report were all tuned to (by hand, issue 2).
TUNED_MAIN = frozenset(f.key for f in PUBLISHED)


def _distance(value: float, se: float, low: float, high: float) -> float:
    """Return the standard errors from ``value`` to the range ``low``-``high`` (0 inside it)."""
    if math.isnan(value) or not se:
        return math.nan
    gap = low - value if value < low else value - high if value > high else 0.0
    return gap / se


def score(params: SimParams, seed: int, *, checks: bool = False) -> pd.DataFrame:
    """Score ``params`` at ``seed``: one row per figure, tuned ones (and checks if asked).

    Returns
    -------
    pandas.DataFrame
        Columns: key, tuned, simulated, published, result, z (standard errors outside
        the published range, mechanism figures only).
    """
    cfg = SimulationConfig(seed=seed, truth_sample=0)
    tables = run(cfg, params=params).tables
    main = realism_table(compute_figures(tables, cfg.end_date))
    main = main.assign(tuned=True)
    figures, _ = mechanism_figures(tables, cfg.end_date)
    mech = mechanism_table(figures)
    bounds = {t.key: (t.low, t.high) for t in TARGETS}
    mech["z"] = [
        _distance(v, figures.loc[k, "se"], *bounds[k])
        for k, v in zip(mech["key"], mech["simulated"], strict=True)
    ]
    cols = ["key", "tuned", "simulated", "published", "result"]
    out = pd.concat([main[cols], mech[[*cols, "z"]]], ignore_index=True)
    return out if checks else out[out["tuned"]]


def main(argv: list[str] | None = None) -> None:
    """Print the tuned figures of candidate parameters at each seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="?", default="{}", help="SimParams overrides, JSON")
    parser.add_argument("--seeds", type=int, nargs="+", default=[20261123, 1, 2])
    parser.add_argument("--show-checks", action="store_true", help="also the held-out figures")
    args = parser.parse_args(argv)
    params = dataclasses.replace(SimParams(), **json.loads(args.overrides))
    runs = {s: score(params, s, checks=args.show_checks).set_index("key") for s in args.seeds}
    first = runs[args.seeds[0]]
    table = first[["tuned", "published"]].copy()
    for s, r in runs.items():
        table[f"{s}"] = r["simulated"].round(1).astype(str) + " " + r["result"]
    pd.set_option("display.width", 200)
    pd.set_option("display.max_rows", 200)
    print(table.to_string())
    fails = sum(int((r["result"] == "FAIL").sum()) for r in runs.values())
    print(
        f"{fails} failures over {len(args.seeds)} seeds; tuned on {sorted(TUNED)} + the main table"
    )


if __name__ == "__main__":
    main()
