"""The CLI's one progress display: stage, done/total and ETA, rendered by rich."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from clipray.cli.progress import StageProgress

pytestmark = pytest.mark.unit


def _render(progress: StageProgress) -> str:
    """The progress line as a terminal would show it now."""
    buf = io.StringIO()
    Console(file=buf, width=120, force_terminal=False).print(progress._bar.get_renderable())
    return buf.getvalue()


def test_a_stage_with_parts_shows_done_of_total_and_an_eta():
    sink = Console(file=io.StringIO(), force_terminal=False)
    with StageProgress(sink) as progress:
        progress.stage("ingesting")
        line = _render(progress)
        assert "ingesting" in line
        assert "/" not in line  # no parts: no count...
        assert "ETA" not in line  # ...and no estimate
        progress.stage("analysing", total=4)
        for _ in range(3):
            progress.advance("window", 1)  # called as the runner's progress callback
        line = _render(progress)
        assert "analysing" in line
        assert "ingesting" not in line
        assert "3/4" in line
        assert "ETA" in line
        progress.stage("rendering 2 clips")
        line = _render(progress)
        assert "rendering 2 clips" in line
        assert "3/4" not in line  # a new stage starts from nothing
