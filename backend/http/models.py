"""Response bodies, as pydantic models so that /openapi.json describes them."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field
from starlette.requests import Request

from backend.catalog import ImageRecord
from backend.http.origin import base_url  # where every link is built from; pages import it here


class ErrorBody(BaseModel):
    error: str = Field(description="What went wrong, in a sentence a person understands.")
    code: str = Field(description="A stable machine-readable code, e.g. 'too_large'.")


class ImageMeta(BaseModel):
    id: str
    url: str = Field(description="The image itself.")
    page_url: str = Field(description="The viewer page.")
    thumbnail_url: str
    width: int
    height: int
    size: int = Field(description="Bytes of the stored (metadata-free) image.")
    mime: str
    sha256: str
    created_at: datetime
    expires_at: datetime | None


class UploadResult(ImageMeta):
    delete_url: str = Field(description="Secret link that deletes the image; shown only once.")
    delete_token: str = Field(description="Secret for DELETE /api/images/{id}; shown only once.")


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def image_meta(request: Request, record: ImageRecord) -> ImageMeta:
    base = base_url(request)
    return ImageMeta(
        id=record.id,
        url=f"{base}/{record.id}.{record.ext}",
        page_url=f"{base}/{record.id}",
        thumbnail_url=f"{base}/t/{record.id}.webp",
        width=record.width,
        height=record.height,
        size=record.size,
        mime=record.mime,
        sha256=record.sha256,
        created_at=_time(record.created_at),
        expires_at=_time(record.expires_at),
    )


def upload_result(request: Request, record: ImageRecord, token: str) -> UploadResult:
    meta = image_meta(request, record)
    return UploadResult(
        **meta.model_dump(),
        delete_url=f"{base_url(request)}/delete/{record.id}/{token}",
        delete_token=token,
    )


ERROR_RESPONSES = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "Malformed request.",
        404: "Unknown, expired or deleted image.",
        413: "Too large.",
        415: "Not an allowed image type.",
        422: "Broken or hostile image, or an Idempotency-Key reused for another file.",
        429: "Rate-limited (see Retry-After).",
        451: "Removed by the moderators.",
        507: "Storage full.",
    }.items()
}
# Uploads can also stall (408) or meet a scanner or database that cannot answer now (503).
UPLOAD_RESPONSES = {
    **ERROR_RESPONSES,
    200: {"model": UploadResult, "description": "An Idempotency-Key replay: the first result."},
    408: {"model": ErrorBody, "description": "The body stalled (no data for a while)."},
    503: {"model": ErrorBody, "description": "Try again later (see Retry-After)."},
}
# What any route that looks an image up by ID may answer besides its success.
LOOKUP_RESPONSES = {
    status: {"model": ErrorBody, "description": ERROR_RESPONSES[status]["description"]}
    for status in (404, 429, 451)
}
