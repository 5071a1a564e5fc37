"""Continuing a simulated borough: the same world, the past unchanged, the streams saved.

A small borough (2,500 children, 3 years ending 31 March 2025) is simulated once and
continued by a quarter to 30 June 2025. "Unchanged" is checked on the CSV files
themselves: every row of the first extract that was closed by its date (all its end
dates filled; agency events and factors always) is the same line, byte for byte, at the
same position of the continued extract; a row still open may only have had its empty
cells filled (a closure, an end date), plus a person's current address.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stratify.features.config import FeaturesConfig, ScenarioConfig, SimulationConfig
from stratify.features.simulate import (
    ContinuationError,
    SimParams,
    continue_simulation,
    run,
    simulate,
)
from stratify.features.simulate.state import load_state

SMALL = SimulationConfig(
    children=2500, years=3, burn_in_years=1, truth_sample=100, truth_replicates=10, seed=11
)
FIRST, NEXT = dt.date(2025, 3, 31), dt.date(2025, 6, 30)
#: per table, the columns a row still open at the extract date has empty
OPEN_COLUMNS = {
    "household_members": ["end_date"],
    "residences": ["end_date"],
    "referrals": ["closure_date", "closure_reason"],
    "assessments": ["authorised_date"],
    "assessment_factors": [],
    "section47": ["icpc_date"],
    "cin_plans": ["end_date"],
    "cp_plans": ["end_date"],
    "looked_after": ["end_date"],
    "early_help": ["end_date", "outcome"],
    "agency_events": [],
}
ADDRESS = ("lsoa", "imd_decile", "locality")


@pytest.fixture(scope="module")
def sims(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root holding ``sim`` (the first run) and ``sim-2025-06-30`` (its continuation)."""
    root = tmp_path_factory.mktemp("continue")
    simulate(SMALL, root / "sim")
    result = continue_simulation(root / "sim", 3)
    assert result.folder == root / f"sim-{NEXT.isoformat()}"
    return root


def _rows(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _closed(first: Path, table: str) -> np.ndarray:
    """Whether each row of ``table`` in the extract ``first`` was closed at its date."""
    frame = pd.read_csv(first / f"{table}.csv", dtype=str, keep_default_na=False)
    if table == "persons":  # someone with no household membership still open
        members = pd.read_csv(first / "household_members.csv", dtype=str, keep_default_na=False)
        open_people = set(members.loc[members["end_date"] == "", "person_id"])
        return ~frame["person_id"].isin(open_people).to_numpy()
    closed = np.ones(len(frame), bool)
    for column in OPEN_COLUMNS[table]:
        closed &= (frame[column] != "").to_numpy()
    return closed


def assert_past_unchanged(first: Path, second: Path) -> int:
    """Check the continued extract ``second`` keeps ``first``'s past; return rows now closed."""
    filled = 0
    for path in sorted(first.glob("*.csv")):
        a, b = _rows(path), _rows(second / path.name)
        assert a[0] == b[0] and len(b) >= len(a), path.name
        closed = _closed(first, path.stem)
        header = next(csv.reader([a[0]]))
        for i, was_closed in enumerate(closed, start=1):
            if was_closed:
                assert a[i] == b[i], (path.name, i)
                continue
            old, new = next(csv.reader([a[i]])), next(csv.reader([b[i]]))
            for column, x, y in zip(header, old, new, strict=True):
                assert x in ("", y) or (path.stem == "persons" and column in ADDRESS), (
                    path.name,
                    i,
                    column,
                )
            filled += a[i] != b[i]
    return filled


def test_the_first_extract_is_dated_within_its_window(sims):
    meta = json.loads((sims / "sim" / "extract" / "extract.json").read_text())
    assert meta["extract_date"] == FIRST.isoformat()
    for path in (sims / "sim" / "extract").glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for column in [c for c in frame if c.endswith("_date") and c != "birth_date"]:
            dates = frame.loc[frame[column] != "", column]
            assert (dates <= FIRST.isoformat()).all(), (path.name, column)


def test_rows_closed_at_the_first_extract_date_are_unchanged(sims):
    first, second = sims / "sim" / "extract", sims / f"sim-{NEXT}" / "extract"
    assert json.loads((second / "extract.json").read_text())["extract_date"] == NEXT.isoformat()
    filled = assert_past_unchanged(first, second)
    assert filled > 20  # open referrals, plans and memberships did end in the new quarter
    refs = pd.read_csv(second / "referrals.csv")
    assert refs["referral_date"].max() > FIRST.isoformat()
    assert refs["referral_date"].max() <= NEXT.isoformat()


def test_continuing_twice_from_one_state_is_byte_identical(sims, tmp_path):
    again = continue_simulation(sims / "sim", 3, tmp_path / "again")
    assert again.folder == tmp_path / "again"
    ours = sims / f"sim-{NEXT}"
    names = sorted(p.relative_to(ours) for p in ours.rglob("*") if p.is_file())
    assert names == sorted(
        p.relative_to(again.folder) for p in again.folder.rglob("*") if p.is_file()
    )
    assert {n.parts[0] for n in names} == {"extract", "truth", "state", "cin_xml", "ssd"}
    for name in names:
        assert (ours / name).read_bytes() == (again.folder / name).read_bytes(), name


def test_the_state_holds_no_pickle(sims):
    state = sims / "sim" / "state"
    meta = json.loads((state / "state.json").read_text())
    assert meta["month"] == 48 and meta["rewind"]["month"] == 36  # 4 years; 12-month horizon
    assert meta["rng"]["bit_generator"] == "PCG64"
    for name in ("world.npz", "rewind.npz"):
        with np.load(state / name, allow_pickle=False) as arrays:  # object arrays would fail
            assert all(arrays[k].dtype != object for k in arrays.files)
    assert "records/referrals/close" in np.load(state / "world.npz").files
    saved = load_state(sims / "sim")
    assert saved.params == SimParams() and saved.config == SMALL


def _truth(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / "truth" / "decision_points.parquet")


def test_truth_is_sampled_in_the_new_test_window(sims):
    before, after = _truth(sims / "sim"), _truth(sims / f"sim-{NEXT}")
    # label windows complete by 30 June 2025: decision points up to 30 June 2024
    assert after["as_of_date"].min() >= dt.date(2023, 7, 1)
    assert after["as_of_date"].max() <= dt.date(2024, 6, 30)
    assert dt.date(2024, 4, 1) in set(after.loc[after.target == "escalation", "as_of_date"])
    assert (after["as_of_date"] >= dt.date(2024, 4, 1)).sum() > 30
    # the months both windows hold keep the first run's sample, unchanged
    overlap = before[before["as_of_date"] >= dt.date(2023, 7, 1)].reset_index(drop=True)
    kept = after[after["as_of_date"] < dt.date(2024, 4, 1)].reset_index(drop=True)
    pd.testing.assert_frame_equal(overlap, kept)


def test_a_continuation_continues(sims, tmp_path):
    """A continuation's own state carries the borough on, its past unchanged again."""
    later = continue_simulation(sims / f"sim-{NEXT}", 3, tmp_path / "later")
    assert later.extract_date == dt.date(2025, 9, 30)
    assert_past_unchanged(sims / f"sim-{NEXT}" / "extract", tmp_path / "later" / "extract")
    assert _truth(tmp_path / "later")["as_of_date"].max() <= dt.date(2024, 9, 30)
    need = pd.read_parquet(tmp_path / "later" / "truth" / "need.parquet")
    assert need["month"].min() == dt.date(2021, 4, 1) and need["month"].max() == dt.date(2025, 9, 1)


def test_another_config_is_refused_naming_what_differs(sims, tmp_path):
    with pytest.raises(ContinuationError, match="seed: 11 saved, 12 given"):
        continue_simulation(
            sims / "sim", 3, tmp_path / "x", cfg=SMALL.model_copy(update={"seed": 12})
        )
    other = SMALL.model_copy(update={"children": 2600, "truth_sample": 50})
    with pytest.raises(ContinuationError, match="children: 2500 saved, 2600 given; truth_sample"):
        continue_simulation(sims / "sim", 3, tmp_path / "x", cfg=other)
    with pytest.raises(ContinuationError, match="horizon_months: 12 saved, 6 given"):
        continue_simulation(
            sims / "sim", 3, tmp_path / "x", features=FeaturesConfig(horizon_months=6)
        )
    with pytest.raises(ContinuationError, match="rates"):
        continue_simulation(sims / "sim", 3, tmp_path / "x", params=SimParams(move_rate=0.01))
    with pytest.raises(ContinuationError, match="holds no saved state"):
        continue_simulation(tmp_path, 3)
    assert not (tmp_path / "x").exists()
    # the same config with another end date and a scenario is the same borough
    same = SMALL.model_copy(update={"end_date": dt.date(2024, 3, 31)})
    assert continue_simulation(sims / "sim", 1, tmp_path / "ok", cfg=same).extract_date == dt.date(
        2025, 4, 30
    )


def test_only_a_continuation_may_end_on_another_day_than_31_march():
    with pytest.raises(ValueError, match="31 March"):
        SimulationConfig(end_date=NEXT)
    cfg = SimulationConfig(end_date=NEXT, continued_from=FIRST)
    assert cfg.end_date == NEXT
    with pytest.raises(ValueError, match="month's last day after continued_from"):
        SimulationConfig(end_date=dt.date(2025, 6, 29), continued_from=FIRST)


def test_a_failed_continuation_leaves_nothing(sims, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    module = sys.modules["stratify.features.simulate.run"]  # the package's `run` is the function
    monkeypatch.setattr(module, "write_truth", broken)
    with pytest.raises(OSError, match="disk full"):
        continue_simulation(sims / "sim", 3, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_a_replay_that_drifts_from_the_saved_state_is_reported(sims, tmp_path):
    """The check can fail: a rewind snapshot with another random stream does not replay."""
    shutil.copytree(sims / "sim", tmp_path / "sim")
    path = tmp_path / "sim" / "state" / "state.json"
    meta = json.loads(path.read_text())
    meta["rewind"]["rng"]["state"]["state"] += 1
    path.write_text(json.dumps(meta))
    with pytest.warns(RuntimeWarning, match="did not reproduce its saved end state"):
        continue_simulation(tmp_path / "sim", 1, tmp_path / "next")


def test_a_fresh_simulation_takes_no_scenario():
    with pytest.raises(ContinuationError, match="a fresh simulation has none"):
        run(SMALL.model_copy(update={"scenario": ScenarioConfig(police_referral_rate=2.0)}))


def test_the_command_continues_with_a_scenario(sims, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from stratify.cli import app

    config = tmp_path / "c.yaml"
    config.write_text(
        f"home: {tmp_path}\nsimulation:\n  children: 2500\n  years: 3\n  burn_in_years: 1\n"
        "  truth_sample: 100\n  truth_replicates: 10\n  seed: 11\n"
    )
    shutil.copytree(sims / "sim", tmp_path / "sim")
    args = ["simulate", "-c", str(config), "--continue-from", str(tmp_path / "sim")]
    result = CliRunner().invoke(app, [*args, "--months", "2", "--scenario", "police-doubling"])
    assert result.exit_code == 0, result.output
    assert "scenario: police referrals x2" in " ".join(result.output.split())
    assert (tmp_path / "sim-2025-05-31" / "realism.csv").exists()
    meta = json.loads((tmp_path / "sim-2025-05-31" / "extract" / "extract.json").read_text())
    assert meta["extract_date"] == "2025-05-31" and "police referrals x2" in meta["description"]
    refused = CliRunner().invoke(app, [*args, "--seed", "12"])
    assert refused.exit_code == 2 and "seed: 11 saved, 12 given" in refused.output


def test_the_continued_extract_passes_every_load_rule(sims, tmp_path):
    from stratify.features.warehouse.ingest import load_extract

    result = load_extract(sims / f"sim-{NEXT}" / "extract", tmp_path / "warehouse.duckdb")
    assert result.extract_date == NEXT
