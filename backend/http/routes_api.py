"""JSON endpoints: metadata, delete by token, health, the ShareX uploader file."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from backend import __version__
from backend.http.auth import bearer_token
from backend.http.errors import RETRY_AFTER
from backend.http.models import ERROR_RESPONSES, ImageMeta, base_url, image_meta
from backend.service import ImageService

router = APIRouter()


@router.get("/livez", summary="Liveness: the process answers (no dependency is asked)")
async def livez() -> dict:
    return {"status": "ok", "version": __version__}


@router.get("/healthz", summary="Readiness: each dependency answers")
async def healthz(request: Request) -> JSONResponse:
    """503 when the catalog or the blob store does not answer; a failing rate-limit store is
    reported but not fatal (the limits fail open). Each check is bounded by its timeouts."""
    service: ImageService = request.app.state.service
    probes = {  # name in the answer: (name in the log, the check)
        "database": ("database", service.ping),
        "store": ("object store", service.store_ping),
        "rate_limit_store": ("rate-limit storage", request.app.state.limits.healthy),
    }
    results: dict[str, bool] = {}

    async def probe(name: str) -> None:
        kind, check = probes[name]
        try:
            results[name] = await anyio.to_thread.run_sync(check) is not False
        except Exception as exc:
            request.app.state.outages.failed(kind, exc, "health check failed")
            results[name] = False

    async with anyio.create_task_group() as group:
        for name in probes:
            group.start_soon(probe, name)
    ready = results["database"] and results["store"]
    body = {
        "status": "ok" if ready else "unavailable",
        "version": __version__,
        "checks": {name: "ok" if results[name] else "down" for name in probes},
    }
    if ready:
        return JSONResponse(body)
    down = ", ".join(name for name in ("database", "store") if not results[name])
    body |= {"error": f"This replica cannot reach its {down}.", "code": "unavailable"}
    return JSONResponse(body, 503, headers={"Retry-After": RETRY_AFTER})


@router.get(
    "/api/images/{image_id}",
    response_model=ImageMeta,
    responses=ERROR_RESPONSES,
    summary="Public metadata of an image",
)
async def image_metadata(request: Request, image_id: str) -> ImageMeta:
    service: ImageService = request.app.state.service
    record = await anyio.to_thread.run_sync(service.lookup, image_id)
    return image_meta(request, record)


@router.delete(
    "/api/images/{image_id}",
    status_code=204,
    responses={
        401: {"description": "No bearer token."},
        403: {"description": "Wrong token."},
        404: ERROR_RESPONSES[404],
    },
    summary="Delete an image with its delete token",
)
async def delete_image(request: Request, image_id: str) -> Response:
    token = bearer_token(request, "delete token")
    service: ImageService = request.app.state.service
    await anyio.to_thread.run_sync(service.delete, image_id, token)
    return Response(status_code=204)


@router.get("/api/sharex.sxcu", summary="ShareX custom uploader for this server")
async def sharex(request: Request) -> Response:
    base = base_url(request)
    host = base.split("://", 1)[-1]
    config = {
        "Version": "15.0.0",
        "Name": f"picdrop ({host})",
        "DestinationType": "ImageUploader",
        "RequestMethod": "POST",
        "RequestURL": f"{base}/api/upload",
        "Body": "MultipartFormData",
        "FileFormName": "file",
        "URL": "{json:url}",
        "ThumbnailURL": "{json:thumbnail_url}",
        "DeletionURL": "{json:delete_url}",
        "ErrorMessage": "{json:error}",
    }
    return JSONResponse(
        config,
        headers={"Content-Disposition": 'attachment; filename="picdrop.sxcu"'},
    )
