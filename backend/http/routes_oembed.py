"""oEmbed (https://oembed.com/) for viewer pages and image links: `photo` type, JSON only.

Chat apps and CMSs that speak oEmbed find the endpoint through the `<link rel="alternate"
type="application/json+oembed">` in every viewer page.
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from backend.errors import ApiError, BadRequest, NotFound
from backend.http.models import ERROR_RESPONSES, base_url, image_meta
from backend.images.thumbnail import THUMBNAIL_SIDE
from backend.service import ImageService

router = APIRouter()

# /{id}, /{id}.{ext} and /t/{id}.webp all name the same image.
_PATH = re.compile(r"^/(?:t/)?([0-9A-Za-z]+)(?:\.[A-Za-z]{1,5})?/?$")


class FormatNotImplemented(ApiError):
    # What the oEmbed spec asks for a format the provider does not serve (xml, its other format).
    # A deliberate answer to a well-formed request, not a failure: anything else is a 400.
    status = 501
    code = "format_not_implemented"


class UnknownFormat(BadRequest):
    code = "unknown_format"


def thumbnail_size(width: int, height: int, side: int = THUMBNAIL_SIDE) -> tuple[int, int]:
    """The size `PIL.Image.thumbnail((side, side))` gives for an image of this size."""
    if width <= side and height <= side:
        return width, height
    aspect = width / height
    x, y = side, side

    def round_aspect(number: float, key) -> int:
        return max(min(math.floor(number), math.ceil(number), key=key), 1)

    if x / y >= aspect:
        x = round_aspect(y * aspect, key=lambda n: abs(aspect - n / y))
    else:
        y = round_aspect(x / aspect, key=lambda n: 0 if n == 0 else abs(aspect - x / n))
    return x, y


@router.get(
    "/api/oembed",
    responses={
        **{s: ERROR_RESPONSES[s] for s in (404, 451)},
        400: {"description": "Not a URL, or not an oEmbed format."},
        501: {"description": "format=xml: only json is implemented."},
    },
    summary="oEmbed for a viewer page or image URL (photo type)",
)
async def oembed(
    request: Request,
    url: str = Query(description="A viewer page or image URL of this server."),
    format: str = Query(
        "json",
        description="Only json.",
        json_schema_extra={"enum": ["json"]},
    ),
    maxwidth: int | None = Query(None, ge=1),
    maxheight: int | None = Query(None, ge=1),
) -> JSONResponse:
    requested = format.strip().lower()
    if requested == "xml":
        raise FormatNotImplemented("Only format=json is implemented.")
    if requested not in ("json", ""):
        raise UnknownFormat("oEmbed formats are json and xml; this server answers json.")
    base = base_url(request)
    try:  # both come from the client (the base from its Host header, without public_url)
        parts, ours = urlsplit(url.strip()), urlsplit(base)
    except ValueError:  # 'http://[::1/x', a host that NFKC-normalises into '#' or '/'...
        raise BadRequest("The url parameter is not a valid URL.") from None
    match = _PATH.match(parts.path)
    if parts.scheme not in ("http", "https") or match is None:
        raise NotFound("This URL is not an image of this server.")
    if parts.netloc.lower() != ours.netloc.lower():
        raise NotFound("This URL is not an image of this server.")
    service: ImageService = request.app.state.service
    record = await anyio.to_thread.run_sync(service.lookup, match.group(1))
    image = image_meta(request, record)
    thumb_w, thumb_h = thumbnail_size(image.width, image.height)

    def within(width: int, height: int) -> bool:
        return (not maxwidth or width <= maxwidth) and (not maxheight or height <= maxheight)

    # Width and height are always those of the file `url` names: the original when it fits the
    # bounds, else the thumbnail (the smallest there is, even when it does not fit either).
    photo_url, width, height = image.url, image.width, image.height
    if not within(width, height):
        photo_url, width, height = image.thumbnail_url, thumb_w, thumb_h
    body = {
        "version": "1.0",
        "type": "photo",
        "title": f"Image {image.id}",
        "provider_name": "picdrop",
        "provider_url": base + "/",
        "url": photo_url,
        "width": width,
        "height": height,
    }
    if within(thumb_w, thumb_h):  # the spec: a thumbnail must respect the bounds, or be left out
        body |= {
            "thumbnail_url": image.thumbnail_url,
            "thumbnail_width": thumb_w,
            "thumbnail_height": thumb_h,
        }
    if image.expires_at is not None:
        body["cache_age"] = max(0, int(image.expires_at.timestamp() - service.clock()))
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})
