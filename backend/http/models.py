"""Response bodies, as pydantic models so that /openapi.json describes them."""

from __future__ import annotations

import dataclasses
import typing
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from starlette.requests import Request

from backend.catalog import ImageRecord
from backend.http.origin import base_url  # where every link is built from; pages import it here

if TYPE_CHECKING:
    from backend.moderation import ImageFile


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


# A time the backend keeps as Unix seconds, answered as an ISO 8601 date and time in UTC.
Instant = Annotated[datetime, BeforeValidator(lambda v: v if isinstance(v, datetime) else _time(v))]


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
    created_at: Instant
    expires_at: Instant | None


class UploadResult(ImageMeta):
    delete_url: str = Field(description="Secret link that deletes the image; shown only once.")
    delete_token: str = Field(description="Secret for DELETE /api/images/{id}; shown only once.")
    removed_metadata: list[str] = Field(
        default_factory=list,
        description="The metadata stripped from this file, e.g. 'GPS location' (empty on a "
        "replay: nothing was processed).",
    )


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
        created_at=record.created_at,
        expires_at=record.expires_at,
    )


def upload_result(
    request: Request, record: ImageRecord, token: str, removed: tuple[str, ...] = ()
) -> UploadResult:
    meta = image_meta(request, record)
    return UploadResult(
        **meta.model_dump(),
        delete_url=f"{base_url(request)}/delete/{record.id}/{token}",
        delete_token=token,
        removed_metadata=list(removed),
    )


ERROR_RESPONSES = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "Malformed request.",
        404: "Unknown, expired or deleted image.",
        413: "Too large.",
        415: "Not an allowed image type.",
        422: "Broken or hostile image, an Idempotency-Key reused for another file, or a URL "
        "that could not be fetched (url_refused, url_unreachable, url_timeout).",
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


# -- reports and the admin API (made from backend.moderation's results) ---------------------------
def moderation_responses(*statuses: int) -> dict:
    """What a report or admin route may answer besides its success."""
    text = {
        400: "Malformed request.",
        401: "No admin token.",
        403: "Wrong admin token, or the admin API is off.",
        404: "Unknown, expired or deleted image (or block).",
        413: "Too large.",
        415: "Unsupported Content-Type.",
        429: "Rate-limited (see Retry-After).",
        451: "Removed by the moderators.",
    }
    return {s: {"model": ErrorBody, "description": text[s]} for s in statuses}


class ReportReceived(BaseModel):
    status: str = Field("received", description="Always 'received': reports are not echoed.")


class AdminModel(BaseModel):
    """Read from the attributes of a moderation result; fields not declared stay out."""

    model_config = ConfigDict(from_attributes=True)


class AdminReport(AdminModel):
    id: int
    image_id: str
    reason: str
    details: str | None
    created_at: Instant
    status: str = Field(description="open, dismissed or actioned")
    resolved_at: Instant | None


class ReportGroup(AdminModel):
    image_id: str
    state: str = Field(description="live, removed, expired or deleted")
    count: int
    reasons: dict[str, int]
    first_reported_at: Instant
    last_reported_at: Instant
    reports: list[AdminReport]


class ReportGroups(BaseModel):
    images: list[ReportGroup]
    next: str | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )


def _record_field(name: str, hint: Any) -> tuple[Any, Any]:
    if name.endswith("_at"):  # times: created_at, expires_at, removed_at
        hint = Instant | None if type(None) in typing.get_args(hint) else Instant
    return hint, ...


# An image's record as admins see it: every field of ImageRecord but its delete token's hash.
AdminImageFields = create_model(
    "AdminImageFields",
    __base__=AdminModel,
    **{
        f.name: _record_field(f.name, typing.get_type_hints(ImageRecord)[f.name])
        for f in dataclasses.fields(ImageRecord)
        if f.name != "delete_token_hash"
    },
    blob_present=(bool, ...),
)


class AdminImage(AdminModel):
    id: str
    state: str = Field(description="live, removed, expired or deleted")
    record: AdminImageFields | None  # type: ignore[valid-type]
    reports: list[AdminReport]

    @classmethod
    def of(cls, found: ImageFile) -> AdminImage:
        """From `Moderation.image_record`'s result (whose blob_present joins the record)."""
        record = None
        if found.record is not None:
            record = {**dataclasses.asdict(found.record), "blob_present": found.blob_present}
        return cls(id=found.id, state=found.state, record=record, reports=found.reports)


class RemovalResult(AdminModel):
    id: str
    removed: list[str] = Field(description="This image and every other upload of the same bytes.")
    blocks: list[int] = Field(description="IDs of the blocklist entries for its content.")
    reports_closed: int


class DismissResult(AdminModel):
    id: str
    dismissed: int


class AdminBlock(AdminModel):
    id: int
    kind: str = Field(description="sha256 (exact bytes) or dhash (perceptual hash)")
    value: str
    image_id: str | None
    created_at: Instant
    note: str | None


class BlockList(BaseModel):
    blocks: list[AdminBlock]
    next: str | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )


class PurgeResult(AdminModel):
    purged: int


class AuditEntry(AdminModel):
    id: int
    at: Instant
    actor: str = Field(description="api or cli")
    action: str
    target: str | None
    detail: dict[str, Any]


class AuditLog(BaseModel):
    entries: list[AuditEntry]
    next: str | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )


# -- albums (backend.albums) ----------------------------------------------------------------------
class Album(BaseModel):
    id: str
    url: str = Field(description="The album page: every image with its own links.")
    images: list[ImageMeta]


class NewAlbumResult(Album):
    delete_token: str = Field(
        description="Secret for DELETE /api/albums/{id} (the images stay unless asked to go "
        "with it); shown only once."
    )
    delete_url: str = Field(
        description="Secret page that deletes the album (and its images, if ticked); shown "
        "only once."
    )


class AlbumDeleted(BaseModel):
    deleted_images: int = Field(
        description="How many of its images were deleted with it: 0 unless asked; images "
        "already deleted or expired are skipped."
    )
