"""Every error leaves as `{"error": sentence, "code": code}` with its real status (HTML for pages,
plain text for the curl endpoint)."""

from __future__ import annotations

import errno
import logging
import os
import secrets
import traceback

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.catalog import is_disk_full
from backend.errors import ApiError, InsufficientStorage
from backend.http.models import ErrorBody
from backend.images import ImageRejected
from backend.storage import StorageFull, StorageUnavailable

log = logging.getLogger(__name__)
RETRY_AFTER = "30"  # seconds: long enough for a restart, short enough to be worth waiting

HTTP_SENTENCES = {
    404: ("not_found", "There is nothing at this address."),
    405: ("method_not_allowed", "This address does not accept that method."),
}


def wants_text(request: Request) -> bool:
    """The curl endpoint (`POST /`) answers in plain text, errors included."""
    return request.url.path == "/" and request.method == "POST"


def wants_html(request: Request) -> bool:
    return (
        request.method in ("GET", "HEAD", "POST")
        and not request.url.path.startswith("/api/")
        and "text/html" in request.headers.get("accept", "")
    )


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
) -> Response:
    """`extra`: more fields of the JSON body (the text and HTML forms carry the message only)."""
    request.state.error_code = code  # for the metrics' refusals by code, whatever the form
    if wants_text(request):
        return PlainTextResponse(f"error: {message}\n", status, headers=headers)
    if wants_html(request):
        pages = request.app.state.pages
        return pages.error(request, status, message, headers=headers)
    return JSONResponse({"error": message, "code": code, **(extra or {})}, status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return error_response(request, exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(ImageRejected)
    async def image_rejected(request: Request, exc: ImageRejected) -> Response:
        return error_response(request, exc.status, exc.code, exc.message)

    def full(request: Request, exc: BaseException) -> Response:
        """No room: 507 (the contract's code) with when to try again, since room is usually made
        soon; one log line a second, like the outages."""
        request.app.state.outages.failed("storage space", exc, "answered 507")
        err = InsufficientStorage(
            "The server has no room left for new images right now. Try again later."
        )
        return error_response(
            request, err.status, err.code, err.message, {"Retry-After": RETRY_AFTER}
        )

    @app.exception_handler(StorageFull)
    async def storage_full(request: Request, exc: StorageFull) -> Response:
        return full(request, exc)

    def unavailable(
        request: Request,
        exc: Exception,
        kind: str = "object store",
        code: str = "storage_unavailable",
    ) -> Response:
        """A dependency is down: 503 and when to try again, one log line a second per kind."""
        request.app.state.outages.failed(kind, exc, "answered 503")
        return error_response(
            request,
            503,
            code,
            f"The server cannot reach its {kind} right now; try again in a minute.",
            {"Retry-After": RETRY_AFTER},
        )

    @app.exception_handler(StorageUnavailable)
    async def storage_unavailable(request: Request, exc: StorageUnavailable) -> Response:
        return unavailable(request, exc)

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> Response:
        if isinstance(exc, OperationalError) and is_disk_full(exc):  # SQLite's file or WAL
            return full(request, exc)
        if "database is locked" in str(exc.orig):
            log.error("database busy on %s %s", request.method, request.url.path)
            return error_response(
                request,
                503,
                "busy",
                "The server is too busy to store this right now; try again in a few seconds.",
                {"Retry-After": "5"},
            )
        # Unreachable, restarted, a connection cut, a statement timed out: the database's
        # trouble, not this request's. Anything else (a constraint, bad SQL) is a bug.
        if isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated:
            return unavailable(request, exc, "database", "database_unavailable")
        raise exc  # an incident (Incidents, below)

    async def database_unreachable(request: Request, exc: Exception) -> Response:
        return unavailable(request, exc, "database", "database_unavailable")

    # No connection free in time, or every pooled one found dead (the pool gave up retrying).
    app.add_exception_handler(PoolTimeout, database_unreachable)
    app.add_exception_handler(DisconnectionError, database_unreachable)

    @app.exception_handler(OSError)
    async def os_error(request: Request, exc: OSError) -> Response:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # e.g. the temporary file of a large body
            return full(request, exc)
        if exc.errno == errno.EROFS:
            return unavailable(request, exc)
        raise exc  # an incident (Incidents, below)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"The request is malformed: {where} {first.get('msg', '')}".strip()
        return error_response(request, 400, "bad_request", message + ".")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code, message = HTTP_SENTENCES.get(exc.status_code, ("http_error", str(exc.detail)))
        return error_response(request, exc.status_code, code, message, exc.headers)

    app.openapi = lambda: honest_openapi(app)


class Incidents:
    """The last net: an exception nothing else handled becomes a 500 with an incident id.

    Not an `Exception` handler: Starlette runs that one in its ServerErrorMiddleware, which sends
    the answer and then re-raises, so uvicorn logs a second traceback and closes the keep-alive
    connection. Here the exception ends with the answer. The log gets one line per incident,
    with the traceback only the first time an error site (exception type and the line that
    raised it) is seen by this process: the operator sees every bug once, in full, and a client
    repeating the request that hits it cannot flood the log with tracebacks.
    """

    MAX_SITES = 1024  # beyond this many distinct sites, tracebacks stop (the lines go on)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen_sites: set[tuple[str, str, int]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            incident = secrets.token_hex(6)
            self.report(incident, scope, exc)
            if started:  # half an answer is out; nothing sensible can follow it
                return
            message = f"Something went wrong on our side (incident {incident})."
            extra = {"incident": incident}
            try:
                response = error_response(
                    Request(scope, receive), 500, "internal_error", message, extra=extra
                )
            except Exception:  # the error page itself failed: the plain JSON form
                response = JSONResponse({"error": message, "code": "internal_error", **extra}, 500)
            await response(scope, receive, send)

    def report(self, incident: str, scope: Scope, exc: Exception) -> None:
        frames = traceback.extract_tb(exc.__traceback__)
        where = frames[-1] if frames else None
        site = (
            type(exc).__name__,
            os.path.basename(where.filename) if where else "?",
            (where.lineno or 0) if where else 0,
        )
        first = site not in self.seen_sites and len(self.seen_sites) < self.MAX_SITES
        if first:
            self.seen_sites.add(site)
        log.error(
            "incident %s: %s at %s:%d on %s %s",
            incident,
            *site,
            scope.get("method", ""),
            scope.get("path", ""),
            exc_info=exc if first else None,
        )


def honest_openapi(app: FastAPI) -> dict:
    """FastAPI documents a 422 'validation error' on every route with parameters; this server
    answers malformed requests with 400 and the usual error body instead (see invalid_request).
    Say so in /openapi.json, so clients and schema-based tests see the real contract."""
    if app.openapi_schema is None:
        spec = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        error_ref = {"$ref": "#/components/schemas/ErrorBody"}
        for path in spec.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                auto = responses.get("422", {})
                schema = auto.get("content", {}).get("application/json", {}).get("schema", {})
                if schema.get("$ref", "").endswith("/HTTPValidationError"):
                    del responses["422"]
                    responses.setdefault(
                        "400",
                        {
                            "description": "Malformed request.",
                            "content": {"application/json": {"schema": error_ref}},
                        },
                    )
        schemas = spec.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        schemas.setdefault("ErrorBody", ErrorBody.model_json_schema())
        app.openapi_schema = spec
    return app.openapi_schema
