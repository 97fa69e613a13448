"""Blobs as objects in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, Cloudflare R2), via boto3.

Keys are the catalog's content-addressed keys under an optional prefix: `s3://bucket/prefix` stores
"ab/abcd....jpg" as the object "prefix/ab/abcd....jpg".

Complete or absent: a single PutObject is atomic (readers see the old object, or none, or the whole
new one), and the request carries a Content-MD5 so a body damaged on the way is refused instead of
stored. Bodies above `multipart_threshold` go up as a multipart upload, which is invisible until
CompleteMultipartUpload succeeds; a failed one is aborted, and one abandoned by a crash is aborted
by `sweep_temporary` (the orphan sweep), like the filesystem store's leftover temp files.
A PutObject that returned is durable (S3's own guarantee), which is what a 201 needs.

Options may also be given in the URL's query, so that two stores with different endpoints can be
named on one command line (`migrate-storage`):
`s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=eu-west-1&profile=old-account`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import mimetypes
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from backend.storage.base import BlobInfo, StorageFull, StorageUnavailable

MULTIPART_THRESHOLD = 16 * 1024 * 1024
PART_SIZE = 8 * 1024 * 1024  # S3's minimum part size is 5 MiB (except the last part)
IMMUTABLE = "public, max-age=31536000, immutable"
_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
          "webp": "image/webp"}  # fmt: skip
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_FULL = {"QuotaExceeded", "StorageFull", "EntityTooLarge", "XMinioStorageFull"}
_UNAVAILABLE = {"ServiceUnavailable", "SlowDown", "InternalError", "AccessDenied", "503", "500"}


def _content_type(key: str) -> str:
    ext = key.rsplit(".", 1)[-1].lower() if "." in key else ""
    return _TYPES.get(ext) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}  # None on a timeout
    return str(response.get("Error", {}).get("Code", ""))


def _raise_storage_error(exc: Exception) -> None:
    """Raise the store's own exception when `exc` means full, or unreachable or refusing."""
    from botocore.exceptions import ConnectionError, HTTPClientError, IncompleteReadError

    code = _error_code(exc)
    if code in _FULL:
        raise StorageFull("The server's storage is full.") from exc
    if code in _UNAVAILABLE or isinstance(
        exc, ConnectionError | HTTPClientError | IncompleteReadError
    ):
        raise StorageUnavailable(f"The object store cannot be used: {code or exc}.") from exc


class S3Store:
    """A BlobStore over one bucket and prefix. Thread-safe (boto3 clients are)."""

    list_page = 1000  # keys per listing request (S3's most): what a sweep holds at a time

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: Any = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        profile: str | None = None,
        public_url: str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
        max_connections: int = 64,
        connect_timeout: int = 5,
        read_timeout: int = 10,
        max_attempts: int = 3,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.public_url = (public_url or "").rstrip("/")
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        if client is None:
            client = _make_client(
                endpoint_url=endpoint_url,
                region=region,
                access_key_id=access_key_id,
                secret_access_key=secret_access_key,
                profile=profile,
                max_connections=max_connections,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                max_attempts=max_attempts,
            )
        self.client = client

    @classmethod
    def from_url(cls, url: str, **options: Any) -> S3Store:
        """`s3://bucket/prefix[?endpoint=...&region=...&profile=...]`; the query wins."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"not an S3 URL: {url!r} (expected s3://bucket/prefix)")
        query = dict(parse_qsl(parts.query))
        names = {"endpoint": "endpoint_url", "endpoint_url": "endpoint_url", "region": "region",
                 "profile": "profile", "public_url": "public_url"}  # fmt: skip
        for name, value in query.items():
            if name not in names:
                raise ValueError(f"unknown option {name!r} in the S3 URL {url!r}")
            options[names[name]] = value
        options = {k: v for k, v in options.items() if v not in (None, "")}
        return cls(parts.netloc, parts.path, **options)

    def __repr__(self) -> str:
        return f"S3Store(s3://{self.bucket}/{self.prefix})"

    # -- keys -----------------------------------------------------------------------------------
    def object_key(self, key: str) -> str:
        # Keys come from the catalog (hex digests), never from clients; refuse anything odd anyway.
        if not key or key.startswith(("/", ".")) or ".." in key or "\\" in key:
            raise ValueError(f"bad blob key {key!r}")
        return self.prefix + key

    # -- BlobStore ------------------------------------------------------------------------------
    def put(self, key: str, data: bytes) -> None:
        object_key = self.object_key(key)
        extra = {"ContentType": _content_type(key), "CacheControl": IMMUTABLE}
        try:
            if len(data) > self.multipart_threshold:
                self._put_multipart(object_key, data, extra)
            else:
                md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
                self.client.put_object(
                    Bucket=self.bucket, Key=object_key, Body=data, ContentMD5=md5, **extra
                )
        except Exception as exc:
            _raise_storage_error(exc)
            raise

    def _put_multipart(self, object_key: str, data: bytes, extra: dict[str, str]) -> None:
        upload_id = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=object_key, **extra
        )["UploadId"]
        try:
            parts = []
            view = memoryview(data)
            for number, start in enumerate(range(0, len(data), self.part_size), start=1):
                chunk = bytes(view[start : start + self.part_size])
                md5 = base64.b64encode(hashlib.md5(chunk, usedforsecurity=False).digest()).decode()
                etag = self.client.upload_part(
                    Bucket=self.bucket,
                    Key=object_key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                    ContentMD5=md5,
                )["ETag"]
                parts.append({"PartNumber": number, "ETag": etag})
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=object_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            with contextlib.suppress(Exception):  # else the sweep aborts it later
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=object_key, UploadId=upload_id
                )
            raise

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except Exception as exc:
            if _error_code(exc) in _NOT_FOUND:
                raise KeyError(key) from None
            _raise_storage_error(exc)
            raise
        # Not `with response["Body"] as ...`: that yields urllib3's raw stream, whose errors
        # botocore's StreamingBody.read would have mapped (and whose length it checks).
        body = response["Body"]
        try:
            return body.read()
        except Exception as exc:  # the store broke off or stalled after its headers
            _raise_storage_error(exc)
            raise
        finally:
            body.close()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except Exception as exc:
            if _error_code(exc) in _NOT_FOUND:
                return False
            _raise_storage_error(exc)
            raise
        return True

    def delete(self, key: str) -> None:
        # DeleteObject of a missing key succeeds on S3 (and on every compatible store we know).
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        except Exception as exc:
            _raise_storage_error(exc)
            raise

    def list(self) -> Iterator[BlobInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket, Prefix=self.prefix, PaginationConfig={"PageSize": self.list_page}
        )
        for page in pages:
            for item in page.get("Contents", ()):
                yield BlobInfo(
                    item["Key"][len(self.prefix) :],
                    int(item["Size"]),
                    item["LastModified"].timestamp(),
                )

    def local_path(self, key: str) -> Path | None:
        return None

    def sweep_temporary(self, older_than: float) -> int:
        """Abort multipart uploads left behind (by a crash) for longer than `older_than` s."""
        cutoff = time.time() - older_than
        aborted = 0
        paginator = self.client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for upload in page.get("Uploads", ()):
                if upload["Initiated"].timestamp() > cutoff:
                    continue
                try:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    aborted += 1
                except Exception as exc:
                    if _error_code(exc) != "NoSuchUpload":  # another replica was quicker
                        raise
        return aborted

    # -- direct links ---------------------------------------------------------------------------
    def url(
        self,
        key: str,
        *,
        expires_in: int,
        content_type: str | None = None,
        cache_control: str | None = None,
        content_disposition: str | None = None,
    ) -> str:
        """Where a client can fetch the object itself: the public URL when configured (a CDN or
        a public bucket), else a presigned GET valid for `expires_in` seconds, with the response
        headers the app would have sent (S3 lets a signed URL override them)."""
        object_key = self.object_key(key)
        if self.public_url:
            return f"{self.public_url}/{quote(object_key)}"
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": object_key}
        if content_type:
            params["ResponseContentType"] = content_type
        if cache_control:
            params["ResponseCacheControl"] = cache_control
        if content_disposition:
            params["ResponseContentDisposition"] = content_disposition
        return self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=max(1, int(expires_in))
        )


def _make_client(
    *,
    endpoint_url: str | None,
    region: str | None,
    access_key_id: str | None,
    secret_access_key: str | None,
    profile: str | None,
    max_connections: int,
    connect_timeout: int,
    read_timeout: int,
    max_attempts: int,
):
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
    region = region or session.region_name or "us-east-1"
    config = Config(
        signature_version="s3v4",
        # Custom endpoints (MinIO, a test server on 127.0.0.1) want path-style addressing.
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # The HTTP layer runs up to 40 blocking calls at once; let each have a connection.
        max_pool_connections=max_connections,
        # Only compute checksums where S3 requires them: many S3-compatible stores do not yet
        # understand the newer flexible checksums. We send Content-MD5 ourselves.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return session.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region,
        aws_access_key_id=access_key_id or None,
        aws_secret_access_key=secret_access_key or None,
        config=config,
    )
