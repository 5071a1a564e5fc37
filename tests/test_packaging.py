"""The wheel holds the whole ``stratify`` namespace, and the lock matches pyproject.

The wheel is built from a copy of the mapped folders, so neither a stale ``build/lib`` nor
a concurrent build in the repository can hide a missing package. The expected contents
come from the file tree, not from a list kept by hand.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PACKAGE_DIRS: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]
PACKAGE_DATA = [
    "stratify/features/data/CIN_schema_2024.xsd",
    "stratify/training/card/templates/model_card.md.j2",
    "stratify/training/card/templates/model_card.html.j2",
]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def _expected_modules() -> set[str]:
    """Every .py file of every folder with an ``__init__.py``, as its path in the wheel."""
    expected = set()
    for package, folder in PACKAGE_DIRS.items():
        root = REPO / folder
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root)
            if "__pycache__" in relative.parts:
                continue
            wheel_folder = "/".join((*package.split("."), *relative.parts))
            expected |= {f"{wheel_folder}/{py.name}" for py in init.parent.glob("*.py")}
    return expected


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for folder in set(PACKAGE_DIRS.values()):
        shutil.copytree(REPO / folder, source / folder, ignore=IGNORE)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist, source],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = dist.glob("stratify-*.whl")
    with zipfile.ZipFile(built) as archive:
        yield archive


def test_the_wheel_installs_only_stratify(wheel: zipfile.ZipFile) -> None:
    top = {name.split("/")[0] for name in wheel.namelist()}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert len(dist_info) == 1
    assert top - dist_info == {"stratify"}


def test_every_package_and_module_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    expected = _expected_modules()
    assert "stratify/features/__init__.py" in expected  # the tree walk found the mapping
    missing = sorted(expected - set(wheel.namelist()))
    assert not missing, f"not in the wheel (add the package to pyproject): {missing}"


def test_the_package_data_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    missing = [name for name in PACKAGE_DATA if name not in wheel.namelist()]
    assert not missing, missing


def test_the_console_script_is_the_cli(wheel: zipfile.ZipFile) -> None:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    entry_points = configparser.ConfigParser()
    entry_points.read_string(wheel.read(name).decode())
    assert dict(entry_points["console_scripts"]) == {"stratify": "stratify.cli:app"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_lock_pins_every_requirement_within_its_range() -> None:
    """`make lock` after editing pyproject's dependencies: the lock must follow them."""
    lines = (REPO / "requirements.lock").read_text().splitlines()
    pins = dict(re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", "\n".join(lines), re.M))
    locked = {_normalise(name): version for name, version in pins.items()}
    project = PYPROJECT["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    problems = []
    for text in wanted:
        requirement = Requirement(text)
        version = locked.get(_normalise(requirement.name))
        if version is None:
            problems.append(f"{requirement.name} is not in requirements.lock")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name}=={version} is outside {requirement.specifier}")
    assert not problems, "run `make lock`: " + "; ".join(problems)
