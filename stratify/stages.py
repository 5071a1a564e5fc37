"""Reuse what is up to date: run a stage only when the inputs it depends on changed.

Each stage records a stamp (``<work>/.stamps/<stage>.json``): a key hashed from
everything the stage's output depends on (its config section, its input files' sizes
and modification times, the catalogue hash) and the stage's small JSON result. A stage
whose stamp has the same key and whose outputs all exist is skipped and its recorded
result returned, so running the demo twice redoes only what changed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stratify.core.files import write_atomic

STAMPS = ".stamps"


def key_of(*parts: Any) -> str:
    """Return a short hash of ``parts`` (JSON-serialisable, or turned into text)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_key(path: Path) -> str:
    """Return a key that changes when ``path`` is rewritten (size and mtime), or 'missing'."""
    if not path.exists():
        return "missing"
    stat = path.stat()
    return key_of(stat.st_size, stat.st_mtime_ns)


def run_stage(
    work: Path,
    name: str,
    key: str,
    outputs: list[Path],
    run: Callable[[], Any],
    *,
    say: Callable[[str], None] = print,
) -> Any:
    """Run ``run`` unless the stamp of ``name`` has ``key`` and every output exists.

    Returns
    -------
    Any
        ``run()``'s result (JSON-serialisable), or the result recorded when it last ran.
    """
    stamp = work / STAMPS / f"{name}.json"
    if stamp.exists() and all(p.exists() for p in outputs):
        saved = json.loads(stamp.read_text())
        if saved.get("key") == key:
            say(f"- {name}: up to date, reused")
            return saved.get("result")
    started = time.perf_counter()
    result = run()
    text = json.dumps({"key": key, "result": result}, default=str)
    write_atomic(stamp, lambda tmp: tmp.write_text(text))
    say(f"- {name}: done in {time.perf_counter() - started:.0f} s")
    return result
