"""JSON endpoints: metadata, delete by token, health, the ShareX uploader file."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from backend import __version__
from backend.http.auth import bearer_token
from backend.http.models import ERROR_RESPONSES, ImageMeta, base_url, image_meta
from backend.service import ImageService

router = APIRouter()


@router.get("/healthz", summary="Health check")
async def healthz(request: Request) -> dict:
    service: ImageService = request.app.state.service
    await anyio.to_thread.run_sync(service.ping)  # the catalog answers
    return {"status": "ok", "version": __version__}


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
