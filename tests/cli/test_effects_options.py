"""``clipray run``'s effects options: a bad value is refused before anything starts."""

import pytest

from tests.clirun import clipray

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        pytest.param(["--zooms", "wobble"], "--zooms", id="bad-zoom-style"),
        pytest.param(["--hook", "x" * 121], "--hook", id="hook-too-long"),
        pytest.param(["--captions", "wavy"], "--captions", id="bad-caption-style"),
        pytest.param(["--censor", "!!"], "--censor", id="censor-no-word"),
        pytest.param(["--transition", "spin"], "--transition", id="bad-transition"),
    ],
)
def test_bad_effects_options_are_refused_before_anything_starts(tmp_path, args, hint):
    res = clipray(tmp_path / "home", "run", str(tmp_path / "talk.mp4"), *args)
    assert res.returncode == 2, res.stderr
    assert hint in res.stderr
    assert "typewriter" in res.stderr or hint != "--captions"
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("*.pid"))
