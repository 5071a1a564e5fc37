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

``cycles`` lists module-level import cycles (grimp graph, strongly connected components),
each with one shortest loop; import-linter's ``acyclic_siblings`` contract does not see
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
    """Return one shortest import loop per strongly connected component of the graph."""
    import grimp  # the dev extra has it (import-linter depends on it)

    graph = grimp.build_graph(*roots, cache_dir=None)
    imports = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    loops = []
    for component in _components(imports):
        start = min(component)
        loops.append(_shortest_loop(start, imports, component))
    return sorted(loops)


def _components(imports: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []
    for root in sorted(imports):
        if root in index:
            continue
        work = [(root, iter(sorted(imports[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            module, targets = work[-1]
            target = next((t for t in targets if t in imports), None)
            if target is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == index[module]:
                    component = set(stack[stack.index(module) :])
                    del stack[stack.index(module) :]
                    if len(component) > 1:
                        found.append(component)
            elif target not in index:
                index[target] = low[target] = len(index)
                stack.append(target)
                work.append((target, iter(sorted(imports[target]))))
            elif target in stack:
                low[module] = min(low[module], index[target])
    return found


def _shortest_loop(start: str, imports: dict[str, set[str]], within: set[str]) -> list[str]:
    """Breadth-first search from ``start`` back to itself inside one component."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for target in sorted(imports[module] & within):
                if target == start:
                    loop = [module]
                    while loop[-1] != start:
                        loop.append(previous[loop[-1]])
                    return [*reversed(loop), start]
                if target not in previous:
                    previous[target] = module
                    following.append(target)
        frontier = following
    raise AssertionError(f"{start} is in a component but on no loop")


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
