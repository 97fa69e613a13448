"""A QR code of an image's page link, as SVG: what a phone's camera reads off a screen."""

from __future__ import annotations

import io

import anyio
import segno
from fastapi import APIRouter, Request
from fastapi.responses import Response

from backend.http.models import LOOKUP_RESPONSES
from backend.http.origin import base_url
from backend.http.serving import IMAGE_HEADERS, cache_control
from backend.service import ImageService

router = APIRouter()


def qr_svg(text: str) -> bytes:
    """A QR code of `text`: black on white with the standard quiet zone, no fixed size (the page
    sizes it), and a title for assistive technology."""
    out = io.BytesIO()
    segno.make(text, error="m").save(
        out,
        kind="svg",
        border=4,
        dark="#000",
        light="#fff",  # readable on a dark page too
        xmldecl=False,
        omitsize=True,
        title=f"QR code of {text}",
    )
    return out.getvalue()


@router.get(
    "/qr/{image_id}.svg",
    summary="QR code of the image's page (SVG)",
    response_class=Response,
    responses={200: {"description": "The QR code.", "content": {"image/svg+xml": {}}}}
    | LOOKUP_RESPONSES,
)
async def qr_code(request: Request, image_id: str) -> Response:
    service: ImageService = request.app.state.service
    record = await anyio.to_thread.run_sync(service.lookup, image_id)
    headers = {**IMAGE_HEADERS, "Cache-Control": cache_control(record, service.clock())}
    headers.pop("Accept-Ranges")
    svg = qr_svg(f"{base_url(request)}/{record.id}")
    return Response(svg, media_type="image/svg+xml", headers=headers)
