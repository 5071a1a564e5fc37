"""Environment variables changed inside the block are put back, set or absent."""

import os

import pytest

from stratify.core.environment import environment_kept


def test_set_and_absent_variables_come_back_as_they_were(monkeypatch):
    monkeypatch.setenv("STRATIFY_TEST_SET", "before")
    monkeypatch.delenv("STRATIFY_TEST_ABSENT", raising=False)
    with (
        pytest.raises(RuntimeError),
        environment_kept(["STRATIFY_TEST_SET", "STRATIFY_TEST_ABSENT"]),
    ):
        os.environ["STRATIFY_TEST_SET"] = "inside"
        os.environ["STRATIFY_TEST_ABSENT"] = "inside"
        raise RuntimeError  # restored even when the block fails
    assert os.environ["STRATIFY_TEST_SET"] == "before"
    assert "STRATIFY_TEST_ABSENT" not in os.environ
