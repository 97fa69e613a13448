"""Albums: one link for a batch of uploads (backend.albums). The JSON API and the album page."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from backend.albums import MAX_ALBUM_IMAGES, Albums
from backend.catalog import ImageRecord
from backend.errors import BadRequest
from backend.http.auth import bearer_token
from backend.http.body import form_fields
from backend.http.models import (
    ERROR_RESPONSES,
    Album,
    AlbumDeleted,
    NewAlbumResult,
    base_url,
    image_meta,
)
from backend.http.pages import PAGE_METHODS, recent_uploads, set_secret_cookie
from backend.service import ImageService

router = APIRouter()


def album(request: Request, album_id: str, records: tuple[ImageRecord, ...]) -> Album:
    return Album(
        id=album_id,
        url=f"{base_url(request)}/a/{album_id}",
        images=[image_meta(request, record) for record in records],
    )


def delete_url(request: Request, album_id: str, token: str) -> str:
    return f"{base_url(request)}/delete/a/{album_id}/{token}"


def _members(fields: dict) -> list[tuple[str, str]]:
    given = fields.get("images")
    if not isinstance(given, list) or not all(
        isinstance(m, dict)
        and isinstance(m.get("id"), str)
        and isinstance(m.get("delete_token"), str)
        for m in given
    ):
        raise BadRequest(
            "Send the images as a list 'images' of objects with 'id' and 'delete_token'."
        )
    return [(m["id"], m["delete_token"]) for m in given]


@router.post(
    "/api/albums",
    status_code=201,
    response_model=NewAlbumResult,
    responses=ERROR_RESPONSES,
    summary="Make an album of your uploads",
)
async def create_album(request: Request) -> Response:
    """A JSON object `{"images": [{"id": ..., "delete_token": ...}, ...]}`: each image's delete
    token shows it is yours. 201 with the album's link and its own delete token."""
    await request.app.state.guard.check_upload(request)  # counted like an upload
    members = _members(await form_fields(request))
    albums: Albums = request.app.state.albums
    made = await anyio.to_thread.run_sync(albums.create, members)
    shown = album(request, made.id, made.images)
    result = NewAlbumResult(
        **shown.model_dump(),
        delete_token=made.delete_token,
        delete_url=delete_url(request, made.id, made.delete_token),
    )
    return JSONResponse(
        result.model_dump(mode="json"), status_code=201, headers={"Location": shown.url}
    )


@router.get(
    "/api/albums/{album_id}",
    response_model=Album,
    responses=ERROR_RESPONSES,
    summary="An album's live images",
)
async def get_album(request: Request, album_id: str) -> Album:
    albums: Albums = request.app.state.albums
    return album(request, album_id, await anyio.to_thread.run_sync(albums.images, album_id))


@router.delete(
    "/api/albums/{album_id}",
    response_model=AlbumDeleted,
    responses={
        401: {"description": "No bearer token."},
        403: {"description": "Wrong token."},
        404: ERROR_RESPONSES[404],
    },
    summary="Delete an album with its delete token (its images too when asked)",
)
async def delete_album(
    request: Request,
    album_id: str,
    images: bool = Query(
        False,
        description="Also delete every image of the album (their uploader proved each was "
        "theirs when making it). Without it the images stay.",
    ),
) -> AlbumDeleted:
    token = bearer_token(request, "album's delete token")
    albums: Albums = request.app.state.albums
    deleted = await anyio.to_thread.run_sync(albums.delete, album_id, token, images)
    return AlbumDeleted(deleted_images=deleted)


@router.api_route("/a/{album_id}", methods=["GET", "HEAD"], include_in_schema=False)
async def album_page(request: Request, album_id: str) -> Response:
    albums: Albums = request.app.state.albums
    records = await anyio.to_thread.run_sync(albums.images, album_id)
    return request.app.state.pages.album(request, album(request, album_id, records))


# -- the album's delete link: a confirmation page (GET deletes nothing: link-preview bots follow
# links), its form POSTs, then 303 to a "deleted" page (a reload deletes nothing more) ----------


@router.api_route("/delete/a/{album_id}/{token}", methods=["GET", "HEAD"], include_in_schema=False)
async def confirm_album_delete(request: Request, album_id: str, token: str) -> Response:
    albums: Albums = request.app.state.albums
    records = await anyio.to_thread.run_sync(albums.to_delete, album_id, token)
    return request.app.state.pages.confirm_album_delete(
        request, album(request, album_id, records), token
    )


@router.post("/delete/a/{album_id}/{token}", include_in_schema=False)
async def delete_album_by_link(request: Request, album_id: str, token: str) -> Response:
    with_images = (await form_fields(request, allow_empty=True)).get("images") == "yes"
    albums: Albums = request.app.state.albums
    deleted = await anyio.to_thread.run_sync(albums.delete, album_id, token, with_images)
    return RedirectResponse(f"/a/{album_id}/deleted?images={deleted}", status_code=303)


@router.api_route("/a/{album_id}/deleted", methods=["GET", "HEAD"], include_in_schema=False)
async def album_deleted(request: Request, album_id: str, images: int = Query(0, ge=0)) -> Response:
    return request.app.state.pages.album_deleted(request, images)


# -- without JavaScript: this browser's uploads of the last hour become one album (the upload
# result page offers it), shown on a result page of its own (POST-redirect-GET) -----------------

ALBUM_COOKIE = "picdrop-album-delete"


def _recent_members(service: ImageService, cookies: dict[str, str]) -> list[tuple[str, str]]:
    return [(record.id, token) for record, token in recent_uploads(service, cookies)]


@router.post("/uploaded/album", include_in_schema=False)
async def make_album_of_recent_uploads(request: Request) -> Response:
    await request.app.state.guard.check_upload(request)  # counted like an upload
    service: ImageService = request.app.state.service
    members = await anyio.to_thread.run_sync(_recent_members, service, request.cookies)
    if len(members) < 2:
        raise BadRequest(
            "There are no uploads of this browser to make an album of: they are made from the "
            "images uploaded here in the last hour."
        )
    albums: Albums = request.app.state.albums
    made = await anyio.to_thread.run_sync(albums.create, members[-MAX_ALBUM_IMAGES:])
    path = f"/uploaded/album/{made.id}"
    response = RedirectResponse(path, status_code=303)
    set_secret_cookie(response, request, ALBUM_COOKIE, made.delete_token, path)
    return response


@router.api_route("/uploaded/album/{album_id}", methods=PAGE_METHODS, include_in_schema=False)
async def album_made(request: Request, album_id: str) -> Response:
    albums: Albums = request.app.state.albums
    records = await anyio.to_thread.run_sync(albums.images, album_id)
    token = request.cookies.get(ALBUM_COOKIE, "")
    owner = await anyio.to_thread.run_sync(albums.is_owner, album_id, token)
    link = delete_url(request, album_id, token) if owner else None
    return request.app.state.pages.album_made(request, album(request, album_id, records), link)
