"""A simulation's end state on disk, so that the same borough can be continued.

``<sim>/state/`` holds, without pickle:

- ``state.json``: the format version, the config, decision-point settings and rates
  used, the months simulated, the random stream (``bit_generator.state``), the world's
  scalars (target size, adversity onset rates, detection bias strength), the scenario
  timeline, the length of every record store at the rewind month, and the rewind
  month's random stream;
- ``world.npz``: the people, households, LSOAs and every record accumulated, as arrays
  (``persons/<column>``, ``households/<column>``, ``lsoa/<name>``,
  ``records/<store>/<column>``);
- ``rewind.npz``: the people and households at the start of the rewind month
  (``months - horizon``), the first month whose label window the extract does not
  complete. A continuation replays the world from there to sample ground truth in its
  new test window (:mod:`stratify.features.simulate.continuation`); records are not
  needed for that, as the simulation only ever reads the start dates of past records.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stratify.features.config import FeaturesConfig, SimulationConfig
from stratify.features.simulate.params import SimParams
from stratify.features.simulate.scenario import Timeline
from stratify.features.simulate.store import Store
from stratify.features.simulate.world import HOUSEHOLD_SPEC, PERSON_SPEC, World

FORMAT = 2  # 2: households gained "protected", SimParams the mechanisms of issue 15
STATE_DIR = "state"
#: The decision-point settings ground truth depends on (a continuation must keep them).
TRUTH_SETTINGS = ("horizon_months", "lookback_months", "snapshot_months")
ERR_NO_STATE = (
    "{folder} holds no saved state (state/state.json): only a simulation written by this"
    " version of stratify simulate can be continued"
)
ERR_FORMAT = "{folder}: saved state format {found}, this version reads format {expected}"
ERR_CORRUPT = "{folder}: the saved state cannot be read ({reason})"


class ContinuationError(ValueError):
    """A simulation that cannot be continued as asked (no state, another config...)."""


class StateError(ContinuationError):
    """A saved state that is missing, of another format, or unreadable."""


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    return json.loads(json.dumps(rng.bit_generator.state))  # a deep, JSON-proof copy


def generator(state: dict[str, Any]) -> np.random.Generator:
    """Return a generator continuing the stream whose ``bit_generator.state`` is ``state``."""
    bits = np.random.PCG64()  # the bit generator of np.random.default_rng
    bits.state = state  # type: ignore[assignment]  # refused if another generator's
    return np.random.Generator(bits)


@dataclass
class Snapshot:
    """The people and households at the start of one month, with the random stream."""

    month: int
    persons: dict[str, np.ndarray]
    households: dict[str, np.ndarray]
    rng: dict[str, Any]
    records: dict[str, int]

    @classmethod
    def take(cls, w: World, month_index: int) -> Snapshot:
        """Copy what a replay from the start of ``month_index`` needs."""
        assert w.rec is not None
        return cls(
            month_index,
            {k: v.copy() for k, v in w.persons.to_dict().items()},
            {k: v.copy() for k, v in w.households.to_dict().items()},
            _rng_state(w.rng),
            {name: len(store) for name, store in w.rec.stores().items()},
        )


@dataclass
class SavedState:
    """Everything :func:`save_state` wrote, read back."""

    config: SimulationConfig
    truth_settings: dict[str, int]
    params: SimParams
    month: int
    world: World
    rewind: Snapshot

    def truth_features(self, features: FeaturesConfig | None = None) -> FeaturesConfig:
        """Return ``features`` (default: the defaults) with the saved truth settings."""
        return (features or FeaturesConfig()).model_copy(update=self.truth_settings)


def _params_json(params: SimParams) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(params)))


def _params_from_json(data: dict[str, Any]) -> SimParams:
    defaults = SimParams()
    fixed: dict[str, Any] = {
        k: tuple(v) if isinstance(getattr(defaults, k, None), tuple) else v for k, v in data.items()
    }
    return SimParams(**fixed)


def save_state(
    folder: Path,
    w: World,
    *,
    month: int,
    cfg: SimulationConfig,
    features: FeaturesConfig,
    params: SimParams,
    rewind: Snapshot,
) -> None:
    """Write the world ``w`` after ``month`` months, and its ``rewind`` snapshot, to ``folder``."""
    assert w.rec is not None
    folder.mkdir(parents=True)
    arrays = {f"persons/{k}": v for k, v in w.persons.to_dict().items()}
    arrays.update({f"households/{k}": v for k, v in w.households.to_dict().items()})
    arrays.update({f"lsoa/{k}": v for k, v in w.lsoa.items()})
    for name, store in w.rec.stores().items():
        arrays.update({f"records/{name}/{k}": v for k, v in store.to_dict().items()})
    write_npz(folder / "world.npz", arrays)
    write_npz(
        folder / "rewind.npz",
        {
            **{f"persons/{k}": v for k, v in rewind.persons.items()},
            **{f"households/{k}": v for k, v in rewind.households.items()},
        },
    )
    meta = {
        "format": FORMAT,
        "config": cfg.model_dump(mode="json"),
        "truth_settings": {k: getattr(features, k) for k in TRUTH_SETTINGS},
        "params": _params_json(params),
        "start": w.start.isoformat(),
        "month": month,
        "rng": _rng_state(w.rng),
        "target_children": int(w.target_children),
        "bias_strength": float(w.bias_strength),
        "onset_base": {k: float(v) for k, v in w.onset_base.items()},
        "scenario": w.scenario.to_json(),
        "rewind": {"month": rewind.month, "rng": rewind.rng, "records": rewind.records},
    }
    (folder / "state.json").write_text(json.dumps(meta, indent=1) + "\n")


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as a compressed ``.npz`` (no pickle), the same bytes for the same arrays.

    ``np.savez_compressed`` stamps each member with the time of writing; a fixed stamp
    makes two continuations of one state byte-identical, state included.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            member = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(member, "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.asanyarray(value), allow_pickle=False)


def _group(arrays: Any, prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: arrays[k] for k in arrays.files if k.startswith(prefix)}


def saved_config(sim: Path) -> SimulationConfig:
    """Return the config a simulation folder was written with (its dates and scenario)."""
    path = Path(sim) / STATE_DIR / "state.json"
    if not path.is_file():
        raise StateError(ERR_NO_STATE.format(folder=sim))
    try:
        return SimulationConfig.model_validate(json.loads(path.read_text())["config"])
    except (OSError, KeyError, ValueError) as err:
        raise StateError(ERR_CORRUPT.format(folder=sim, reason=err)) from err


def load_state(sim: Path, months: int = 0) -> SavedState:
    """Read the state saved in ``sim/state``; the world's calendar gets ``months`` more months.

    Raises
    ------
    StateError
        If there is no state, or it is of another format or unreadable.
    """
    folder = Path(sim) / STATE_DIR
    if not (folder / "state.json").is_file():
        raise StateError(ERR_NO_STATE.format(folder=sim))
    try:
        meta = json.loads((folder / "state.json").read_text())
        if meta.get("format") != FORMAT:
            raise StateError(
                ERR_FORMAT.format(folder=sim, found=meta.get("format"), expected=FORMAT)
            )
        params = _params_from_json(meta["params"])
        with np.load(folder / "world.npz", allow_pickle=False) as arrays:
            w = World(
                params,
                dt.date.fromisoformat(meta["start"]),
                int(meta["month"]) + months,
                generator(meta["rng"]),
                capacity=16,
            )
            w.persons = Store.from_columns(PERSON_SPEC, _group(arrays, "persons/"))
            w.households = Store.from_columns(HOUSEHOLD_SPEC, _group(arrays, "households/"))
            w.lsoa = _group(arrays, "lsoa/")
            assert w.rec is not None
            for name, store in w.rec.stores().items():
                setattr(
                    w.rec, name, Store.from_columns(store.spec, _group(arrays, f"records/{name}/"))
                )
        with np.load(folder / "rewind.npz", allow_pickle=False) as arrays:
            rewind = Snapshot(
                int(meta["rewind"]["month"]),
                _group(arrays, "persons/"),
                _group(arrays, "households/"),
                meta["rewind"]["rng"],
                {k: int(v) for k, v in meta["rewind"]["records"].items()},
            )
        w.target_children = int(meta["target_children"])
        w.bias_strength = float(meta["bias_strength"])
        w.onset_base = {k: float(v) for k, v in meta["onset_base"].items()}
        w.scenario = Timeline.from_json(meta["scenario"])
        cfg = SimulationConfig.model_validate(meta["config"])
    except StateError:
        raise
    except (OSError, KeyError, TypeError, ValueError) as err:
        raise StateError(ERR_CORRUPT.format(folder=sim, reason=err)) from err
    settings = {k: int(meta["truth_settings"][k]) for k in TRUTH_SETTINGS}
    return SavedState(cfg, settings, params, int(meta["month"]), w, rewind)


def rewound(state: SavedState) -> World:
    """Return the saved world as it was at the start of the rewind month.

    Its records are the saved ones cut to their length at that month (rows written
    later and changes to older rows' end dates are not undone: the simulation never
    reads them), so that the records a replay adds get the same indices as before.
    """
    w, snap = state.world, state.rewind
    assert w.rec is not None
    out = World(state.params, w.start, w.months, generator(snap.rng), capacity=16)
    out.persons = Store.from_columns(PERSON_SPEC, snap.persons)
    out.households = Store.from_columns(HOUSEHOLD_SPEC, snap.households)
    assert out.rec is not None
    for name, store in w.rec.stores().items():
        setattr(out.rec, name, store.head(snap.records[name]))
    out.lsoa, out.onset_base = w.lsoa, w.onset_base
    out.target_children, out.bias_strength = w.target_children, w.bias_strength
    out.scenario = w.scenario
    return out


def same_world(a: World, b: World) -> list[str]:
    """Return the names of the arrays (and the random stream) where ``a`` and ``b`` differ."""
    assert a.rec is not None and b.rec is not None
    pairs = [("persons", a.persons, b.persons), ("households", a.households, b.households)]
    pairs += [(f"records/{k}", s, b.rec.stores()[k]) for k, s in a.rec.stores().items()]
    differ = [
        f"{where}/{col}"
        for where, x, y in pairs
        for col in x.spec
        if len(x) != len(y) or not np.array_equal(x[col], y[col])
    ]
    if _rng_state(a.rng) != _rng_state(b.rng):
        differ.append("rng")
    return differ
