"""The Ibis build against the plain-Python reference, on many small random warehouses."""

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stratify.core.targets import TARGETS
from stratify.features.build.cohorts import CohortError
from stratify.features.build.pipeline import build
from stratify.features.build.reference import RangeError, load_rows, reference_build
from stratify.features.config import FeaturesConfig
from tests.features.factories import (
    EXTRACT,
    IBIS_DUCKDB_WARNING,
    D,
    full_rows,
    many_tables,
    merge,
    write_warehouse,
)
from tests.features.scenarios import ESCALATION, FAMILY, REREFERRAL

pytestmark = pytest.mark.filterwarnings(IBIS_DUCKDB_WARNING)

configs = st.builds(
    FeaturesConfig,
    horizon_months=st.sampled_from([3, 12]),
    snapshot_months=st.sampled_from([3, 5, 12]),
    lookback_months=st.sampled_from([6, 24]),
    start_date=st.sampled_from([None, D(2020, 1, 1)]),
    end_date=st.sampled_from([None, D(2023, 6, 30)]),
)


def check_same(path: Path, rows: dict, config: FeaturesConfig) -> int:
    """Assert the build equals the reference for both targets; return the points seen."""
    seen = 0
    for target in TARGETS:
        try:
            expected = reference_build(rows, target, config, EXTRACT)
        except RangeError:
            with pytest.raises(CohortError, match="outside|empty|no dated"):
                build(path, target, config)
            continue
        if not expected:
            with pytest.raises(CohortError, match=f"no {target} decision points"):
                build(path, target, config)
            continue
        got = build(path, target, config).features.to_pylist()
        assert got == expected
        seen += len(got)
    return seen


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=many_tables(), config=configs)
def test_build_matches_reference_on_random_warehouses(tables, config):
    with tempfile.TemporaryDirectory() as tmp:
        path = write_warehouse(Path(tmp) / "w.duckdb", tables)
        check_same(path, full_rows(tables), config)


def test_reference_on_the_hand_worked_warehouses(tmp_path):
    # the families of the hand-worked tests side by side, read back from the file
    tables = merge([ESCALATION, REREFERRAL, FAMILY])
    path = write_warehouse(tmp_path / "w.duckdb", tables)
    assert check_same(path, load_rows(path), FeaturesConfig(lookback_months=12)) > 20
