"""Run mypy or lint-imports over the ``stratify`` namespace as the wheel lays it out.

pyproject's ``[tool.setuptools.package-dir]`` maps stratify/, core/, features/, training/
and serving/ into one ``stratify`` package. An editable install resolves that mapping with
setuptools' import hook, which neither mypy nor grimp (import-linter's graph builder) can
follow: mypy would see ``features`` as a top-level package and every ``stratify.*`` import
as missing. So this script lays the namespace out as symlinks read from pyproject
(``build/typecheck/stratify/features -> features/``, ``stratify/cli.py -> stratify/cli.py``,
...), runs the tool inside that tree and rewrites the paths it prints back to the real
files. Folders are linked whole, so a module added or moved by anyone shows up without a
reinstall (which is why this beats ``editable_mode=strict``, whose link tree is frozen at
install time).

Usage::

    python scripts/namespace.py [--tree DIR] mypy [MYPY ARGS...]
    python scripts/namespace.py [--tree DIR] lint-imports [LINT-IMPORTS ARGS...]
    python scripts/namespace.py [--tree DIR] cycles

``cycles`` lists module-level import cycles (grimp graph: each import that grimp can
follow back to its importer is a loop); import-linter's ``acyclic_siblings`` contract does not see
cycles through a package's ``__init__`` (a child importing its parent), this does.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TREE = REPO / "build" / "typecheck"
SKIP = {"__pycache__"}


def package_dirs(repo: Path = REPO) -> dict[str, Path]:
    """Return pyproject's package -> folder mapping, e.g. ``stratify.core -> core/``."""
    with (repo / "pyproject.toml").open("rb") as f:
        mapping = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return {package: (repo / folder).resolve() for package, folder in mapping.items()}


def lay_out(tree: Path, mapping: dict[str, Path]) -> dict[str, str]:
    """Lay ``mapping`` out under ``tree`` as symlinks; return tree prefix -> real prefix."""
    roots = {package.split(".")[0] for package in mapping}
    for root in roots:
        shutil.rmtree(tree / root, ignore_errors=True)
    prefixes: dict[str, str] = {}
    for package in sorted(mapping, key=lambda p: p.count(".")):
        source, dest = mapping[package], tree.joinpath(*package.split("."))
        children = {p.split(".")[-1] for p in mapping if p.rpartition(".")[0] == package}
        if children:
            # A folder with mapped subpackages is a real folder of links to its entries.
            dest.mkdir(parents=True, exist_ok=True)
            for entry in sorted(source.iterdir()):
                if entry.name not in SKIP and entry.name not in children:
                    (dest / entry.name).symlink_to(entry)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(source, target_is_directory=True)
        prefixes[dest.relative_to(tree).as_posix() + "/"] = _display(source) + "/"
    return prefixes


def _display(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def rewrite(line: str, prefixes: dict[str, str]) -> str:
    """Map a path the tool printed inside the tree back to the real file."""
    for tree_prefix in sorted(prefixes, key=len, reverse=True):
        pattern = rf"(^|[\s\"'(]){re.escape(tree_prefix)}"
        if re.search(pattern, line):
            return re.sub(pattern, lambda m, t=tree_prefix: m.group(1) + prefixes[t], line)
    return line


def run(tool: str, args: list[str], tree: Path) -> int:
    """Run ``tool`` in ``tree`` with the repository's config; return its exit status."""
    tree.mkdir(parents=True, exist_ok=True)
    prefixes = lay_out(tree, package_dirs())
    roots = sorted({package.split(".")[0] for package in package_dirs()})
    config = str(REPO / "pyproject.toml")
    bindir = Path(sys.executable).parent
    if tool == "mypy":
        command = [str(bindir / "mypy"), "--config-file", config, *args, *roots]
    elif tool == "lint-imports":
        command = [str(bindir / "lint-imports"), config, "--no-cache", "--no-logo", *args]
    elif tool == "cycles":
        command = [sys.executable, __file__, "--tree", str(tree), "_cycles", *roots]
    else:
        raise SystemExit(f"unknown tool {tool!r}: expected mypy or lint-imports")
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the tree shadows the editable install
    proc = subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(rewrite(line, prefixes))
        sys.stdout.flush()
    return proc.wait()


def module_cycles(roots: list[str]) -> list[list[str]]:
    """Return the import loops between modules: for each set of modules, its shortest loop."""
    import grimp  # the dev extra has it (import-linter depends on it)

    return find_loops(grimp.build_graph(*roots, cache_dir=None))


def find_loops(graph: Any) -> list[list[str]]:
    """Return one shortest loop (``[m, ..., m]``) per distinct set of modules that form one."""
    loops: dict[frozenset[str], list[str]] = {}
    for module in sorted(graph.modules):
        for target in sorted(graph.find_modules_directly_imported_by(module) - {module}):
            chain = graph.find_shortest_chain(importer=target, imported=module)
            if chain:
                loop = [module, *chain]
                loops.setdefault(frozenset(loop), loop)
    return sorted(loops.values())


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the tool."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=DEFAULT_TREE, help="where to lay it out")
    parser.add_argument("tool", choices=["mypy", "lint-imports", "cycles", "_cycles"])
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    if options.tool == "_cycles":  # inside the tree, where `stratify` is the laid-out one
        loops = module_cycles(options.args)
        for loop in loops:
            print("import cycle: " + " -> ".join(loop))
        print(f"{len(loops)} import cycle(s) between modules")
        return 1 if loops else 0
    return run(options.tool, options.args, options.tree.resolve())


if __name__ == "__main__":
    sys.exit(main())
