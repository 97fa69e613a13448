"""Serving images, thumbnails and the viewer page, by the rules of serving.py."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from backend.catalog import ImageRecord
from backend.errors import NotFound
from backend.http.body import ClientGone
from backend.http.models import LOOKUP_RESPONSES
from backend.http.serving import (
    DirectLocation,
    content_disposition,
    direct_location,
    etag_matches,
    image_etag,
    image_headers,
    not_modified,
    send_bytes,
    send_direct,
    thumbnail_etag,
)
from backend.images import FORMATS
from backend.service import ImageService

router = APIRouter()

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


@router.head("/t/{image_id}.webp", include_in_schema=False)
@router.get(
    "/t/{image_id}.webp",
    summary="Thumbnail (WebP, 320 px)",
    response_class=Response,
    responses=THUMBNAIL_RESPONSES,
)
async def thumbnail(request: Request, image_id: str) -> Response:
    service: ImageService = request.app.state.service
    client_etag = request.headers.get("if-none-match")

    def stored() -> tuple[ImageRecord, bytes | None, bool]:
        """The record, its stored thumbnail, and whether the client's copy is current (then the
        thumbnail is not read: a revalidation costs one catalog read)."""
        record = service.lookup(image_id)
        if etag_matches(client_etag, thumbnail_etag(record)):
            return record, None, True
        return record, service.stored_thumbnail(record), False

    record, data, current = await anyio.to_thread.run_sync(stored)
    if current:
        etag = thumbnail_etag(record)
        return not_modified(image_headers(record, service.clock(), etag))
    if data is None:  # made once, however many ask at the same time
        try:
            data = await request.app.state.image_work.once(
                record.sha256,
                request,
                lambda: service.thumbnail_memory(record),
                lambda: service.thumbnail(record),
                extra_memory=record.size,  # the image's bytes, which both read
            )
        except ClientGone:
            return Response(status_code=400)  # nobody is listening; the status is for the log
    etag = thumbnail_etag(record)
    headers = image_headers(record, service.clock(), etag)
    return send_bytes(request, data, media_type="image/webp", etag=etag, headers=headers)


@router.head("/{image_id}.{ext}", include_in_schema=False)
@router.get(
    "/{image_id}.{ext}", summary="The image", response_class=Response, responses=IMAGE_RESPONSES
)
async def image(request: Request, image_id: str, ext: str) -> Response:
    if ext.lower() not in KNOWN_EXTS:
        raise NotFound()
    service: ImageService = request.app.state.service
    settings = request.app.state.settings
    client_etag = request.headers.get("if-none-match")

    def load() -> tuple[ImageRecord, bytes | DirectLocation | None]:
        """The record and its bytes (or where they are), none when the bytes are not needed: a
        redirect to the canonical name, or a revalidation (it costs one catalog read)."""
        record = service.lookup(image_id)
        if ext != record.ext or etag_matches(client_etag, image_etag(record)):
            return record, None
        direct = direct_location(settings, service, record, service.clock())
        return record, direct or service.blob(record)

    record, data = await anyio.to_thread.run_sync(load)
    if ext != record.ext:  # same image, canonical name: /abc.jpeg or /abc.png -> /abc.jpg
        return RedirectResponse(f"/{record.id}.{record.ext}", status_code=308)
    etag = image_etag(record)
    headers = image_headers(record, service.clock(), etag)
    headers["Content-Disposition"] = content_disposition(record)
    if data is None:
        return not_modified(headers)
    if isinstance(data, DirectLocation):
        return send_direct(data, record, headers)
    return send_bytes(request, data, media_type=record.mime, etag=etag, headers=headers)


@router.head("/{image_id}", include_in_schema=False)  # link checkers ask with HEAD
@router.get(
    "/{image_id}", summary="Viewer page", response_class=Response, responses=VIEWER_RESPONSES
)
async def viewer(request: Request, image_id: str) -> Response:
    service: ImageService = request.app.state.service
    record = await anyio.to_thread.run_sync(service.lookup, image_id)
    return request.app.state.pages.viewer(request, record)
