"""The one way a long-running command shows progress: a transient rich bar or spinner.

Library functions take a plain callback (``progress(stage)`` or ``progress(done, total)``)
and know nothing of rich; the command line wraps them with :func:`progress_bar`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


@dataclass(frozen=True)
class Bar:
    """A live progress display: ``stage(text)`` relabels it, ``step(done, total)`` advances it."""

    progress: Progress
    task: TaskID
    label: str

    def stage(self, text: str) -> None:
        """Show ``<label>: <text>``."""
        self.progress.update(self.task, description=f"{self.label}: {text}")

    def step(self, done: int, total: int | None) -> None:
        """Show ``done`` of ``total`` (units as the bar's ``unit``)."""
        self.progress.update(self.task, completed=done, total=total)


@contextmanager
def progress_bar(console: Console, label: str, unit: str | None = None) -> Iterator[Bar]:
    """Show a transient spinner (or, with ``unit``, a counted bar) while the block runs.

    Parameters
    ----------
    console : Console
        Where to draw; the display disappears when the block ends.
    label : str
        What is being done, e.g. ``"escalation"`` or ``"Simulating 3,000 children"``.
    unit : str, optional
        Units of :meth:`Bar.step` (``"months"``); without it the bar is a spinner.
    """
    columns: list = [SpinnerColumn(), TextColumn("{task.description}")]
    if unit is not None:
        columns += [BarColumn(), TextColumn(f"{{task.completed}}/{{task.total}} {unit}")]
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        yield Bar(progress, progress.add_task(label, total=None), label)


StageCallback = Callable[[str], None]
StepCallback = Callable[[int, int | None], None]
