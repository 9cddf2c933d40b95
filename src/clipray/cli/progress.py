"""The one progress display of a long command: stage, done/total, ETA, on stderr.

A single transient line, so that the terminal ends with the result alone; stdout stays
free for the result (``--json``). The libraries' own bars are off (see
:mod:`clipray.cluster.logs`), so nothing competes with it.

    with StageProgress(err) as progress:
        progress.stage("ingesting")
        progress.stage("analysing", total=12)
        progress.advance()          # a callback for each finished part
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class _DoneOfTotal(ProgressColumn):
    """``3/12`` where the stage has a total; nothing where it has none."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{int(task.completed)}/{int(task.total)}", style="progress.download")


class _Eta(TimeRemainingColumn):
    """``ETA 0:01:20`` once a stage with a total has progress to estimate from."""

    def render(self, task: Task) -> Text:
        if task.total is None or not task.completed:
            return Text("")
        return Text.assemble("ETA ", super().render(task))


class StageProgress:
    """A stage name with a spinner; a bar, done/total and ETA for a stage that has parts."""

    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), _DoneOfTotal(),
            _Eta(), TimeElapsedColumn(), console=console, transient=True,
        )  # fmt: skip
        self._task: TaskID | None = None

    def __enter__(self) -> StageProgress:
        self._bar.start()
        self._task = self._bar.add_task("starting", total=None)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._bar.stop()

    def stage(self, name: str, total: int | None = None) -> None:
        """Show ``name``; ``total`` parts to count (None: a stage without parts)."""
        if self._task is not None:  # a new task: rich's reset keeps the old total
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(name, total=total)

    def advance(self, *_: object) -> None:
        """One part done (takes and ignores the arguments of a progress callback)."""
        if self._task is not None:
            self._bar.advance(self._task)
