"""`create_app(settings, ...)`: the ASGI application, with its collaborators passed in."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable

import anyio
from fastapi import FastAPI

from backend import __version__
from backend.abuse.ratelimit import RateLimits
from backend.abuse.secret import server_secret
from backend.albums import Albums
from backend.assembly import build
from backend.catalog import Catalog
from backend.http import (
    errors,
    fingerprints,
    log_redaction,
    metrics,
    pages,
    routes_albums,
    routes_api,
    routes_moderation,
    routes_oembed,
    routes_qr,
    routes_serve,
    routes_upload,
)
from backend.http.access_log import AccessLog
from backend.http.budget import ByteBudget, SharedByteBudget
from backend.http.crosssite import RefuseCrossSite
from backend.http.fastpath import FastImages
from backend.http.guard import Guard, GuardMiddleware
from backend.http.imagework import ImageWork
from backend.outages import OutageLog
from backend.service import ImageService, UploadCheck
from backend.settings import Settings, env_name
from backend.shared_state import SharedState
from backend.storage import BlobStore

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    catalog: Catalog | None = None,
    store: BlobStore | None = None,
    checks: Iterable[UploadCheck] = (),
    shared: SharedState | None = None,
    migrate: bool = True,
) -> FastAPI:
    """The app for `settings`; `catalog`, `store` and `checks` are for tests (see `build`).
    `shared`: this is one of several `serve` processes, which share their limits (unless in
    Redis) and their upload memory there. `migrate=False`: the caller has migrated the catalog
    already, so the app's start-up does not do it again."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_redaction.install()
    backend = build(settings, catalog=catalog, store=store, checks=checks)
    service = backend.images
    outages = OutageLog(logging.getLogger("backend.outages"))
    ratelimit_url, secret = settings.ratelimit_url, lambda: server_secret(settings)
    if shared is not None and ratelimit_url == "memory://":
        ratelimit_url, secret = shared.limits_url, lambda: shared.secret
    limits = RateLimits(
        url=ratelimit_url,
        upload=settings.upload_rate,
        report=settings.report_rate,
        notfound=settings.notfound_rate,
        secret=secret,
        timeout=settings.ratelimit_timeout,
        outages=outages,
    )
    if not limits.local and not settings.secret_key:
        log.warning(
            "%s is not set: replicas that do not share this data directory will key clients "
            "differently, and each gets its own rate limits",
            env_name("secret_key"),
        )
    guard = Guard(limits, settings.trusted_proxies)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            await anyio.to_thread.run_sync(
                backend.catalog.migrate_when_reachable, settings.database_startup_wait
            )
        tasks = [
            asyncio.create_task(
                fingerprints.forever(
                    app.state.image_work, backend.moderation, settings.fingerprint_interval
                )
            )
        ]
        if settings.sweep_interval > 0:
            tasks.append(
                asyncio.create_task(
                    _sweep_forever(service, backend.albums, settings.sweep_interval)
                )
            )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            # A pass in a worker thread finishes its step first: nothing writes after the close.
            await asyncio.gather(*tasks, return_exceptions=True)
            limits.close()
            backend.close()

    app = FastAPI(
        title="picdrop",
        version=__version__,
        summary="Anonymous image sharing: upload an image, get a short unguessable link.",
        lifespan=lifespan,
        # Swagger UI loads from a CDN and cannot live under the pages' CSP: off unless asked for.
        docs_url="/api/docs" if settings.api_docs else None,
        redoc_url=None,
        # FastAPI's own OpenTelemetry hooks ask the global providers (and the environment) on
        # every request, ~15% of a cached image's answer; picdrop has its own metrics (opt-in).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.backend = backend
    app.state.service = service
    app.state.moderation = backend.moderation
    app.state.albums = backend.albums
    app.state.guard = guard
    app.state.limits = limits
    app.state.outages = outages
    # CPU-heavy image work runs about one job per core, on threads of its own; the rest waits
    # its turn without holding a thread of the default pool, which serving and health checks use.
    # One of several `serve` processes: the upload memory is the machine's, shared by all.
    budget = (
        SharedByteBudget(settings.upload_memory, shared.budget_path, outages)
        if shared is not None
        else ByteBudget(settings.upload_memory)
    )
    app.state.image_work = ImageWork(settings.job_limit, budget, settings.decode_timeout)
    app.state.cpu_limiter = app.state.image_work.limiter  # its parts, by the names they had
    app.state.upload_budget = app.state.image_work.budget
    app.state.pages = pages.Pages(settings)
    errors.install(app)
    app.include_router(routes_api.router)
    app.include_router(routes_oembed.router)
    app.include_router(routes_qr.router)
    app.include_router(routes_albums.router)
    app.include_router(routes_upload.router)
    app.include_router(routes_moderation.router)
    app.include_router(routes_moderation.pages_router)
    app.include_router(pages.router)
    # Last: `/{id}` and `/{id}.{ext}` would otherwise shadow fixed paths.
    app.include_router(routes_serve.router)
    app.mount("/static", pages.static_files(), name="static")
    # Innermost: cached images answered without FastAPI's router or a thread hop (fastpath.py).
    app.add_middleware(FastImages, service=service, settings=settings)
    app.add_middleware(GuardMiddleware, guard=guard)  # inside the access log: 429s are logged
    app.add_middleware(RefuseCrossSite)  # outside the limits: a forged form costs nobody a hit
    # Inside the access log too, so that an incident's 500 is logged like any other answer.
    app.add_middleware(errors.Incidents)
    if settings.log_requests:
        app.add_middleware(AccessLog)
    metrics.install(app, settings, app.state.image_work, service)  # outermost, opt-in
    _build_routes(app)
    return app


def _build_routes(app: FastAPI) -> None:
    """Has FastAPI build every route's parameter models now, in the caller's thread.

    FastAPI builds them on the first request that walks the routes, inside
    `warnings.catch_warnings()`, which changes the process's warning filters (not thread-safe
    before Python 3.14): another thread's `catch_warnings` at that moment let a pydantic warning
    through, and under `-W error` the first upload answered 500. A path no route matches walks
    them all; the first request is spared the work too.
    """
    scope = {"type": "http", "method": "GET", "path": "/\x00", "root_path": "", "headers": []}
    for route in app.router.routes:
        route.matches(scope)


# The first sweep waits this long (or the interval, if shorter): a start-up is busy enough, and
# a server that lives only seconds (a test's, a quick `picdrop` run) need not start a sweep child.
FIRST_SWEEP_DELAY = 30.0


async def _sweep_forever(service: ImageService, albums: Albums, interval: float) -> None:
    await asyncio.sleep(min(interval, FIRST_SWEEP_DELAY))
    while True:
        try:
            # One replica at a time (an advisory lock on PostgreSQL); the others skip this round.
            result = await anyio.to_thread.run_sync(service.housekeeping)
            if result is not None and any(result):
                log.info("sweep: %d expired uploads purged, %d orphan blobs removed", *result)
            if result is not None and (
                emptied := await anyio.to_thread.run_sync(albums.forget_empty)
            ):
                log.info("sweep: %d albums whose images are all gone deleted", emptied)
        except Exception:  # keep sweeping; a failed round is logged and retried next interval
            log.exception("sweep failed")
        await asyncio.sleep(interval)
