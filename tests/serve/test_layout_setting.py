"""The ``layout`` job setting: the API schemas take the four layouts and refuse others."""

import pytest
from pydantic import ValidationError

from clipray.clips.render import RenderSpec
from clipray.clips.speaker import JOB_LAYOUTS
from clipray.serve.schemas.clips import RerenderIn
from clipray.serve.schemas.jobs import JobSettings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("layout", JOB_LAYOUTS)
def test_each_layout_is_a_job_setting_and_a_rerender_option(layout):
    assert JobSettings(layout=layout).layout == layout
    assert RerenderIn(layout=layout).layout == layout


def test_auto_is_the_default_and_an_unknown_layout_is_refused():
    assert JobSettings().layout == "auto"
    assert RerenderIn().layout is None  # a re-render keeps the clip's own
    with pytest.raises(ValidationError, match="layout"):
        JobSettings(layout="zoom")
    with pytest.raises(ValidationError, match="layout"):
        RerenderIn(layout="zoom")


def test_the_render_spec_stores_the_layout_and_old_specs_read_as_auto():
    spec = RenderSpec("s", 0.0, 10.0, layout="speaker")
    assert RenderSpec.from_json(spec.to_json()) == spec
    old = spec.to_json()
    del old["layout"]
    assert RenderSpec.from_json(old).layout == "auto"
