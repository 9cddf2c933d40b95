"""The object store against a real S3 server (embedded SeaweedFS)."""

import hashlib
import os
import uuid

import pytest
import requests

from clipray.storage.keys import UnsafeKeyError, object_key, workspace_prefix
from clipray.storage.objects import ObjectNotFoundError, content_disposition

VIDEO_TYPES = ("video/mp4", "video/webm")


@pytest.fixture
def ws() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def media(buckets, ws):
    return buckets.media.scoped(ws)


def key(ws: str, *names: str, owner: str | None = None) -> str:
    return object_key(ws, "sources", owner or uuid.uuid4().hex, *names)


def test_round_trip_small_object(media, ws):
    k = key(ws, "note.txt")
    info = media.put_bytes(k, b"hello clipray", content_type="text/plain")
    assert info.size == 13
    assert media.read_bytes(k) == b"hello clipray"
    head = media.head(k)
    assert head is not None
    assert head.size == 13
    assert head.content_type == "text/plain"


def test_multipart_upload_of_more_than_10_mib_and_streamed_get(media, ws, tmp_path, settings):
    payload = os.urandom(12 * 1024 * 1024 + 123)
    src = tmp_path / "big.bin"
    src.write_bytes(payload)
    k = key(ws, "big.bin")
    assert len(payload) > settings.multipart_threshold
    info = media.put_file(k, src, content_type="video/mp4")
    assert info.size == len(payload)
    # An S3 multipart ETag is "<md5 of part md5s>-<number of parts>".
    assert info.etag.endswith(f"-{-(-len(payload) // settings.multipart_chunk_size)}")
    streamed = hashlib.sha256()
    chunks = 0
    for chunk in media.iter_bytes(k, chunk_size=1024 * 1024):
        streamed.update(chunk)
        chunks += 1
    assert chunks > 1
    assert streamed.hexdigest() == hashlib.sha256(payload).hexdigest()
    out = media.download(k, tmp_path / "copy" / "big.bin")
    assert out.read_bytes() == payload
    assert not list((tmp_path / "copy").glob("*.part"))


def test_list_by_prefix_and_delete(media, ws):
    owner = uuid.uuid4().hex
    keys = [key(ws, f"part{i}.bin", owner=owner) for i in range(3)]
    for i, k in enumerate(keys):
        media.put_bytes(k, bytes([i]) * (i + 1))
    other = key(ws, "elsewhere.bin")
    media.put_bytes(other, b"x")

    prefix = object_key(ws, "sources", owner) + "/"
    listed = list(media.list(prefix))
    assert [o.key for o in listed] == keys
    assert [o.size for o in listed] == [1, 2, 3]
    assert other in {o.key for o in media.list(workspace_prefix(ws))}

    media.delete(keys[0])
    assert media.head(keys[0]) is None
    media.delete(keys[0])  # deleting twice is fine
    assert len(media.delete_prefix(prefix)) == 2
    assert list(media.list(prefix)) == []
    assert media.head(other) is not None


def test_missing_object_is_not_found(media, ws):
    with pytest.raises(ObjectNotFoundError):
        media.read_bytes(key(ws, "missing.bin"))


def test_presigned_get_serves_the_bytes_with_a_download_name(media, ws):
    k = key(ws, "clip.mp4")
    media.put_bytes(k, b"\x00\x01video bytes", content_type="video/mp4")
    url = media.presign_get(k, download_name='My "best" clip.mp4', expires_in=60)
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200
    assert resp.content == b"\x00\x01video bytes"
    assert resp.headers["Content-Disposition"] == content_disposition('My "best" clip.mp4')
    assert 'filename="My _best_ clip.mp4"' in resp.headers["Content-Disposition"]
    # Without the signature the object is private.
    assert requests.get(url.split("?")[0], timeout=10).status_code == 403


def _post(upload, body: bytes, content_type: str | None = None):
    fields = dict(upload.fields)
    if content_type is not None:
        fields["Content-Type"] = content_type
    return requests.post(upload.url, data=fields, files={"file": ("v.mp4", body)}, timeout=30)


def test_presigned_upload_accepts_a_video(media, ws):
    k = key(ws, "upload.mp4")
    up = media.presign_upload(
        k, content_type="video/mp4", max_bytes=4096, allowed_content_types=VIDEO_TYPES
    )
    resp = _post(up, b"v" * 4000)
    assert resp.status_code in (200, 201, 204), resp.text
    head = media.head(k)
    assert head is not None
    assert head.size == 4000
    assert head.content_type == "video/mp4"


def test_presigned_upload_refuses_an_oversized_body(media, ws):
    k = key(ws, "too-big.mp4")
    up = media.presign_upload(
        k, content_type="video/mp4", max_bytes=4096, allowed_content_types=VIDEO_TYPES
    )
    resp = _post(up, b"v" * 5000)
    assert resp.status_code in (400, 403), resp.text
    assert "EntityTooLarge" in resp.text
    assert media.head(k) is None


def test_presigned_upload_refuses_another_content_type(media, ws):
    k = key(ws, "page.mp4")
    up = media.presign_upload(
        k, content_type="video/mp4", max_bytes=4096, allowed_content_types=VIDEO_TYPES
    )
    resp = _post(up, b"<html>", content_type="text/html")
    assert resp.status_code == 403, resp.text
    assert media.head(k) is None


def test_presigned_upload_is_only_signed_for_video_types(media, ws):
    with pytest.raises(ValueError, match="not a video type"):
        media.presign_upload(
            key(ws, "x.html"),
            content_type="text/html",
            max_bytes=10,
            allowed_content_types=VIDEO_TYPES,
        )


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("../../etc/passwd", id="dotdot"),
        pytest.param("/absolute/key", id="leading-slash"),
        pytest.param("{other}/sources/x.mp4", id="foreign-workspace"),
        pytest.param("{ws}/sources/../../{other}/x", id="climb-out"),
    ],
)
def test_malicious_keys_are_refused_before_reaching_s3(media, ws, bad):
    k = bad.format(ws=ws, other=uuid.uuid4().hex)
    for call in (
        lambda: media.put_bytes(k, b"x"),
        lambda: media.read_bytes(k),
        lambda: media.head(k),
        lambda: media.delete(k),
        lambda: list(media.list(k)),
        lambda: media.presign_get(k),
        lambda: media.presign_upload(
            k, content_type="video/mp4", max_bytes=1, allowed_content_types=VIDEO_TYPES
        ),
    ):
        with pytest.raises(UnsafeKeyError):
            call()


def test_two_buckets_are_separate(buckets, ws):
    k = key(ws, "clip.mp4")
    buckets.generated.scoped(ws).put_bytes(k, b"generated")
    assert buckets.media.scoped(ws).head(k) is None
    assert buckets.generated.scoped(ws).read_bytes(k) == b"generated"


@pytest.mark.parametrize(
    ("name", "ascii_part"),
    [
        pytest.param("talk.mp4", 'filename="talk.mp4"', id="plain"),
        pytest.param("../../etc/passwd", 'filename="passwd"', id="path"),
        pytest.param(
            'a"b\r\nX-Evil: 1.mp4', 'filename="a_b__X-Evil_ 1.mp4"', id="header-injection"
        ),
        pytest.param("Café déjà.mp4", 'filename="Caf_ d_j_.mp4"', id="unicode"),
    ],
)
def test_content_disposition_is_safe_for_any_name(name, ascii_part):
    header = content_disposition(name)
    assert header.startswith("attachment; ")
    assert ascii_part in header
    assert "\r" not in header
    assert "\n" not in header
