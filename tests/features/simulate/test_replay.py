"""Re-simulations in worker processes give exactly the ground truth of this process."""

import pandas as pd
import pytest

from stratify.features.config import SimulationConfig
from stratify.features.simulate import replay, run
from stratify.features.simulate.replay import Hits

SMALL = SimulationConfig(
    children=1500, years=3, burn_in_years=1, truth_sample=120, truth_replicates=12, seed=21
)


def test_workers_give_the_same_truth_as_this_process(monkeypatch: pytest.MonkeyPatch):
    pools: list[bool] = []
    made = Hits.__init__

    def spy(self, job, pool):
        pools.append(pool is not None)
        made(self, job, pool)

    monkeypatch.setattr(Hits, "__init__", spy)
    monkeypatch.setattr(replay, "worker_count", lambda: 0)
    here = run(SMALL)
    assert pools and not any(pools)

    pools.clear()
    monkeypatch.setattr(replay, "worker_count", lambda: 2)
    monkeypatch.setattr(replay, "MIN_PARALLEL_WORK", 0)
    there = run(SMALL)
    assert pools and all(pools)
    assert len(here.truth) > 100
    pd.testing.assert_frame_equal(here.truth, there.truth)
    for name, frame in here.tables.items():
        pd.testing.assert_frame_equal(frame, there.tables[name], obj=name)


def test_small_work_stays_in_this_process(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(replay, "worker_count", lambda: 2)
    with replay.replay_workers(replay.MIN_PARALLEL_WORK - 1) as pool:
        assert pool is None
    with replay.replay_workers(replay.MIN_PARALLEL_WORK) as pool:
        assert pool is not None
        assert pool.submit(sum, [1, 2, 3]).result() == 6


def test_an_error_in_the_run_closes_the_workers(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(replay, "worker_count", lambda: 2)
    with pytest.raises(KeyError), replay.replay_workers(replay.MIN_PARALLEL_WORK) as pool:
        raise KeyError("stop")
    with pytest.raises(RuntimeError, match="shutdown"):
        pool.submit(sum, [1])
