"""Serving images, thumbnails and the viewer page.

Images are immutable (content-addressed), so they get a strong ETag (the SHA-256), a year of
`immutable` caching, conditional and range requests; and headers that keep a browser from ever
treating one as anything but an image.
"""

from __future__ import annotations

import re

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from backend.catalog import ImageRecord
from backend.errors import NotFound
from backend.http.body import ClientGone
from backend.http.models import LOOKUP_RESPONSES
from backend.images import FORMATS
from backend.service import DirectLocation, ImageService, image_cache_control

router = APIRouter()

IMAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Accept-Ranges": "bytes",
}
KNOWN_EXTS = {ext for _mime, ext in FORMATS.values()} | {"jpeg"}
IMAGE_RESPONSES = {
    200: {
        "description": "The image, with the type detected from its bytes.",
        "content": {mime: {} for mime, _ext in FORMATS.values()},
    },
    206: {
        "description": "The requested byte range.",
        "content": {mime: {} for mime, _ext in FORMATS.values()},
    },
    304: {"description": "Not modified (If-None-Match)."},
    308: {"description": "The same image under its canonical extension."},
    416: {"description": "The byte range cannot be satisfied."},
    **LOOKUP_RESPONSES,
}
THUMBNAIL_RESPONSES = {
    200: {"description": "The thumbnail.", "content": {"image/webp": {}}},
    206: {"description": "The requested byte range.", "content": {"image/webp": {}}},
    304: {"description": "Not modified (If-None-Match)."},
    416: {"description": "The byte range cannot be satisfied."},
    **LOOKUP_RESPONSES,
}
VIEWER_RESPONSES = {
    200: {"description": "The viewer page.", "content": {"text/html": {}}},
    **LOOKUP_RESPONSES,
}


def _cache_headers(record: ImageRecord, now: float, etag: str) -> dict[str, str]:
    return {**IMAGE_HEADERS, "ETag": etag, "Cache-Control": image_cache_control(record, now)}


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    return header.strip() == "*" or etag in (
        t.strip().removeprefix("W/") for t in header.split(",")
    )


# One range of digits only (int() alone would take "1_0", " 10" or "+1"); `bytes` in any case.
_BYTE_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.IGNORECASE)


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
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


def send_bytes(
    request: Request,
    data: bytes,
    *,
    media_type: str,
    etag: str,
    headers: dict[str, str],
) -> Response:
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    status = 200
    body = data
    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if range_header and (if_range is None or if_range.strip() == etag):
        try:
            window = _byte_range(range_header, len(data))
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


@router.head("/t/{image_id}.webp", include_in_schema=False)
@router.get(
    "/t/{image_id}.webp",
    summary="Thumbnail (WebP, 320 px)",
    response_class=Response,
    responses=THUMBNAIL_RESPONSES,
)
async def thumbnail(request: Request, image_id: str) -> Response:
    service: ImageService = request.app.state.service

    def stored() -> tuple[ImageRecord, bytes | None]:
        record = service.lookup(image_id)
        return record, service.stored_thumbnail(record)

    record, data = await anyio.to_thread.run_sync(stored)
    if data is None:  # made once, however many ask at the same time
        try:
            data = await request.app.state.image_work.once(
                record.sha256,
                request,
                lambda: service.thumbnail_memory(record),
                lambda: service.thumbnail(record),
            )
        except ClientGone:
            return Response(status_code=400)  # nobody is listening; the status is for the log
    etag = f'"t-{record.sha256}"'
    headers = _cache_headers(record, service.clock(), etag)
    return send_bytes(request, data, media_type="image/webp", etag=etag, headers=headers)


@router.head("/{image_id}.{ext}", include_in_schema=False)
@router.get(
    "/{image_id}.{ext}", summary="The image", response_class=Response, responses=IMAGE_RESPONSES
)
async def image(request: Request, image_id: str, ext: str) -> Response:
    if ext.lower() not in KNOWN_EXTS:
        raise NotFound()
    service: ImageService = request.app.state.service

    def load() -> tuple[ImageRecord, bytes | DirectLocation | None]:
        record = service.lookup(image_id)
        if ext != record.ext:
            return record, None
        return record, service.direct_location(record) or service.blob(record)

    record, data = await anyio.to_thread.run_sync(load)
    if data is None:  # same image, canonical name: /abc.jpeg or /abc.png -> /abc.jpg
        return RedirectResponse(f"/{record.id}.{record.ext}", status_code=308)
    etag = f'"{record.sha256}"'
    headers = _cache_headers(record, service.clock(), etag)
    headers["Content-Disposition"] = f'inline; filename="{record.id}.{record.ext}"'
    if isinstance(data, DirectLocation):
        return _direct(data, record, headers)
    return send_bytes(request, data, media_type=record.mime, etag=etag, headers=headers)


def _direct(location: DirectLocation, record: ImageRecord, headers: dict[str, str]) -> Response:
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


@router.head("/{image_id}", include_in_schema=False)  # link checkers ask with HEAD
@router.get(
    "/{image_id}", summary="Viewer page", response_class=Response, responses=VIEWER_RESPONSES
)
async def viewer(request: Request, image_id: str) -> Response:
    service: ImageService = request.app.state.service
    record = await anyio.to_thread.run_sync(service.lookup, image_id)
    return request.app.state.pages.viewer(request, record)
