"""A region: N boroughs with their own LA codes as one extract."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from stratify.features.config import SimulationConfig
from stratify.features.simulate.region import la_codes, simulate_region
from stratify.features.simulate.run import run

TINY = SimulationConfig(children=200, years=2, burn_in_years=1, truth_sample=100)


def test_la_codes_start_with_greater_manchester_and_stay_distinct():
    codes = la_codes(12)
    assert codes[:3] == [("350", "Bolton"), ("351", "Bury"), ("352", "Manchester")]
    assert codes[9] == ("359", "Wigan")
    assert len({c for c, _ in codes}) == 12 and len({n for _, n in codes}) == 12
    with pytest.raises(ValueError, match="between 1 and 99"):
        la_codes(0)


def test_two_boroughs_are_one_extract_each_under_its_code(tmp_path):
    region = simulate_region(TINY, tmp_path, 2)
    alone = [run(TINY.model_copy(update={"seed": TINY.seed + i})).tables for i in range(2)]
    manifest = json.loads((tmp_path / "extract" / "extract.json").read_text())
    assert manifest["la_code"] == "350+351" and manifest["synthetic"] is True
    for name, frame in region.tables.items():
        assert len(frame) == len(alone[0][name]) + len(alone[1][name]), name
        written = pd.read_csv(tmp_path / "extract" / f"{name}.csv", dtype=str)
        assert len(written) == len(frame)
    persons = region.tables["persons"]
    code = persons["person_id"].str[:4]
    assert code.value_counts().to_dict() == {
        "350-": len(alone[0]["persons"]),
        "351-": len(alone[1]["persons"]),
    }
    # the second borough is the one simulated alone with the next seed, relabelled
    second = persons.loc[code == "351-"].reset_index(drop=True)
    assert (second["person_id"] == "351-" + alone[1]["persons"]["person_id"]).all()
    assert (second["locality"] == "Bury " + alone[1]["persons"]["locality"]).all()
    assert persons["person_id"].is_unique
    refs = region.tables["referrals"]
    assert refs["referral_id"].is_unique
    assert (refs["person_id"].str[:4] == refs["referral_id"].str[:4]).all()
