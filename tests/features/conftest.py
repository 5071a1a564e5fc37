"""Fixtures of the features tests: a small, valid extract folder built by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.features.extract import ExtractBuilder


@pytest.fixture
def extract(tmp_path: Path) -> ExtractBuilder:
    """A builder holding the valid hand-built extract."""
    return ExtractBuilder(tmp_path / "extracts")


@pytest.fixture
def no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No pseudonymisation key in the environment."""
    monkeypatch.delenv("STRATIFY_PSEUDONYM_KEY", raising=False)
