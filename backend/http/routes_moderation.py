"""Reports (anyone, no account) and the admin API (bearer PICDROP_ADMIN_TOKEN).

Every admin endpoint has a twin in `picdrop-server admin ...`; both go through
`backend.moderation.Moderation`, which writes the audit log.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from backend.catalog.schema import REPORT_REASONS
from backend.errors import Forbidden, Unauthorized
from backend.http.body import form_fields
from backend.http.models import ErrorBody
from backend.moderation import MAX_DETAILS, MAX_NOTE, Moderation, check_reason, clean_text

router = APIRouter()
pages_router = APIRouter(include_in_schema=False)

# -- reports -------------------------------------------------------------------------------------
REPORT_BODY_SCHEMA = {
    "type": "object",
    "required": ["reason"],
    "properties": {
        "reason": {"type": "string", "enum": list(REPORT_REASONS)},
        "details": {"type": "string", "maxLength": MAX_DETAILS},
    },
}
REPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": REPORT_BODY_SCHEMA},
            "application/x-www-form-urlencoded": {"schema": REPORT_BODY_SCHEMA},
        },
    }
}


class ReportReceived(BaseModel):
    status: str = Field("received", description="Always 'received': reports are not echoed.")


def _errors(*statuses: int) -> dict:
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


async def _report(request: Request, image_id: str) -> None:
    fields = await form_fields(request)
    moderation: Moderation = request.app.state.moderation
    # Validate before counting against the limits, so a typo costs nothing.
    reason = check_reason(fields.get("reason"))
    details = clean_text(fields.get("details"), MAX_DETAILS, "details")
    store = await request.app.state.guard.check_report(request, image_id)
    await anyio.to_thread.run_sync(
        functools.partial(moderation.report, image_id, reason, details, store=store)
    )


@router.post(
    "/api/images/{image_id}/report",
    status_code=202,
    response_model=ReportReceived,
    responses=_errors(400, 404, 413, 415, 429, 451),
    openapi_extra=REPORT_BODY,
    summary="Report an image to the moderators",
)
async def report_image(request: Request, image_id: str) -> Response:
    """`reason` is one of illegal, non_consensual, violence, spam, copyright, other; `details`
    is optional text. Nothing about the reporter is stored. 202 whether the report was new or a
    repeat of one this client already sent."""
    await _report(request, image_id)
    return JSONResponse({"status": "received"}, status_code=202)


@pages_router.post("/report/{image_id}")
async def report_form(request: Request, image_id: str) -> Response:
    """The viewer page's report form (works without JavaScript): a confirmation page."""
    await _report(request, image_id)
    return request.app.state.pages.reported(request, image_id)


# -- admin ---------------------------------------------------------------------------------------
def require_admin(request: Request) -> None:
    configured = request.app.state.settings.admin_token
    if not configured:
        raise Forbidden("The admin API is off on this server (PICDROP_ADMIN_TOKEN is not set).")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(
            "Send the admin token as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # Compare digests: constant time, and independent of the lengths.
    given = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    wanted = hashlib.sha256(configured.encode("utf-8", "surrogatepass")).digest()
    if not hmac.compare_digest(given, wanted):
        raise Forbidden("This admin token is not valid.")


def _when(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


class AdminReport(BaseModel):
    id: int
    image_id: str
    reason: str
    details: str | None
    created_at: datetime
    status: str = Field(description="open, dismissed or actioned")
    resolved_at: datetime | None


class ReportGroup(BaseModel):
    image_id: str
    state: str = Field(description="live, removed, expired or deleted")
    count: int
    reasons: dict[str, int]
    first_reported_at: datetime
    last_reported_at: datetime
    reports: list[AdminReport]


class ReportGroups(BaseModel):
    images: list[ReportGroup]


class AdminImageFields(BaseModel):
    id: str
    blob_key: str
    blob_present: bool
    sha256: str
    dhash: str | None
    mime: str
    ext: str
    width: int
    height: int
    size: int
    frames: int
    created_at: datetime
    expires_at: datetime | None
    removed_at: datetime | None


class AdminImage(BaseModel):
    id: str
    state: str = Field(description="live, removed, expired or deleted")
    record: AdminImageFields | None
    reports: list[AdminReport]


class RemovalResult(BaseModel):
    id: str
    removed: list[str] = Field(description="This image and every other upload of the same bytes.")
    blocks: list[int] = Field(description="IDs of the blocklist entries for its content.")
    reports_closed: int


class DismissResult(BaseModel):
    id: str
    dismissed: int


class AdminBlock(BaseModel):
    id: int
    kind: str = Field(description="sha256 (exact bytes) or dhash (perceptual hash)")
    value: str
    image_id: str | None
    created_at: datetime
    note: str | None


class BlockList(BaseModel):
    blocks: list[AdminBlock]


class PurgeResult(BaseModel):
    purged: int


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str = Field(description="api or cli")
    action: str
    target: str | None
    detail: dict[str, Any]


class AuditLog(BaseModel):
    entries: list[AuditEntry]


NOTE_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"note": {"type": "string", "maxLength": MAX_NOTE}},
                }
            }
        },
    }
}


def _report_model(r: dict) -> AdminReport:
    return AdminReport(
        **{**r, "created_at": _when(r["created_at"]), "resolved_at": _when(r["resolved_at"])}
    )


async def _admin(request: Request, fn, *args, **kwargs):
    require_admin(request)
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


@router.get(
    "/api/admin/reports",
    response_model=ReportGroups,
    responses=_errors(401, 403, 429),
    summary="Open reports, grouped by image",
)
async def admin_reports(request: Request) -> ReportGroups:
    groups = await _admin(request, request.app.state.moderation.open_reports)
    return ReportGroups(
        images=[
            ReportGroup(
                **{
                    **g,
                    "first_reported_at": _when(g["first_reported_at"]),
                    "last_reported_at": _when(g["last_reported_at"]),
                    "reports": [_report_model(r) for r in g["reports"]],
                }
            )
            for g in groups
        ]
    )


@router.get(
    "/api/admin/images/{image_id}",
    response_model=AdminImage,
    responses=_errors(401, 403, 404, 429),
    summary="An image's record and reports",
)
async def admin_image(request: Request, image_id: str) -> AdminImage:
    moderation: Moderation = request.app.state.moderation
    found = await _admin(request, moderation.image_record, image_id, actor="api")
    record = found["record"]
    if record is not None:
        record = AdminImageFields(
            **{
                **record,
                "created_at": _when(record["created_at"]),
                "expires_at": _when(record["expires_at"]),
                "removed_at": _when(record["removed_at"]),
            }
        )
    return AdminImage(
        id=found["id"],
        state=found["state"],
        record=record,
        reports=[_report_model(r) for r in found["reports"]],
    )


async def _note(request: Request) -> Any:
    return (await form_fields(request, allow_empty=True)).get("note")


@router.post(
    "/api/admin/images/{image_id}/remove",
    response_model=RemovalResult,
    responses=_errors(400, 401, 403, 404, 413, 415, 429),
    openapi_extra=NOTE_BODY,
    summary="Remove an image: 451 from now on, its content blocked, its blob purged",
)
async def admin_remove(request: Request, image_id: str) -> RemovalResult:
    require_admin(request)
    note = await _note(request)
    moderation: Moderation = request.app.state.moderation
    result = await _admin(request, moderation.remove, image_id, actor="api", note=note)
    return RemovalResult(**result)


@router.post(
    "/api/admin/images/{image_id}/dismiss",
    response_model=DismissResult,
    responses=_errors(400, 401, 403, 404, 413, 415, 429),
    openapi_extra=NOTE_BODY,
    summary="Dismiss an image's open reports (nothing wrong with it)",
)
async def admin_dismiss(request: Request, image_id: str) -> DismissResult:
    require_admin(request)
    note = await _note(request)
    moderation: Moderation = request.app.state.moderation
    result = await _admin(request, moderation.dismiss, image_id, actor="api", note=note)
    return DismissResult(**result)


@router.get(
    "/api/admin/blocks",
    response_model=BlockList,
    responses=_errors(401, 403, 429),
    summary="The blocklist",
)
async def admin_blocks(request: Request) -> BlockList:
    blocks = await _admin(request, request.app.state.moderation.blocks)
    return BlockList(
        blocks=[AdminBlock(**{**b, "created_at": _when(b["created_at"])}) for b in blocks]
    )


@router.delete(
    "/api/admin/blocks/{block_id}",
    status_code=204,
    responses=_errors(400, 401, 403, 404, 429),
    summary="Lift a block",
)
async def admin_unblock(request: Request, block_id: int = PathParam(ge=1, le=2**62)) -> Response:
    moderation: Moderation = request.app.state.moderation
    await _admin(request, moderation.unblock, block_id, actor="api")
    return Response(status_code=204)


@router.post(
    "/api/admin/purge-expired",
    response_model=PurgeResult,
    responses=_errors(401, 403, 429),
    summary="Delete every expired upload now",
)
async def admin_purge_expired(request: Request) -> PurgeResult:
    moderation: Moderation = request.app.state.moderation
    return PurgeResult(**await _admin(request, moderation.purge_expired, actor="api"))


@router.get(
    "/api/admin/audit",
    response_model=AuditLog,
    responses=_errors(400, 401, 403, 429),
    summary="The audit log of admin actions, newest first",
)
async def admin_audit(
    request: Request,
    limit: int = Query(100, ge=1, le=1000),
    before: int | None = Query(
        None, ge=1, le=2**62, description="Only entries with a smaller id (paging)."
    ),
) -> AuditLog:
    moderation: Moderation = request.app.state.moderation
    entries = await _admin(request, moderation.audit_log, limit, before)
    return AuditLog(entries=[AuditEntry(**{**e, "at": _when(e["at"])}) for e in entries])
