"""How an image leaves the server: caching, validators, ranges, and who sends the bytes.

Images are immutable (content-addressed), so they get a strong ETag (the SHA-256), a year of
`immutable` caching (less for an upload that expires sooner), conditional and range requests; and
headers that keep a browser from ever treating one as anything but an image. Their bytes are
sent by the app, by nginx (X-Accel-Redirect, filesystem store) or by the object store itself (a
302 to a presigned or public URL). The route (routes_serve.py) and the fast path (fastpath.py)
both answer by these rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from backend.catalog import ImageRecord
from backend.service import ImageService
from backend.settings import Settings

YEAR = 31536000
IMMUTABLE = f"public, max-age={YEAR}, immutable"
IMAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Accept-Ranges": "bytes",
}


def cache_control(record: ImageRecord, now: float) -> str:
    """A year and immutable (the bytes never change); less for an upload that expires sooner."""
    if record.expires_at is None:
        return IMMUTABLE
    max_age = max(0, min(YEAR, int(record.expires_at - now)))
    return f"public, max-age={max_age}" + (", immutable" if max_age == YEAR else "")


def content_disposition(record: ImageRecord) -> str:
    return f'inline; filename="{record.id}.{record.ext}"'


def image_etag(record: ImageRecord) -> str:
    return f'"{record.sha256}"'


def thumbnail_etag(record: ImageRecord) -> str:
    return f'"t-{record.sha256}"'


def image_headers(record: ImageRecord, now: float, etag: str) -> dict[str, str]:
    return {**IMAGE_HEADERS, "ETag": etag, "Cache-Control": cache_control(record, now)}


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weakly compared, as RFC 9110 13.1.2 says)."""
    if not header:
        return False
    return header.strip() == "*" or etag in (
        t.strip().removeprefix("W/") for t in header.split(",")
    )


# One range of digits only (int() alone would take "1_0", " 10" or "+1"); `bytes` in any case.
_BYTE_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.IGNORECASE)


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single `bytes=` range; None to send the whole body: several
    ranges (optional in RFC 9110), another unit, or an invalid range, which RFC 9110 (14.2) says
    to ignore.

    Raises ValueError when a valid range cannot be satisfied (416).
    """
    match = _BYTE_RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first == "":
        if last == "":
            return None
        length = int(last)
        if length == 0:
            raise ValueError  # the last zero bytes: valid, never satisfiable
        return max(0, size - length), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise ValueError
    return start, min(end, size - 1)


def not_modified(headers: dict[str, str]) -> Response:
    """304: the client's copy (If-None-Match) is current; images never change under an ETag."""
    return Response(status_code=304, headers=headers)


def send_bytes(
    request: Request,
    data: bytes,
    *,
    media_type: str,
    etag: str,
    headers: dict[str, str],
) -> Response:
    """`data` as the answer to a GET or HEAD: whole, a byte range (206, 416), or 304."""
    if etag_matches(request.headers.get("if-none-match"), etag):
        return not_modified(headers)
    status = 200
    body = data
    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if range_header and (if_range is None or if_range.strip() == etag):
        try:
            window = byte_range(range_header, len(data))
        except ValueError:
            return Response(
                status_code=416, headers={**headers, "Content-Range": f"bytes */{len(data)}"}
            )
        if window is not None:
            start, end = window
            body = data[start : end + 1]
            status = 206
            headers = {**headers, "Content-Range": f"bytes {start}-{end}/{len(data)}"}
    if request.method == "HEAD":
        return Response(
            status_code=status,
            media_type=media_type,
            headers={**headers, "Content-Length": str(len(body))},
        )
    return Response(body, status_code=status, media_type=media_type, headers=headers)


# -- sent by someone else ----------------------------------------------------------------------


@dataclass(frozen=True)
class DirectLocation:
    """Either a path for nginx's X-Accel-Redirect or a URL to send the client to."""

    accel_path: str | None = None
    redirect_url: str | None = None
    redirect_max_age: int = 0


def accel_path(settings: Settings, service: ImageService, record: ImageRecord) -> str | None:
    """The X-Accel-Redirect path of the image's file, when nginx is configured to send it."""
    if settings.x_accel_redirect and service.blob_path(record) is not None:
        return settings.x_accel_redirect.rstrip("/") + "/" + record.blob_key
    return None


def direct_location(
    settings: Settings, service: ImageService, record: ImageRecord, now: float
) -> DirectLocation | None:
    """Where the image's bytes can be fetched without the app sending them, if configured:
    an X-Accel-Redirect path for nginx (filesystem store), or a URL to redirect to (S3)."""
    path = accel_path(settings, service, record)
    if path is not None:
        return DirectLocation(accel_path=path)
    if settings.s3_serve != "redirect":
        return None
    remaining = YEAR if record.expires_at is None else int(record.expires_at - now)
    lifetime = max(1, min(settings.s3_presign_seconds, remaining))
    url = service.blob_url(
        record,
        expires_in=lifetime,
        cache_control=cache_control(record, now),
        content_disposition=content_disposition(record),
    )
    if url is None:  # a store with no URLs of its own: the app sends the bytes
        return None
    # A browser may keep the redirect while the URL it points to stays valid.
    keep = min(remaining, 3600) if settings.s3_public_url else lifetime // 2
    return DirectLocation(redirect_url=url, redirect_max_age=max(0, keep))


def send_direct(location: DirectLocation, record: ImageRecord, headers: dict[str, str]) -> Response:
    """The answer that hands the image to nginx, or sends the client to the object store."""
    if location.accel_path is not None:
        # nginx sends the file (sendfile, ranges, conditional requests, its own ETag) with our
        # Content-Type, Content-Disposition and Cache-Control; the deploy config adds the rest.
        headers = {k: v for k, v in headers.items() if k != "ETag"}
        headers["X-Accel-Redirect"] = location.accel_path
        return Response(status_code=200, media_type=record.mime, headers=headers)
    assert location.redirect_url is not None
    return RedirectResponse(
        location.redirect_url,
        status_code=302,
        headers={
            "Cache-Control": f"private, max-age={location.redirect_max_age}",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )
