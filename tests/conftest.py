"""Fixtures shared by every test package: the small synthetic borough."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.borough import build_shared, copy_borough

#: PySpark 4.0 leaves the local socket of an Arrow collect (toArrow) for the garbage
#: collector to close; Spark tests ignore that ResourceWarning and nothing else.
SPARK_SOCKETS = (
    r"ignore:Exception ignored in. <socket\.socket:pytest.PytestUnraisableExceptionWarning"
)


@pytest.fixture(scope="session")
def shared_borough(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small borough's working directory (read-only: copy it before writing)."""
    root = tmp_path_factory.getbasetemp()
    if root.name.startswith("popen-gw"):  # pytest-xdist: share across workers
        root = root.parent
    return build_shared(root)


@pytest.fixture
def borough_home(shared_borough: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the small borough: (working directory, config file)."""
    home = tmp_path / "work"
    home.mkdir()
    return home, copy_borough(shared_borough, home)


@pytest.fixture(scope="session")
def spark():
    """One local Spark session (2 cores, 2 shuffle partitions) for every Spark test."""
    from stratify.features.build.spark import spark_session
    from stratify.features.config import SparkConfig

    session = spark_session(SparkConfig(master="local[2]", shuffle_partitions=2))
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
