"""The package rules of STYLE.md, as tests.

The contracts live in pyproject.toml (``[tool.importlinter]``). Both checks run in a
subprocess over a symlink tree of the ``stratify`` namespace (scripts/namespace.py):
grimp cannot follow the editable install's import hook, and this process has already
imported ``stratify`` through it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NAMESPACE = REPO / "scripts" / "namespace.py"


def _run(tool: str, tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(NAMESPACE), "--tree", str(tree), tool],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_import_contracts_are_kept(tmp_path: Path) -> None:
    result = _run("lint-imports", tmp_path)
    report = result.stdout + result.stderr
    assert "Contracts:" in report, report  # it ran and read the contracts
    broken = report.split("Broken contracts", 1)[-1].strip("-\n ")
    assert result.returncode == 0, f"import contracts broken:\n{broken}"


def test_no_import_cycles_between_modules(tmp_path: Path) -> None:
    result = _run("cycles", tmp_path)
    assert "import cycle(s) between modules" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0, result.stdout


def test_the_contracts_cover_every_package() -> None:
    """A package added at the top of the namespace needs a rule of its own."""
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    mapped = set(config["tool"]["setuptools"]["package-dir"]) - {"stratify"}
    contracts = config["tool"]["importlinter"]["contracts"]
    sources = {m for c in contracts for m in c.get("source_modules", [])}
    assert mapped <= sources, f"no contract restricts {sorted(mapped - sources)}"


def test_the_cycle_finder_names_each_loop_once() -> None:
    """a -> b -> c -> a and e <-> f are loops; d -> a and g -> h are not."""
    import grimp

    sys.path.insert(0, str(NAMESPACE.parent))
    try:
        from namespace import find_loops
    finally:
        sys.path.remove(str(NAMESPACE.parent))
    graph = grimp.ImportGraph()
    edges = [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a"), ("e", "f"), ("f", "e"), ("g", "h")]
    for importer, imported in edges:
        graph.add_import(importer=f"p.{importer}", imported=f"p.{imported}")
    assert find_loops(graph) == [["p.a", "p.b", "p.c", "p.a"], ["p.e", "p.f", "p.e"]]
