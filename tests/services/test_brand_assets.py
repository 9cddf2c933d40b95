"""Brand kits without a server: an asset's type from its bytes' signature, and a kit
carried from the job's options (or a re-render's change) into the clip's effects graph."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from clipray.clips.effects.graph import Brand
from clipray.clips.effects.plan import EffectsConfig, plan_graph
from clipray.clips.render import RenderSpec
from clipray.domain.brand import ASSET_MAX_BYTES, BrandKit
from clipray.domain.errors import CodedError
from clipray.pipelines.clipjob import RunOptions
from clipray.services.brand import asset_type, sniff
from clipray.services.rerender import EffectsChange, effects_of

pytestmark = pytest.mark.unit


def picture(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("kind", "ctype", "data"),
    [
        pytest.param("logo", "image/png", picture("PNG"), id="png"),
        pytest.param("logo", "image/jpeg", picture("JPEG"), id="jpeg"),
        pytest.param("background", "image/webp", picture("WEBP"), id="webp"),
        pytest.param("font", "font/ttf", b"\x00\x01\x00\x00" + b"\0" * 60, id="ttf"),
        pytest.param("font", "font/ttf", b"true" + b"\0" * 60, id="ttf-apple"),
        pytest.param("font", "font/otf", b"OTTO" + b"\0" * 60, id="otf"),
        pytest.param("logo", "image/png; charset=binary", picture("PNG"), id="parameters"),
    ],
)
def test_an_asset_of_its_declared_type_is_taken(kind, ctype, data):
    assert asset_type(kind, ctype, data) == ctype.split(";")[0]
    assert sniff(data) == ctype.split(";")[0]


@pytest.mark.parametrize(
    ("kind", "ctype", "data", "code"),
    [
        pytest.param("sticker", "image/png", picture("PNG"), "BRAND_ASSET_KIND_UNKNOWN",
                     id="kind"),
        pytest.param("logo", "font/ttf", b"\x00\x01\x00\x00", "BRAND_ASSET_TYPE_UNSUPPORTED",
                     id="font-as-logo"),
        pytest.param("logo", None, picture("PNG"), "BRAND_ASSET_TYPE_UNSUPPORTED",
                     id="untyped"),
        pytest.param("logo", "image/png", picture("JPEG"), "BRAND_ASSET_UNREADABLE",
                     id="jpeg-called-png"),
        pytest.param("font", "font/otf", b"\x00\x01\x00\x00", "BRAND_ASSET_UNREADABLE",
                     id="ttf-called-otf"),
        pytest.param("logo", "image/png", picture("PNG")[:30], "BRAND_ASSET_UNREADABLE",
                     id="truncated"),
        pytest.param("logo", "image/webp", b"RIFF\0\0\0\0WAVE", "BRAND_ASSET_UNREADABLE",
                     id="riff-not-webp"),
        pytest.param("background", "image/png", b"\x89PNG\r\n\x1a\n" * (ASSET_MAX_BYTES // 8 + 1),
                     "BRAND_ASSET_TOO_LARGE", id="too-large"),
    ],
)  # fmt: skip
def test_an_asset_is_refused_with_its_code(kind, ctype, data, code):
    with pytest.raises(CodedError) as refused:
        asset_type(kind, ctype, data)
    assert refused.value.code == code


def test_a_patched_image_open_in_the_same_process_is_not_used(monkeypatch):
    """ultralytics (loaded by the face detector in the same process) replaces
    ``Image.open`` with one that installs a HEIF plugin on a refused picture, which fails
    offline: the asset is read by its format's own reader instead."""

    def patched(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'pi_heif'")

    monkeypatch.setattr(Image, "open", patched)
    with pytest.raises(CodedError) as refused:
        asset_type("logo", "image/png", picture("PNG")[:30])
    assert refused.value.code == "BRAND_ASSET_UNREADABLE"
    assert asset_type("logo", "image/png", picture("PNG")) == "image/png"


KIT = BrandKit("k" * 32, "w" * 32, "Main", logo_key="w/brand/k/logo-1.png",
               logo_position="bottom_left", primary_color="#112233")  # fmt: skip


def test_a_resolved_kit_becomes_the_brand_step_with_its_intro_and_outro():
    opts = RunOptions(brand_kit_id=KIT.id, brand=KIT, brand_keys=("intro.mp4", None))
    assert opts.effects.any
    g = plan_graph(opts.effects, [], 0.0, 10.0, "t", (), (), lambda t: None)
    assert g.brand == Brand.of(KIT, "intro.mp4", None)
    assert plan_graph(RunOptions(brand_kit_id=KIT.id).effects, [], 0.0, 10.0, "t", (), (),
                      lambda t: None).brand is None  # unresolved: the service's to resolve


def test_a_rerender_keeps_changes_or_takes_off_the_clips_brand():
    g = plan_graph(EffectsConfig(brand=KIT, brand_keys=("i", "o")), [], 0.0, 10.0, "t", (), (),
                   lambda t: None)  # fmt: skip
    own = effects_of(RenderSpec("s", 0.0, 10.0, effects=g))
    assert Brand.of(own.brand, *own.brand_keys) == g.brand  # read back as it was drawn
    assert EffectsChange().applied(own).brand == own.brand
    assert EffectsChange(brand_kit_id="").applied(own).brand is None
    other = BrandKit("n" * 32, "w" * 32, "New", accent_color="#00FF00")
    new = EffectsChange(brand_kit_id=other.id, brand=(other, None, "out")).applied(own)
    assert (new.brand, new.brand_keys) == (other, (None, "out"))
