"""The example picture of a search by image: checked, decoded and scaled like an indexed frame.

Both doors of search hand the picture's bytes here (the API decodes them from base64, the
CLI reads a file), so a picture is accepted or refused the same way everywhere:

    >>> pixels = picture_pixels(Path("frame.jpg").read_bytes())    # doctest: +SKIP
    >>> pixels.shape                                                # doctest: +SKIP
    (1, 144, 256, 3)

Only JPEG, PNG and WebP are opened, told apart by their first bytes before any decoder
runs: Pillow would otherwise try each of its plugins in turn on untrusted bytes, some of
which (EPS) run external programs. The picture's size is read from its header and refused
over :data:`MAX_PIXELS` before a pixel is decoded (a 64-megapixel PNG of one colour
compresses to a few kilobytes). The bytes themselves are bounded by the request body limit
(``CLIPRAY_MAX_REQUEST_BYTES``) before anything here runs.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from clipray.domain.errors import CodedError, DependencyMissing

FRAME_SIZE = 256
"""Longer side of the returned pixels: the analysis' frames are indexed at this size
(``clipray.pipelines.stages.decode.DEFAULT_ANALYSIS_SIZE``; not imported, as that module
needs PyAV, which an API-only install lacks). The query then looks like the frames it is
compared with, and a picture crosses to the encoder replica as at most 196 KB."""
MAX_PIXELS = 50_000_000
"""Largest picture opened (width x height): above an 8K frame (33 MP) and most phone
photos; decoding a larger one would cost more memory than a search is worth."""
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
"""Pillow's format names of the accepted pictures, with their media types."""


class PictureRefused(CodedError):
    """A picture that cannot be a search query: 415 a type other than JPEG, PNG or WebP,
    422 an empty or broken one, 413 one with too many pixels."""

    status = 422


def sniff(data: bytes) -> str | None:
    """Pillow's name of the format whose signature ``data`` starts with, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def picture_reader(media_type: str) -> Any:
    """Pillow's own reader of a JPEG, PNG or WebP (``image/...``), not ``Image.open``: a
    library loaded in the same process may patch that (ultralytics retries a refused
    picture after installing a HEIF plugin, which fails without network), and the bytes'
    signature has already chosen the reader.

    Raises:
        DependencyMissing: Pillow is not installed."""
    fmt = {v: k for k, v in FORMATS.items()}[media_type]
    return _pillow()[2][fmt]


def _pillow() -> Any:
    try:
        from PIL import Image, ImageOps, JpegImagePlugin, PngImagePlugin, WebPImagePlugin
    except ImportError as exc:  # the ml extra brings Pillow (and the CLIP model)
        raise DependencyMissing("Pillow", "install clipray[ml] to search by picture") from exc
    openers = {"JPEG": JpegImagePlugin.JpegImageFile, "PNG": PngImagePlugin.PngImageFile,
               "WEBP": WebPImagePlugin.WebPImageFile}  # fmt: skip
    return Image, ImageOps, openers


def picture_pixels(data: bytes) -> np.ndarray:
    """The picture in ``data`` as ``(1, H, W, 3)`` uint8 RGB, its longer side at most
    :data:`FRAME_SIZE`, turned upright by its EXIF orientation (a phone's photo).

    Raises:
        PictureRefused: 422 ``IMAGE_EMPTY``; 415 ``IMAGE_TYPE_UNSUPPORTED`` (not a JPEG,
            PNG or WebP); 413 ``IMAGE_TOO_LARGE`` (over :data:`MAX_PIXELS`); 422
            ``IMAGE_UNREADABLE`` (the format's signature, but not a picture Pillow decodes).
        DependencyMissing: Pillow is not installed.
    """
    if not data:
        raise PictureRefused("IMAGE_EMPTY", "the picture is empty")
    fmt = sniff(data)
    if fmt is None:
        raise PictureRefused("IMAGE_TYPE_UNSUPPORTED", "the picture is not a JPEG, PNG or "
                             "WebP image", status=415,
                             detail={"accepted": sorted(FORMATS.values())})  # fmt: skip
    image, image_ops, openers = _pillow()
    try:
        # The format's own reader, not ``Image.open``: a library loaded in the same process
        # may patch that (ultralytics retries a refused picture after installing a HEIF
        # plugin, which fails without network) and the signature already chose the reader.
        with openers[fmt](io.BytesIO(data)) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise PictureRefused("IMAGE_TOO_LARGE", f"the picture is {w}x{h} pixels, over "
                                     f"the limit of {MAX_PIXELS}", status=413,
                                     detail={"width": w, "height": h,
                                             "limit": MAX_PIXELS})  # fmt: skip
            im.draft("RGB", (FRAME_SIZE, FRAME_SIZE))  # JPEG: decode at a fraction of its size
            upright = image_ops.exif_transpose(im).convert("RGB")
            upright.thumbnail((FRAME_SIZE, FRAME_SIZE), image.Resampling.BICUBIC)
            return np.asarray(upright, dtype=np.uint8)[None]
    except PictureRefused:
        raise
    except (OSError, ValueError, SyntaxError, image.DecompressionBombError) as exc:
        # Truncated or corrupt data behind a valid signature (Pillow's errors for it vary).
        raise PictureRefused("IMAGE_UNREADABLE", f"the {fmt} picture cannot be decoded: "
                             f"{exc}", detail={"format": FORMATS[fmt]}) from exc  # fmt: skip
