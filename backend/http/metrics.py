"""Prometheus metrics, opt-in (PICDROP_METRICS_PORT), on a listener of their own.

A port of its own rather than a route behind the admin token: the admin token removes images,
and a scrape configuration is not where it belongs; a separate listener on an internal address
(127.0.0.1 by default) is never proxied by nginx, so the public cannot reach it at all; every
replica has its own, which is what Prometheus scrapes (one target per instance); and scrapes do
not pass through the app's rate limits, access log or event loop.

What is measured, and where it comes from:
- requests by route template, method and status, and their latency by route (this middleware,
  outermost, so 429s and 500s count; images answered by the memory-cache fast path have no route
  and are `unrouted`, like unknown paths);
- refusals by their error code (`backend.http.errors.error_response` notes the code);
- uploads by outcome and bytes stored (`routes_upload.receive_upload` notes them);
- rate-limit refusals (429) by route;
- image work: seconds per job, jobs running and queued (`ImageWork`);
- the image cache's hits, misses and hit ratio (`ImageService.cache_lookups`).
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.http.imagework import ImageWork
from backend.service import ImageService
from backend.settings import Settings, env_name


class Metrics:
    """The metrics of one app, in a registry of their own (several apps may share a process)."""

    def __init__(self, image_work: ImageWork, service: ImageService) -> None:
        # Imported here: the server runs without the `metrics` extra unless metrics are asked for.
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = registry = CollectorRegistry()
        self.requests = Counter(
            "picdrop_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "picdrop_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route template.",
            ["route"],
            registry=registry,
        )
        self.uploads = Counter(
            "picdrop_uploads",
            "Uploads by outcome: stored, replayed (an Idempotency-Key's earlier answer), refused "
            "(4xx), failed (5xx), abandoned (the client hung up).",
            ["outcome"],
            registry=registry,
        )
        self.stored_bytes = Counter(
            "picdrop_stored_bytes",
            "Bytes of the images uploads stored (metadata removed; replays not counted).",
            registry=registry,
        )
        self.refusals = Counter(
            "picdrop_refusals",
            "Error answers (4xx and 5xx) by their error code.",
            ["code"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "picdrop_rate_limit_refusals",
            "Requests refused by a rate limit (429), by route template.",
            ["route"],
            registry=registry,
        )
        processing = Histogram(
            "picdrop_image_work_seconds",
            "Seconds each image job ran (checking and stripping an upload, making a thumbnail).",
            registry=registry,
        )
        image_work.job_observers.append(processing.observe)
        Gauge(
            "picdrop_image_jobs_waiting", "Image jobs queued for a slot.", registry=registry
        ).set_function(image_work.waiting)
        Gauge("picdrop_image_jobs_running", "Image jobs running.", registry=registry).set_function(
            image_work.running
        )
        registry.register(_CacheCollector(service))

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unrouted"
        self.requests.labels(route, scope["method"], str(status)).inc()
        self.latency.labels(route).observe(seconds)
        state = scope.get("state", {})
        if status >= 400:
            self.refusals.labels(state.get("error_code") or f"http_{status}").inc()
        if status == 429:
            self.rate_limited.labels(route).inc()
        outcome = state.get("upload_outcome")
        if outcome is not None:
            if outcome == "refused" and status >= 500:
                outcome = "failed"
            self.uploads.labels(outcome).inc()
            self.stored_bytes.inc(state.get("stored_bytes", 0))


class _CacheCollector:
    """Read at each scrape from the cache's own counters."""

    def __init__(self, service: ImageService) -> None:
        self.service = service

    def collect(self) -> Iterator[object]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        hits, misses = self.service.cache_lookups()
        yield CounterMetricFamily(
            "picdrop_cache_hits", "Image cache lookups that found the bytes.", value=hits
        )
        yield CounterMetricFamily(
            "picdrop_cache_misses", "Image cache lookups that did not.", value=misses
        )
        yield GaugeMetricFamily(
            "picdrop_cache_hit_ratio",
            "Hits over lookups since start (0 before any lookup).",
            value=hits / (hits + misses) if hits + misses else 0.0,
        )


class MetricsMiddleware:
    """Measures every request, and runs the metrics listener for the app's lifetime (started
    before the app's own start-up, stopped at its shutdown)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, host: str, port: int) -> None:
        self.app = app
        self.metrics = metrics
        self.address = (host, port)
        self._listener: tuple[WSGIServer, threading.Thread] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # if the app fails before answering

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.observe(scope, status, time.perf_counter() - start)

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._start()  # a port in use fails the start-up, with the reason
            elif message["type"] == "lifespan.shutdown":
                self._stop()
            return message

        return wrapped

    def _start(self) -> None:
        from prometheus_client import start_http_server

        host, port = self.address
        try:
            self._listener = start_http_server(port, host, registry=self.metrics.registry)
        except OSError as exc:
            raise RuntimeError(f"metrics: cannot listen on {host}:{port}: {exc.strerror}") from None

    def _stop(self) -> None:
        if self._listener is not None:
            server, thread = self._listener
            server.shutdown()
            server.server_close()
            thread.join()
            self._listener = None


def install(app, settings: Settings, image_work: ImageWork, service: ImageService) -> None:
    """Outermost middleware and listener, when PICDROP_METRICS_PORT asks for them."""
    if not settings.metrics_port:
        return
    if importlib.util.find_spec("prometheus_client") is None:
        raise ValueError(
            f"{env_name('metrics_port')} needs prometheus-client: install picdrop[metrics]"
        )
    app.add_middleware(
        MetricsMiddleware,
        metrics=Metrics(image_work, service),
        host=settings.metrics_host,
        port=settings.metrics_port,
    )
