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
waits: ImageService.lookup_nowait), never cached, so a delete, expiry or removal shows at once
here and on the next request in any other process sharing the catalog.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from backend.http.serving import (
    IMAGE_HEADERS,
    accel_path,
    cache_control,
    content_disposition,
    image_etag,
)
from backend.service import ImageService
from backend.settings import Settings

_PATH = re.compile(r"/([0-9A-Za-z]{10,32})\.(jpg|png|gif|webp)")
# Request headers that need the full route's logic (ranges, conditional requests).
_NEEDS_ROUTE = frozenset((b"range", b"if-none-match", b"if-range"))
_STATIC_HEADERS = [(k.lower().encode(), v.encode()) for k, v in IMAGE_HEADERS.items()]


class FastImages:
    def __init__(self, app: ASGIApp, service: ImageService, settings: Settings) -> None:
        self.app = app
        self.service = service
        self.settings = settings
        # With S3_SERVE=redirect every image goes to the route (it presigns URLs); behind nginx
        # (X-Accel-Redirect) the answer is headers only, as in serving.send_direct.
        self.redirects = settings.s3_serve == "redirect"
        self.accel = bool(settings.x_accel_redirect)

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
        if self.redirects:
            return None
        match = _PATH.fullmatch(scope["path"])
        if match is None:
            return None
        for name, _value in scope["headers"]:
            if name in _NEEDS_ROUTE:
                return None
        image_id, ext = match.groups()
        service = self.service
        now = service.clock()
        record = service.lookup_nowait(image_id, now)
        if record is None or record.ext != ext:
            return None
        common = [
            (b"content-type", record.mime.encode()),
            *_STATIC_HEADERS,
            (b"cache-control", cache_control(record, now).encode()),
            (b"content-disposition", content_disposition(record).encode()),
        ]
        if self.accel:
            path = accel_path(self.settings, service, record)
            if path is None:
                return None
            headers = [(b"content-length", b"0"), *common, (b"x-accel-redirect", path.encode())]
            body = b""
        else:
            data = service.cached_blob(record)
            if data is None:
                return None
            headers = [
                (b"content-length", str(len(data)).encode()),
                *common,
                (b"etag", image_etag(record).encode()),
            ]
            body = b"" if scope["method"] == "HEAD" else data
        return (
            {"type": "http.response.start", "status": 200, "headers": headers},
            {"type": "http.response.body", "body": body, "more_body": False},
        )
