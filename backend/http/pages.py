"""HTML pages: the upload page, the viewer, the delete confirmation, errors.

Rendered with Jinja2 (autoescaping on). Pages load only same-origin assets under a strict CSP;
asset URLs carry a content hash so they can be cached forever.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.staticfiles import StaticFiles

from backend import __version__, ids
from backend.catalog import ImageRecord
from backend.errors import Forbidden
from backend.http.models import UploadResult, base_url, image_meta
from backend.moderation import REASON_LABELS
from backend.service import ImageService
from backend.settings import EXPIRY_CHOICES, Settings

HERE = Path(__file__).parent
STATIC = HERE / "static"

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)


class ImmutableStatic(StaticFiles):
    """Static assets are requested by content-hashed URL, so they never change under a name."""

    async def get_response(self, path: str, scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def static_files() -> StaticFiles:
    return ImmutableStatic(directory=STATIC)


@cache
def _asset_hash(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def asset_url(name: str) -> str:
    return f"/static/{name}?v={_asset_hash(name)}"


class Pages:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(asset_url=asset_url, version=__version__)

    def render(
        self,
        request: Request,
        template: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **context,
    ) -> HTMLResponse:
        html = self.env.get_template(template).render(base_url=base_url(request), **context)
        return HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})

    def home(self, request: Request) -> HTMLResponse:
        return self.render(
            request,
            "home.html",
            max_mb=self.settings.max_bytes / 1024 / 1024,
            expiry_choices=list(EXPIRY_CHOICES),
        )

    def viewer(self, request: Request, record: ImageRecord) -> HTMLResponse:
        return self.render(
            request, "viewer.html", image=image_meta(request, record), report_reasons=REASON_LABELS
        )

    def uploaded(self, request: Request, result: UploadResult) -> HTMLResponse:
        return self.render(request, "uploaded.html", status=201, image=result)

    def confirm_delete(self, request: Request, record: ImageRecord, token: str) -> HTMLResponse:
        return self.render(request, "delete.html", image=image_meta(request, record), token=token)

    def deleted(self, request: Request) -> HTMLResponse:
        return self.render(request, "deleted.html")

    def reported(self, request: Request, image_id: str) -> HTMLResponse:
        return self.render(request, "reported.html", image_id=image_id)

    def removed(
        self, request: Request, message: str, headers: dict[str, str] | None = None
    ) -> HTMLResponse:
        return self.render(request, "removed.html", status=451, headers=headers, message=message)

    def error(
        self, request: Request, status: int, message: str, headers: dict[str, str] | None = None
    ) -> HTMLResponse:
        return self.render(
            request,
            "error.html",
            status=status,
            headers=headers,
            status_code=status,
            message=message,
        )


@router.get("/")
async def home(request: Request) -> Response:
    return request.app.state.pages.home(request)


def _check_delete_link(service: ImageService, image_id: str, token: str) -> ImageRecord:
    record = service.lookup_any(image_id)
    if not ids.token_matches(token, record.delete_token_hash):
        raise Forbidden("This delete link is not valid for this image.")
    return record


@router.get("/delete/{image_id}/{token}")
async def confirm_delete(request: Request, image_id: str, token: str) -> Response:
    """Shows what would be deleted; deletes nothing (link-preview bots follow GET links)."""
    service: ImageService = request.app.state.service
    record = await anyio.to_thread.run_sync(_check_delete_link, service, image_id, token)
    return request.app.state.pages.confirm_delete(request, record, token)


@router.post("/delete/{image_id}/{token}")
async def delete_by_link(request: Request, image_id: str, token: str) -> Response:
    service: ImageService = request.app.state.service
    await anyio.to_thread.run_sync(service.delete, image_id, token)
    return request.app.state.pages.deleted(request)


@router.get("/robots.txt")
async def robots() -> Response:
    # Viewer pages are unlisted by design; keep crawlers from indexing them.
    return Response("User-agent: *\nDisallow: /\n", media_type="text/plain")
