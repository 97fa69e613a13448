"""Reports (anyone, no account) and the admin API (bearer PICDROP_ADMIN_TOKEN).

Every admin endpoint has a twin in `picdrop-server admin ...`; both go through
`backend.moderation.Moderation`, which writes the audit log.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from typing import Any

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from backend.catalog.schema import REPORT_REASONS
from backend.errors import Forbidden
from backend.http import fingerprints
from backend.http.auth import bearer_token
from backend.http.body import form_fields
from backend.http.models import (
    AdminBlock,
    AdminImage,
    AuditEntry,
    AuditLog,
    BlockList,
    DismissResult,
    PurgeResult,
    RemovalResult,
    ReportGroup,
    ReportGroups,
    ReportReceived,
    moderation_responses,
)
from backend.moderation import (
    MAX_DETAILS,
    MAX_NOTE,
    PAGE,
    Moderation,
    check_reason,
    clean_text,
)

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


async def _report(request: Request, image_id: str) -> None:
    fields = await form_fields(request)
    moderation: Moderation = request.app.state.moderation
    # Validate before counting against the limits, so a typo costs nothing.
    reason = check_reason(fields.get("reason"))
    details = clean_text(fields.get("details"), MAX_DETAILS, "details")
    keep = await request.app.state.guard.check_report(request, image_id)
    kept = await anyio.to_thread.run_sync(
        functools.partial(moderation.report, image_id, reason, details, keep=keep)
    )
    if kept:  # its uploader may delete it next: the report must hold its perceptual hash
        await fingerprints.for_report(request.app.state.image_work, moderation, image_id)


@router.post(
    "/api/images/{image_id}/report",
    status_code=202,
    response_model=ReportReceived,
    responses=moderation_responses(400, 404, 413, 415, 429, 451),
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
async def require_admin(request: Request) -> None:
    """The admin routes' dependency (async: no worker thread for a header check)."""
    configured = request.app.state.settings.admin_token
    if not configured:
        raise Forbidden("The admin API is off on this server (PICDROP_ADMIN_TOKEN is not set).")
    token = bearer_token(request, "admin token")
    # Compare digests: constant time, and independent of the lengths.
    given = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    wanted = hashlib.sha256(configured.encode("utf-8", "surrogatepass")).digest()
    if not hmac.compare_digest(given, wanted):
        raise Forbidden("This admin token is not valid.")


# Every admin route checks the token once, before its body is read.
admin_router = APIRouter(dependencies=[Depends(require_admin)])

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


async def _run(fn, *args, **kwargs):
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


# The admin listings come in pages: `limit` entries, then `next` as the following `cursor`.
LIMIT = Query(PAGE, ge=1, le=1000, description="Entries per page.")
CURSOR = Query(None, max_length=200, description="The `next` of the page before.")


def _moderation(request: Request) -> Moderation:
    return request.app.state.moderation


@admin_router.get(
    "/api/admin/reports",
    response_model=ReportGroups,
    responses=moderation_responses(401, 403, 429),
    summary="Open reports, grouped by image",
)
async def admin_reports(
    request: Request, limit: int = LIMIT, cursor: str | None = CURSOR
) -> ReportGroups:
    page = await _run(_moderation(request).open_reports, limit, cursor)
    return ReportGroups(images=[ReportGroup.model_validate(g) for g in page.items], next=page.next)


@admin_router.get(
    "/api/admin/images/{image_id}",
    response_model=AdminImage,
    responses=moderation_responses(401, 403, 404, 429),
    summary="An image's record and reports",
)
async def admin_image(request: Request, image_id: str) -> AdminImage:
    return AdminImage.of(await _run(_moderation(request).image_record, image_id, actor="api"))


async def _note(request: Request) -> Any:
    return (await form_fields(request, allow_empty=True)).get("note")


@admin_router.post(
    "/api/admin/images/{image_id}/remove",
    response_model=RemovalResult,
    responses=moderation_responses(400, 401, 403, 404, 413, 415, 429),
    openapi_extra=NOTE_BODY,
    summary="Remove an image: 451 from now on, its content blocked, its blob purged",
)
async def admin_remove(request: Request, image_id: str) -> RemovalResult:
    note = await _note(request)
    result = await _run(_moderation(request).remove, image_id, actor="api", note=note)
    return RemovalResult.model_validate(result)


@admin_router.post(
    "/api/admin/images/{image_id}/dismiss",
    response_model=DismissResult,
    responses=moderation_responses(400, 401, 403, 404, 413, 415, 429),
    openapi_extra=NOTE_BODY,
    summary="Dismiss an image's open reports (nothing wrong with it)",
)
async def admin_dismiss(request: Request, image_id: str) -> DismissResult:
    note = await _note(request)
    result = await _run(_moderation(request).dismiss, image_id, actor="api", note=note)
    return DismissResult.model_validate(result)


@admin_router.get(
    "/api/admin/blocks",
    response_model=BlockList,
    responses=moderation_responses(401, 403, 429),
    summary="The blocklist",
)
async def admin_blocks(
    request: Request, limit: int = LIMIT, cursor: str | None = CURSOR
) -> BlockList:
    page = await _run(_moderation(request).blocks, limit, cursor)
    return BlockList(blocks=[AdminBlock.model_validate(b) for b in page.items], next=page.next)


@admin_router.delete(
    "/api/admin/blocks/{block_id}",
    status_code=204,
    responses=moderation_responses(400, 401, 403, 404, 429),
    summary="Lift a block",
)
async def admin_unblock(request: Request, block_id: int = PathParam(ge=1, le=2**62)) -> Response:
    await _run(_moderation(request).unblock, block_id, actor="api")
    return Response(status_code=204)


@admin_router.post(
    "/api/admin/purge-expired",
    response_model=PurgeResult,
    responses=moderation_responses(401, 403, 429),
    summary="Delete every expired upload now",
)
async def admin_purge_expired(request: Request) -> PurgeResult:
    return PurgeResult.model_validate(await _run(_moderation(request).purge_expired, actor="api"))


@admin_router.get(
    "/api/admin/audit",
    response_model=AuditLog,
    responses=moderation_responses(400, 401, 403, 429),
    summary="The audit log of admin actions, newest first",
)
async def admin_audit(
    request: Request,
    limit: int = LIMIT,
    before: int | None = Query(
        None, ge=1, le=2**62, description="Only entries with a smaller id (paging)."
    ),
    cursor: str | None = CURSOR,
) -> AuditLog:
    page = await _run(_moderation(request).audit_log, limit, before, cursor)
    return AuditLog(entries=[AuditEntry.model_validate(e) for e in page.items], next=page.next)


router.include_router(admin_router)
