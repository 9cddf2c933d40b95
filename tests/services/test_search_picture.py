"""The example picture of a search by image (``services/search_picture.py``): the accepted
types decode to an indexed frame's size, upright; every other input is refused with its
code and status before a pixel of it is decoded."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from clipray.services.search_picture import FRAME_SIZE, MAX_PIXELS, PictureRefused, picture_pixels

pytestmark = pytest.mark.unit


def _encoded(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _halves(w: int, h: int) -> Image.Image:
    """Red on the left, blue on the right: which way up a picture came out is visible."""
    px = np.zeros((h, w, 3), np.uint8)
    px[:, : w // 2] = (255, 0, 0)
    px[:, w // 2 :] = (0, 0, 255)
    return Image.fromarray(px)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_an_accepted_picture_comes_out_at_an_indexed_frames_size(fmt):
    pixels = picture_pixels(_encoded(_halves(1280, 720), fmt))
    assert pixels.dtype == np.uint8
    assert pixels.shape == (1, 144, FRAME_SIZE, 3)  # the analysis' 256-pixel frame of 16:9
    left, right = pixels[0, 72, 10].astype(int), pixels[0, 72, -10].astype(int)
    assert left[0] > 200 > left[2]
    assert right[2] > 200 > right[0]


def test_a_small_picture_is_not_upscaled_and_alpha_is_dropped():
    im = Image.new("RGBA", (40, 30), (0, 200, 0, 128))
    pixels = picture_pixels(_encoded(im, "PNG"))
    assert pixels.shape == (1, 30, 40, 3)
    assert tuple(pixels[0, 0, 0]) == (0, 200, 0)


def test_a_phone_photo_is_turned_upright_by_its_exif_orientation():
    im = _halves(400, 200)
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    pixels = picture_pixels(_encoded(im, "JPEG", exif=exif.tobytes()))
    assert pixels.shape == (1, 256, 128, 3)  # portrait now
    top, bottom = pixels[0, 10, 64].astype(int), pixels[0, -10, 64].astype(int)
    assert top[0] > 200
    assert bottom[2] > 200


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        pytest.param(b"", 422, "IMAGE_EMPTY", id="empty"),
        pytest.param(b"just some words", 415, "IMAGE_TYPE_UNSUPPORTED", id="text"),
        pytest.param(b"GIF89a" + b"\0" * 40, 415, "IMAGE_TYPE_UNSUPPORTED", id="gif"),
        pytest.param(b"%!PS-Adobe-3.0 EPSF-3.0\n", 415, "IMAGE_TYPE_UNSUPPORTED", id="eps"),
        pytest.param(b"\xff\xd8\xff\xe0 truncated", 422, "IMAGE_UNREADABLE", id="jpeg/broken"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + b"\0" * 30, 422, "IMAGE_UNREADABLE", id="png/broken"),
        pytest.param(b"RIFF\0\0\0\0WEBPVP8 ", 422, "IMAGE_UNREADABLE", id="webp/broken"),
    ],
)
def test_what_is_not_a_readable_picture_is_refused_with_its_code(data, status, code):
    with pytest.raises(PictureRefused) as exc:
        picture_pixels(data)
    assert (exc.value.status, exc.value.code) == (status, code)


def test_another_image_type_is_refused_even_when_pillow_reads_it():
    bmp = _encoded(_halves(64, 64), "BMP")
    with pytest.raises(PictureRefused) as exc:
        picture_pixels(bmp)
    assert (exc.value.status, exc.value.code) == (415, "IMAGE_TYPE_UNSUPPORTED")
    assert exc.value.detail == {"accepted": ["image/jpeg", "image/png", "image/webp"]}


def test_too_many_pixels_are_refused_from_the_header_before_decoding():
    side = int(MAX_PIXELS**0.5) + 1
    bomb = _encoded(Image.new("1", (side, side)), "PNG")
    assert len(bomb) < 200_000  # small on the wire: only the header tells
    with pytest.raises(PictureRefused) as exc:
        picture_pixels(bomb)
    assert (exc.value.status, exc.value.code) == (413, "IMAGE_TOO_LARGE")
    assert exc.value.detail == {"width": side, "height": side, "limit": MAX_PIXELS}


def test_the_frame_size_is_the_analysis_size():
    from clipray.pipelines.stages.decode import DEFAULT_ANALYSIS_SIZE

    assert FRAME_SIZE == DEFAULT_ANALYSIS_SIZE


def test_a_patched_image_open_in_the_same_process_is_not_used(monkeypatch):
    """ultralytics (the face detector) replaces ``PIL.Image.open`` when imported: its version
    installs a HEIF plugin on a picture Pillow refuses, which fails offline. The picture is
    read by its format's own reader, so a broken one is still refused with its code."""

    def patched(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'pi_heif'")

    monkeypatch.setattr(Image, "open", patched)
    with pytest.raises(PictureRefused) as exc:
        picture_pixels(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)
    assert exc.value.code == "IMAGE_UNREADABLE"
    assert picture_pixels(_encoded(_halves(64, 32), "PNG")).shape == (1, 32, 64, 3)
