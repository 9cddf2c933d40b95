"""``clipray run --layout``: an unknown layout is refused before anything runs."""

import pytest

from tests.clirun import clipray

pytestmark = pytest.mark.integration


def test_an_unknown_layout_is_refused_with_the_choices(cli_home, tmp_path):
    video = tmp_path / "talk.mp4"
    video.write_bytes(b"")
    res = clipray(cli_home, "run", str(video), "--layout", "zoom")
    assert res.returncode == 2, res.stderr
    assert "--layout" in res.stderr
    assert "auto, speaker, split, wide" in res.stderr
