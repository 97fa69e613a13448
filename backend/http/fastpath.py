"""The hot path of the service, `GET|HEAD /{id}.{ext}` of a cached image, as plain ASGI.

FastAPI's routing, dependency machinery, response objects and the hop to a worker thread cost
several times more than sending a cached 450 KB image. This layer sits inside the access log and
the abuse guard (so both still see every request) and answers the common case itself: a plain
GET or HEAD (no Range, no conditional headers) of a live image under its canonical name whose
bytes are in the service's cache — or, behind nginx with PICDROP_X_ACCEL_REDIRECT, the headers
that hand the file to nginx — with the same status, headers and body as the route in
routes_serve.py. Everything else — a cache miss, a conditional or range request, an unknown,
deleted, expired or removed image, a non-canonical extension, redirects to S3, a catalog that
cannot answer without waiting — goes to the app unchanged, which gives the exact answer (and
fills the cache).

The row is read from the database on every request (a point read through sqlite3 that never
waits: backend.catalog.Catalog.get_nowait), never cached, so a delete, expiry or removal shows
at once here and on the next request in any other process sharing the catalog.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from backend import ids
from backend.catalog import WouldBlock
from backend.http.routes_serve import IMAGE_HEADERS
from backend.service import ImageService, image_cache_control

_PATH = re.compile(r"/([0-9A-Za-z]{10,32})\.(jpg|png|gif|webp)")
# Request headers that need the full route's logic (ranges, conditional requests).
_NEEDS_ROUTE = frozenset((b"range", b"if-none-match", b"if-range"))
_STATIC_HEADERS = [(k.lower().encode(), v.encode()) for k, v in IMAGE_HEADERS.items()]


class FastImages:
    def __init__(self, app: ASGIApp, service: ImageService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            response = self._answer(scope)
            if response is not None:
                head, body = response
                await send(head)
                await send(body)
                return
        await self.app(scope, receive, send)

    def _answer(self, scope: Scope) -> tuple[dict, dict] | None:
        match = _PATH.fullmatch(scope["path"])
        if match is None:
            return None
        for name, _value in scope["headers"]:
            if name in _NEEDS_ROUTE:
                return None
        image_id, ext = match.groups()
        service = self.service
        if not ids.is_valid_id(image_id):
            return None
        try:
            record = service.catalog.get_nowait(image_id)
        except WouldBlock:
            return None
        now = service.clock()
        if record is None or record.ext != ext or record.removed_at is not None:
            return None
        if record.expired(now):
            return None
        common = [
            (b"content-type", record.mime.encode()),
            *_STATIC_HEADERS,
            (b"cache-control", image_cache_control(record, now).encode()),
            (b"content-disposition", f'inline; filename="{record.id}.{record.ext}"'.encode()),
        ]
        if service.may_serve_directly:
            # nginx sends the file (X-Accel-Redirect): the answer is headers only, as in
            # routes_serve._direct. Redirects to S3 stay with the route (they presign URLs).
            if service.settings.s3_serve == "redirect":
                return None
            location = service.direct_location(record)
            if location is None or location.accel_path is None:
                return None
            headers = [
                (b"content-length", b"0"),
                *common,
                (b"x-accel-redirect", location.accel_path.encode()),
            ]
            body = b""
        else:
            data = service.cache.get(record.blob_key)
            if data is None:
                return None
            headers = [
                (b"content-length", str(len(data)).encode()),
                *common,
                (b"etag", f'"{record.sha256}"'.encode()),
            ]
            body = b"" if scope["method"] == "HEAD" else data
        return (
            {"type": "http.response.start", "status": 200, "headers": headers},
            {"type": "http.response.body", "body": body, "more_body": False},
        )
