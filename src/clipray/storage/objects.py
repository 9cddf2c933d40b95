"""The object store: one small interface over boto3 that the rest of clipray uses.

Works against any S3-compatible endpoint (AWS S3, R2, MinIO, SeaweedFS). Every key passes
:func:`clipray.storage.keys.check_key` first; a store made with :meth:`ObjectStore.scoped`
also refuses keys of other workspaces.

    >>> buckets = open_buckets(endpoint, settings)          # doctest: +SKIP
    >>> media = buckets.media.scoped(workspace_id)           # doctest: +SKIP
    >>> media.put_file(key, "talk.mp4", content_type="video/mp4")  # doctest: +SKIP
    >>> url = media.presign_get(key, download_name="talk.mp4")     # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from clipray.domain.errors import CodedError
from clipray.storage.keys import UnsafeKeyError, check_key

if TYPE_CHECKING:
    from clipray.config import Settings

_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})


class StorageError(CodedError):
    """An object store call failed for a reason other than a missing object (503
    ``STORAGE_UNAVAILABLE``, retryable: the store is down or unreachable for now)."""

    code = "STORAGE_UNAVAILABLE"
    status = 503
    retryable = True

    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(type(self).code, message, **kw)


class ObjectNotFoundError(CodedError, LookupError):
    """The key (or its bucket) does not exist (404 ``OBJECT_NOT_FOUND``)."""

    code = "OBJECT_NOT_FOUND"
    status = 404

    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(type(self).code, message, **kw)


@dataclass(frozen=True)
class S3Endpoint:
    """Where and as whom to reach S3. ``url=None`` means AWS's own endpoints."""

    url: str | None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    region: str = "us-east-1"
    addressing_style: str = "path"


@dataclass(frozen=True)
class ObjectInfo:
    """What ``head`` and ``list`` tell about one object."""

    key: str
    size: int
    etag: str
    last_modified: datetime | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class PresignedUpload:
    """A browser-style POST upload: send ``fields`` plus the file (last) to ``url``."""

    url: str
    fields: dict[str, str]
    key: str
    max_bytes: int
    content_type: str
    expires_in: int


def make_client(endpoint: S3Endpoint) -> Any:
    """A boto3 S3 client for ``endpoint`` (SigV4, retries with backoff)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint.url,
        aws_access_key_id=endpoint.access_key_id,
        aws_secret_access_key=endpoint.secret_access_key,
        region_name=endpoint.region,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": endpoint.addressing_style},
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        ),
    )


def content_disposition(download_name: str) -> str:
    """An ``attachment`` header naming the file, safe for any name a user gave it.

    Quotes, separators and control characters are dropped from the ASCII fallback; the
    full name travels RFC 5987-encoded in ``filename*``.
    """
    base = os.path.basename(download_name.replace("\\", "/")) or "download"
    ascii_name = re.sub(r"[^A-Za-z0-9._ ()-]", "_", base).strip() or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(base, safe='')}"


def download_name(title: str, suffix: str) -> str:
    """The file name a download is saved under: the title (without path separators, at most
    60 characters, ``clip`` when empty) and ``suffix``; :func:`content_disposition` makes
    it safe for the header."""
    stem = title.replace("/", "_").replace("\\", "_").strip()[:60].strip()
    return f"{stem or 'clip'}{suffix}"


class ObjectStore:
    """One bucket, optionally scoped to one workspace."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        transfer: TransferConfig | None = None,
        workspace_id: str | None = None,
        presign_expiry_s: int = 3600,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.workspace_id = workspace_id
        self.transfer = transfer or TransferConfig()
        self.presign_expiry_s = presign_expiry_s

    def scoped(self, workspace_id: str) -> ObjectStore:
        """The same bucket, refusing every key outside ``workspace_id``."""
        return ObjectStore(
            self.client,
            self.bucket,
            transfer=self.transfer,
            workspace_id=workspace_id,
            presign_expiry_s=self.presign_expiry_s,
        )

    def _key(self, key: str) -> str:
        return check_key(key, self.workspace_id)

    # --- buckets --------------------------------------------------------------------------
    def bucket_exists(self) -> bool:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                return False
            raise StorageError(f"bucket {self.bucket}: {exc}") from exc
        return True

    def ensure_bucket(self) -> bool:
        """Create the bucket if it is missing. Returns True when it was created."""
        if self.bucket_exists():
            return False
        try:
            self.client.create_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                return False
            raise StorageError(f"create bucket {self.bucket}: {exc}") from exc
        return True

    # --- writes ---------------------------------------------------------------------------
    def put_file(self, key: str, path: str | Path, content_type: str | None = None) -> ObjectInfo:
        """Upload a local file; multipart above the configured threshold."""
        key = self._key(key)
        extra = {"ContentType": content_type} if content_type else None
        self._call(
            self.client.upload_file,
            str(path),
            self.bucket,
            key,
            ExtraArgs=extra,
            Config=self.transfer,
        )
        return self._head_or_raise(key)

    def put_stream(
        self, key: str, stream: IO[bytes], content_type: str | None = None
    ) -> ObjectInfo:
        """Upload from a readable binary stream; multipart above the threshold."""
        key = self._key(key)
        extra = {"ContentType": content_type} if content_type else None
        self._call(
            self.client.upload_fileobj,
            stream,
            self.bucket,
            key,
            ExtraArgs=extra,
            Config=self.transfer,
        )
        return self._head_or_raise(key)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo:
        """Upload a small object in one request."""
        key = self._key(key)
        extra = {"ContentType": content_type} if content_type else {}
        self._call(self.client.put_object, Bucket=self.bucket, Key=key, Body=data, **extra)
        return self._head_or_raise(key)

    # --- reads ----------------------------------------------------------------------------
    def head(self, key: str) -> ObjectInfo | None:
        """Metadata of ``key``, or None if it does not exist."""
        key = self._key(key)
        try:
            meta = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                return None
            raise StorageError(f"head {self.bucket}/{key}: {exc}") from exc
        return ObjectInfo(
            key=key,
            size=int(meta["ContentLength"]),
            etag=meta.get("ETag", "").strip('"'),
            last_modified=meta.get("LastModified"),
            content_type=meta.get("ContentType"),
        )

    def iter_bytes(self, key: str, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """Stream the object's bytes without holding it in memory."""
        key = self._key(key)
        resp = self._call(self.client.get_object, Bucket=self.bucket, Key=key)
        body = resp["Body"]
        try:
            yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def read_bytes(self, key: str) -> bytes:
        """The whole object in memory; for small artifacts only."""
        return b"".join(self.iter_bytes(key))

    def download(self, key: str, path: str | Path) -> Path:
        """Download to ``path`` atomically: a partial file never appears under that name."""
        key = self._key(key)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        os.close(fd)
        try:
            self._call(self.client.download_file, self.bucket, key, tmp, Config=self.transfer)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under ``prefix`` (a key prefix inside a workspace), in key order."""
        prefix = self._key(prefix)
        return self._objects(f"list {self.bucket}/{prefix}", Prefix=prefix)

    def list_all(self) -> Iterator[ObjectInfo]:
        """Every object of the bucket, across workspaces: for the retention actor's
        reconciliation, which owns the app bucket (refused on a workspace-scoped store)."""
        if self.workspace_id is not None:
            raise UnsafeKeyError("a workspace-scoped store cannot list the whole bucket")
        return self._objects(f"list {self.bucket}")

    def _objects(self, what: str, **params: str) -> Iterator[ObjectInfo]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, **params)
        try:
            for page in pages:
                for obj in page.get("Contents", []):
                    yield ObjectInfo(
                        key=obj["Key"],
                        size=int(obj["Size"]),
                        etag=obj.get("ETag", "").strip('"'),
                        last_modified=obj.get("LastModified"),
                    )
        except ClientError as exc:
            raise StorageError(f"{what}: {exc}") from exc

    # --- deletes --------------------------------------------------------------------------
    def delete(self, key: str) -> None:
        """Delete ``key``; deleting a missing key is not an error (S3 semantics)."""
        key = self._key(key)
        self._call(self.client.delete_object, Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> list[ObjectInfo]:
        """Delete everything under ``prefix``, 1000 keys a request. Returns what it deleted."""
        found = list(self.list(prefix))
        keys = [o.key for o in found]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            resp = self._call(
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": batch, "Quiet": True},
            )
            if resp.get("Errors"):
                raise StorageError(f"delete under {prefix}: {resp['Errors'][:3]}")
        return found

    # --- presigning -----------------------------------------------------------------------
    def presign_get(
        self, key: str, *, expires_in: int | None = None, download_name: str | None = None
    ) -> str:
        """A URL that GETs the object; ``download_name`` makes browsers save it under that name."""
        params = {"Bucket": self.bucket, "Key": self._key(key)}
        if download_name:
            params["ResponseContentDisposition"] = content_disposition(download_name)
        return self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires_in or self.presign_expiry_s
        )

    def presign_upload(
        self,
        key: str,
        *,
        content_type: str,
        max_bytes: int,
        allowed_content_types: tuple[str, ...],
        expires_in: int | None = None,
    ) -> PresignedUpload:
        """A POST policy that only accepts ``content_type`` and at most ``max_bytes``.

        The limits live in the signed policy, so the S3 server itself refuses a larger body
        or another content type: nothing has to trust the client.
        """
        key = self._key(key)
        if content_type not in allowed_content_types:
            raise ValueError(
                f"content type {content_type!r} is not a video type clipray accepts "
                f"({', '.join(allowed_content_types)})"
            )
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        expires = expires_in or self.presign_expiry_s
        post = self.client.generate_presigned_post(
            self.bucket,
            key,
            Fields={"Content-Type": content_type},
            Conditions=[
                ["content-length-range", 1, max_bytes],
                {"Content-Type": content_type},
            ],
            ExpiresIn=expires,
        )
        return PresignedUpload(
            url=post["url"],
            fields=dict(post["fields"]),
            key=key,
            max_bytes=max_bytes,
            content_type=content_type,
            expires_in=expires,
        )

    # --- helpers --------------------------------------------------------------------------
    def _head_or_raise(self, key: str) -> ObjectInfo:
        info = self.head(key)
        if info is None:
            raise StorageError(f"{self.bucket}/{key} missing right after upload")
        return info

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                raise ObjectNotFoundError(f"{self.bucket}: {exc}") from exc
            raise StorageError(f"{self.bucket}: {exc}") from exc


NO_GENERATED_BUCKET = "no app-owned bucket is configured (CLIPRAY_GENERATED_BUCKET)"


@dataclass(frozen=True)
class Buckets:
    """The two buckets clipray writes to."""

    media: ObjectStore
    """Workspace media: sources, analysis artifacts, exports."""
    generated: ObjectStore | None
    """App-owned generated clips: ephemeral, purged by the retention actor. None where no
    bucket is configured (``CLIPRAY_GENERATED_BUCKET`` empty): generation is skipped."""

    @property
    def stores(self) -> list[ObjectStore]:
        return [s for s in (self.media, self.generated) if s is not None]

    def generation_problem(self) -> str | None:
        """Why generated clips cannot be stored now (no bucket configured, or it is missing
        or unreachable), or None when they can."""
        if self.generated is None:
            return f"{NO_GENERATED_BUCKET}, so no generated clip was stored"
        try:
            if self.generated.bucket_exists():
                return None
            problem = "does not exist"
        except Exception as exc:  # StorageError, or botocore's connection errors
            problem = f"is not reachable ({str(exc).splitlines()[0][:200]})"
        name = self.generated.bucket
        return f"the app-owned bucket {name} {problem}, so no generated clip was stored"

    def ensure(self) -> list[str]:
        """Create missing buckets; returns the names created."""
        return [s.bucket for s in self.stores if s.ensure_bucket()]


def open_buckets(endpoint: S3Endpoint, settings: Settings) -> Buckets:
    """Both buckets on one client, with the configured multipart and presign settings."""
    client = make_client(endpoint)
    transfer = TransferConfig(
        multipart_threshold=settings.multipart_threshold,
        multipart_chunksize=settings.multipart_chunk_size,
    )

    def store(bucket: str) -> ObjectStore:
        return ObjectStore(
            client, bucket, transfer=transfer, presign_expiry_s=settings.presign_expiry_s
        )

    generated = store(settings.generated_bucket) if settings.generated_bucket else None
    return Buckets(media=store(settings.media_bucket), generated=generated)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
