"""HTML pages: the upload page, the viewer, the delete and report confirmations, errors.

Rendered with Jinja2 (autoescaping on). Pages load only same-origin assets under a strict CSP (no
inline script or style at all); assets are served under content-hashed names
(`picdrop.css` -> `/static/picdrop.1a2b3c4d5e6f.css`), so they can be cached forever and a page
never gets an asset from another version.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import ClassVar
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.types import Receive, Scope, Send

from backend import __version__, ids
from backend.albums import MAX_ALBUM_IMAGES
from backend.catalog import ImageRecord
from backend.errors import Forbidden, NotFound, Removed
from backend.expiry import EXPIRY_CHOICES, EXPIRY_LABELS
from backend.http.body import too_large
from backend.http.errors import HTTP_SENTENCES, error_response
from backend.http.models import ImageMeta, UploadResult, base_url, image_meta, upload_result
from backend.http.serving import IMMUTABLE, etag_matches
from backend.moderation import REASON_LABELS
from backend.service import ImageService
from backend.settings import Settings

HERE = Path(__file__).parent
STATIC = HERE / "static"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)


# -- static assets under content-hashed names ------------------------------------------------------


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str
    gzipped: bytes | None  # text assets, compressed once at start-up


def gzip_once(body: bytes, media_type: str) -> bytes | None:
    """The gzip of a text asset (CSS, JS, SVG), or None where it would not help."""
    if not media_type.startswith(("text/", "image/svg")):
        return None
    packed = gzip.compress(body, compresslevel=9, mtime=0)
    return packed if len(packed) < len(body) else None


class HashedAssets:
    """The files of one directory, in memory, each under `stem.<12 hex of sha256>.ext`.

    An ASGI app (mounted at /static): only the current hashed names exist, so a cached page can
    never be paired with an asset from another version under the same URL.
    """

    TYPES: ClassVar[dict[str, str]] = {
        ".css": "text/css; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".svg": "image/svg+xml",
        ".png": "image/png",
    }

    def __init__(self, directory: Path) -> None:
        self.names: dict[str, str] = {}
        self.assets: dict[str, Asset] = {}
        for path in sorted(directory.iterdir()):
            if not path.is_file() or path.name.startswith("."):
                continue
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()
            p = PurePosixPath(path.name)
            hashed = f"{p.stem}.{digest[:12]}{p.suffix}"
            media_type = self.TYPES.get(p.suffix) or (
                mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            )
            self.names[path.name] = hashed
            gzipped = gzip_once(body, media_type)
            self.assets[hashed] = Asset(body, media_type, f'"{digest[:32]}"', gzipped)

    def url(self, name: str) -> str:
        return f"/static/{self.names[name]}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        asset = self.assets.get(scope["path"].rpartition("/")[2])
        if scope["method"] not in ("GET", "HEAD"):
            code, message = HTTP_SENTENCES[405]
            response = error_response(
                Request(scope, receive), 405, code, message, {"Allow": "GET, HEAD"}
            )
        elif asset is None:
            response = error_response(Request(scope, receive), 404, *HTTP_SENTENCES[404])
        else:
            request_headers = dict(scope["headers"])
            accepts = request_headers.get(b"accept-encoding", b"").decode("latin-1").lower()
            packed = asset.gzipped if "gzip" in accepts else None
            payload = asset.body if packed is None else packed
            # Each encoding is a different representation: its own strong ETag.
            etag = asset.etag if packed is None else asset.etag[:-1] + '-gz"'
            headers = {
                "Cache-Control": IMMUTABLE,
                "X-Content-Type-Options": "nosniff",
                "ETag": etag,
            }
            if asset.gzipped is not None:
                headers["Vary"] = "Accept-Encoding"
            if packed is not None:
                headers["Content-Encoding"] = "gzip"
            inm = request_headers.get(b"if-none-match", b"").decode("latin-1")
            if etag_matches(inm, etag):
                response = Response(status_code=304, headers=headers)
            else:
                body = b"" if scope["method"] == "HEAD" else payload
                response = Response(body, media_type=asset.media_type, headers=headers)
                if scope["method"] == "HEAD":
                    response.headers["Content-Length"] = str(len(payload))
        await response(scope, receive, send)


ASSETS = HashedAssets(STATIC)


def static_files() -> HashedAssets:
    return ASSETS


def asset_url(name: str) -> str:
    return ASSETS.url(name)


# -- template helpers --------------------------------------------------------------------------


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    for unit in ("KB", "MB", "GB"):
        n /= 1024
        if n < 1024 or unit == "GB":
            # "25 MB", "1.9 MB": never more than one decimal, and none when it is a zero.
            shown = f"{n:.0f}" if n >= 100 else f"{n:.1f}".removesuffix(".0")
            return f"{shown} {unit}"
    raise AssertionError  # unreachable


def human_date(value: datetime | None) -> str:
    if value is None:
        return "never"
    return value.astimezone(UTC).strftime("%-d %b %Y")


def human_until(value: datetime | None, now: float | None = None) -> str:
    """'in 7 days', 'in 1 hour', 'in 12 minutes': the largest unit that rounds to at least 1."""
    if value is None:
        return "never"
    seconds = value.timestamp() - (time.time() if now is None else now)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        n = round(seconds / size)
        if n >= 1:
            return f"in {n} {unit}{'s' if n != 1 else ''}"
    return "in less than a minute"


def share_formats(image: ImageMeta) -> list[tuple[str, str, str]]:
    """(key, label, text) of every way to paste the link somewhere."""
    alt = f"Image {image.id}"
    return [
        ("link", "Link", image.url),
        ("page", "Page", image.page_url),
        ("markdown", "Markdown", f"[![{alt}]({image.url})]({image.page_url})"),
        ("html", "HTML", f'<a href="{image.page_url}"><img src="{image.url}" alt="{alt}"></a>'),
        ("bbcode", "BBCode", f"[url={image.page_url}][img]{image.url}[/img][/url]"),
    ]


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
        self.env.filters.update(
            human_size=human_size, human_date=human_date, human_until=human_until
        )

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

    def expiry_choices(self) -> list[tuple[str, str]]:
        """The lifetimes a visitor may pick: everything up to the server's maximum."""
        keys = list(EXPIRY_CHOICES)
        allowed = keys[: keys.index(self.settings.max_expiry) + 1]
        return [(key, EXPIRY_LABELS[key]) for key in allowed]

    def home(self, request: Request) -> HTMLResponse:
        default = self.settings.default_expiry
        keys = [key for key, _label in self.expiry_choices()]
        return self.render(
            request,
            "home.html",
            max_bytes=self.settings.max_bytes,
            max_size=human_size(self.settings.max_bytes),
            too_large=too_large(self.settings.max_bytes).message,
            expiry_choices=self.expiry_choices(),
            default_expiry=default if default in keys else keys[-1],
        )

    def viewer(self, request: Request, record: ImageRecord) -> HTMLResponse:
        image = image_meta(request, record)
        oembed = f"{base_url(request)}/api/oembed?" + urlencode(
            {"url": image.page_url, "format": "json"}
        )
        return self.render(
            request,
            "viewer.html",
            image=image,
            formats=share_formats(image),
            oembed_url=oembed,
            reasons=REASON_LABELS,
        )

    def uploaded(
        self,
        request: Request,
        image: ImageMeta,
        delete_url: str | None,
        batch: list[ImageMeta],
    ) -> HTMLResponse:
        """The no-JS result page; the delete link only while the upload's cookie lasts; `batch`:
        this browser's recent uploads, offered as an album when there are several."""
        return self.render(
            request,
            "uploaded.html",
            image=image,
            delete_url=delete_url,
            formats=share_formats(image),
            batch=batch,
        )

    def album_made(self, request: Request, album, delete_url: str | None) -> HTMLResponse:
        """The no-JS album result (album: models.Album); its delete link only while its
        cookie lasts."""
        return self.render(request, "album_made.html", album=album, delete_url=delete_url)

    def album(self, request: Request, album) -> HTMLResponse:
        """An album (models.Album): every image with its own links."""
        return self.render(request, "album.html", album=album)

    def confirm_album_delete(self, request: Request, album, token: str) -> HTMLResponse:
        """The album's delete link (album: models.Album): what would go, and a choice."""
        return self.render(request, "album_delete.html", album=album, token=token)

    def album_deleted(self, request: Request, images: int) -> HTMLResponse:
        return self.render(request, "album_deleted.html", images=images)

    def confirm_delete(self, request: Request, record: ImageRecord, token: str) -> HTMLResponse:
        return self.render(request, "delete.html", image=image_meta(request, record), token=token)

    def deleted(self, request: Request) -> HTMLResponse:
        return self.render(request, "deleted.html")

    def terms(self, request: Request) -> HTMLResponse:
        """The operator's terms of use (settings), one paragraph per blank-line-separated block."""
        paragraphs = [p.strip() for p in self.settings.terms.split("\n\n") if p.strip()]
        return self.render(request, "terms.html", paragraphs=paragraphs)

    def abuse(self, request: Request) -> HTMLResponse:
        contact = self.settings.abuse_contact.strip()
        href = contact if contact.startswith("https://") else f"mailto:{contact}" if contact else ""
        return self.render(request, "abuse.html", contact=contact, contact_href=href)

    def reported(self, request: Request, image_id: str) -> HTMLResponse:
        """After `POST /report/{id}`: thanks, and what happens next."""
        return self.render(request, "reported.html", image_id=image_id)

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


# Every page answers HEAD as well as GET: link checkers and uptime monitors ask with HEAD.
PAGE_METHODS = ["GET", "HEAD"]


@router.api_route("/", methods=PAGE_METHODS)
async def home(request: Request) -> Response:
    return request.app.state.pages.home(request)


# -- the no-JS upload's result: POST /upload answers 303 to GET /uploaded/{id} --------------------

UPLOAD_COOKIE = "picdrop-delete-"  # + the image's id
UPLOAD_COOKIE_SECONDS = 3600


def set_secret_cookie(response: Response, request: Request, name: str, token: str, path: str):
    """A delete token for the pages under `path`, for an hour: never in a URL (so not in the
    history), never readable by scripts or sent from other sites."""
    response.set_cookie(
        name,
        token,
        max_age=UPLOAD_COOKIE_SECONDS,
        path=path,
        secure=base_url(request).startswith("https:"),
        httponly=True,
        samesite="strict",
    )


def show_upload_result(request: Request, result: UploadResult) -> Response:
    """POST-redirect-GET: a reload of the result page shows it again instead of uploading again.
    The delete token rides in a cookie of the result pages, so this browser's uploads of the
    last hour can also become one album (routes_albums)."""
    response = RedirectResponse(f"/uploaded/{result.id}", status_code=303)
    set_secret_cookie(
        request=request,
        response=response,
        name=UPLOAD_COOKIE + result.id,
        token=result.delete_token,
        path="/uploaded",
    )
    return response


def recent_uploads(service: ImageService, cookies: dict[str, str]) -> list[tuple[ImageRecord, str]]:
    """This browser's live no-JS uploads of the last hour, with their delete tokens (from its
    cookies), oldest first. Blocks: run it in a thread.

    Only the last MAX_ALBUM_IMAGES of those cookies (browsers send the newest last) are looked
    up: a request can carry thousands, each a catalog lookup."""
    named = [
        (name.removeprefix(UPLOAD_COOKIE), token)
        for name, token in cookies.items()
        if name.startswith(UPLOAD_COOKIE) and token
    ]
    found = []
    for image_id, token in named[-MAX_ALBUM_IMAGES:]:
        try:
            record = service.lookup(image_id)
        except (NotFound, Removed):  # deleted, expired, removed or never there: not offered
            continue
        if ids.token_matches(token, record.delete_token_hash):
            found.append((record, token))
    return sorted(found, key=lambda pair: pair[0].created_at)


def _uploaded_page(
    service: ImageService, image_id: str, cookies: dict[str, str]
) -> tuple[ImageRecord, list[tuple[ImageRecord, str]]]:
    return service.lookup(image_id), recent_uploads(service, cookies)


@router.api_route("/uploaded/{image_id}", methods=PAGE_METHODS)
async def uploaded(request: Request, image_id: str) -> Response:
    service: ImageService = request.app.state.service
    record, recent = await anyio.to_thread.run_sync(
        _uploaded_page, service, image_id, request.cookies
    )
    token = next((t for r, t in recent if r.id == record.id), None)
    delete_url = upload_result(request, record, token).delete_url if token else None
    batch = [image_meta(request, r) for r, _t in recent] if token and len(recent) > 1 else []
    return request.app.state.pages.uploaded(request, image_meta(request, record), delete_url, batch)


@router.api_route("/upload", methods=PAGE_METHODS)
async def upload_page(request: Request) -> Response:
    """A restored tab of an old no-JS upload: back to the form, not a 404."""
    return RedirectResponse("/", status_code=303)


def _check_delete_link(service: ImageService, image_id: str, token: str) -> ImageRecord:
    record = service.lookup_any(image_id)
    if not ids.token_matches(token, record.delete_token_hash):
        raise Forbidden("This delete link is not valid for this image.")
    return record


@router.api_route("/delete/{image_id}/{token}", methods=PAGE_METHODS)
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


@router.api_route("/terms", methods=PAGE_METHODS)
async def terms(request: Request) -> Response:
    return request.app.state.pages.terms(request)


@router.api_route("/abuse", methods=PAGE_METHODS)
async def abuse(request: Request) -> Response:
    return request.app.state.pages.abuse(request)


@router.get("/robots.txt")
async def robots() -> Response:
    # Viewer pages are unlisted by design; keep crawlers from indexing them.
    return Response("User-agent: *\nDisallow: /\n", media_type="text/plain")
