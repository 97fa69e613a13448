"""Upload endpoints: the JSON API, the raw PUT, the curl-friendly `POST /`, the no-JS form."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from backend.errors import ApiError, BadRequest
from backend.expiry import EPOCH_MILLISECONDS_FROM, EXPIRY_CHOICES, EXPIRY_NAMES_TEXT
from backend.http.body import ClientGone, UploadBody, empty_upload, form_fields, read_upload
from backend.http.models import UPLOAD_RESPONSES, UploadResult, upload_result
from backend.http.pages import show_upload_result
from backend.http.url_fetch import UrlFetcher
from backend.images import Processed
from backend.images.pipeline import process_memory
from backend.service import ImageService, Upload

log = logging.getLogger(__name__)
router = APIRouter()

# Named lifetimes, or 0x0.st's numbers: hours, or milliseconds since 1970 (backend.expiry).
EXPIRES_SCHEMA = {
    "type": "string",
    "pattern": f"^({'|'.join(EXPIRY_CHOICES)}|[1-9][0-9]{{0,19}})$",
    "description": f"{EXPIRY_NAMES_TEXT}; or a number of hours, or a time in milliseconds "
    f"since 1970 (from {EPOCH_MILLISECONDS_FROM} on). Capped by the server's maximum.",
}

MULTIPART_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "expires": EXPIRES_SCHEMA,
                    },
                }
            },
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Same key on every retry of one file: the first result is returned.",
            "schema": {"type": "string", "minLength": 16, "maxLength": 200},
        },
        {
            "name": "expires",
            "in": "query",
            "required": False,
            "schema": EXPIRES_SCHEMA,
        },
    ],
}


@dataclass(frozen=True)
class Received:
    upload: Upload
    removed: tuple[str, ...] = ()  # the metadata stripped from this request's file


async def receive_upload(request: Request) -> Received | None:
    """Read, validate, strip and store one upload. None when the client went away meanwhile."""
    service: ImageService = request.app.state.service
    request.state.upload_outcome = "refused"  # what the metrics count it as, until stored
    try:
        await request.app.state.guard.check_upload(request)  # 429 before the body is read
        body = await _receive_body(request)
    except ClientGone:
        return _client_gone(request)
    except ApiError as refusal:
        # Refused before the whole body arrived (429, 413, 408, 415...): close the connection
        # after the answer, or the server would go on reading (and discarding) the rest of it.
        refusal.headers.setdefault("Connection", "close")
        raise
    try:
        expires_at = service.expiry(
            body.fields.get("expires") or request.query_params.get("expires")
        )
        key = request.headers.get("idempotency-key")
        if key is not None:
            replay = await anyio.to_thread.run_sync(service.replay, body.sha256, key)
            if replay is not None:
                request.state.upload_outcome = "replayed"
                return Received(replay)
        # Charged before anything is decoded: the body as received and as stripped (the same
        # object when nothing was removed), and the pixels its check decodes, from its headers;
        # still charged while the stripped bytes are stored.
        limits = service.limits

        def store(processed: Processed) -> Received:
            upload = service.store_upload(
                processed, request_sha256=body.sha256, expires_at=expires_at, idempotency_key=key
            )
            return Received(upload, processed.removed)

        received = await request.app.state.image_work.run(
            request,
            body.read,
            lambda data: process_memory(data, limits),
            lambda data: service.prepare(data, body.sha256),
            extra_memory=2 * body.file.size,
            then=store,
        )
        upload = received.upload
        request.state.upload_outcome = "replayed" if upload.replayed else "stored"
        request.state.stored_bytes = 0 if upload.replayed else upload.record.size
        return received
    except ClientGone:
        return _client_gone(request)
    finally:
        body.close()


# An upload from a URL: a small form or JSON object with `url` (and `expires`), not a file.
URL_UPLOAD_TYPES = ("application/json", "application/x-www-form-urlencoded")


async def _receive_body(request: Request) -> UploadBody:
    """The upload's bytes: the request's body, or the image at the URL it names."""
    settings = request.app.state.settings
    ctype = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if ctype not in URL_UPLOAD_TYPES:
        return await read_upload(request, settings.max_bytes, settings.read_timeout)
    fields = await form_fields(request)
    url = fields.get("url")
    if not isinstance(url, str) or not url.strip():
        raise BadRequest("Send the image's web address in a field named 'url'.")
    body = empty_upload(request, settings.max_bytes)
    if fields.get("expires") is not None:
        body.fields["expires"] = str(fields["expires"])
    try:
        await UrlFetcher.from_settings(settings).fetch(url, body)
    except BaseException:
        body.close()
        raise
    return body


def _client_gone(request: Request) -> None:
    request.state.upload_outcome = "abandoned"
    log.info("client disconnected during the upload; nothing stored")


Answer = Callable[[UploadResult, int], Response]  # the result, and 200 for a replay (else 201)


async def _upload_then(request: Request, answer: Answer) -> Response:
    """Receive the upload, then `answer` with its result."""
    received = await receive_upload(request)
    if received is None:
        return Response(status_code=400)  # nobody is listening; the status is for the access log
    upload = received.upload
    result = upload_result(request, upload.record, upload.delete_token, received.removed)
    return answer(result, 200 if upload.replayed else 201)


def _json_result(result: UploadResult, status: int) -> JSONResponse:
    return JSONResponse(
        result.model_dump(mode="json"), status_code=status, headers={"Location": result.page_url}
    )


@router.post(
    "/api/upload",
    status_code=201,
    response_model=UploadResult,
    responses=UPLOAD_RESPONSES,
    openapi_extra=MULTIPART_BODY,
    summary="Upload an image",
)
async def api_upload(request: Request) -> Response:
    """Multipart field `file` (or `file[]`, `images[]`), or a raw `image/*` body; or, to upload
    from the web, a JSON object (or urlencoded form) with `url` and an optional `expires`: the
    server fetches the image (public http/https addresses only, redirects checked too, the
    same size limit) and checks it like any upload.

    201 with the links and the secret delete token; 200 when an Idempotency-Key replays an
    earlier upload.
    """
    return await _upload_then(request, _json_result)


@router.put(
    "/api/upload/{filename}",
    status_code=201,
    response_model=UploadResult,
    responses=UPLOAD_RESPONSES,
    summary="Upload a raw body (curl -T)",
)
async def api_put(request: Request, filename: str) -> Response:
    return await _upload_then(request, _json_result)


def _text_result(result: UploadResult, status: int) -> Response:
    """The raw URL as plain text, the delete token in headers: what curl users read."""
    return PlainTextResponse(
        result.url + "\n",
        status_code=status,
        headers={"X-Delete-Token": result.delete_token, "X-Delete-Url": result.delete_url},
    )


@router.post("/", include_in_schema=False)
async def curl_upload(request: Request) -> Response:
    """`curl -F file=@x.png host/`."""
    return await _upload_then(request, _text_result)


@router.put("/", include_in_schema=False)
@router.put("/{filename}", include_in_schema=False)
async def curl_put(request: Request) -> Response:
    """`curl -T x.png host/` (curl appends the file's name to a URL ending in /)."""
    return await _upload_then(request, _text_result)


@router.post("/upload", include_in_schema=False)
async def form_upload(request: Request) -> Response:
    """The web page's form, for browsers without JavaScript: 303 to a page with the links."""
    return await _upload_then(request, lambda result, _status: show_upload_result(request, result))
