"""Running the ASGI app: in this process on a thread (the desktop app's embedded server, tests)
or as the main program (`picdrop-server serve`)."""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import socket
import sys
import threading
import time

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from backend.settings import Settings

log = logging.getLogger(__name__)


def quiet_library_logs() -> None:
    """Alembic announces each of its plugins and its DDL mode at INFO on every start; the
    migrations it runs stay visible."""
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").addFilter(
        lambda record: (
            record.getMessage().startswith("Running upgrade") or record.levelno >= logging.WARNING
        )
    )


def pin_malloc_mmap_threshold(threshold: int = 256 * 1024) -> None:
    """Make glibc return big freed buffers (upload bodies) to the system at once.

    glibc raises its mmap threshold each time a large mmapped block is freed ("dynamic mmap
    threshold", mallopt(3)), after which multi-megabyte bodies come from the heap and the
    process's memory stays high after the upload. Setting the threshold explicitly turns that off.
    """
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl...): nothing to tune
        return
    m_mmap_threshold = -3
    libc.mallopt(m_mmap_threshold, threshold)


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before the server starts so that port 0 resolves to a real port we can report."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say
    # they are TCP. Without it a response's headers and body leave in two segments and the body
    # waits ~40 ms for the client's delayed ACK on every keep-alive request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


MAX_HEAD_BYTES = 64 * 1024  # a request's line and headers


class OneSendPerTurn:
    """A transport whose writes of one turn of the event loop leave together, in one writelines
    (one writev): uvicorn writes a response's head and its body apart, and on a TCP_NODELAY
    socket each write is a send of its own, a segment and a wake-up of the client. For a cached
    image the head's send alone took as much CPU as the body's."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def writelines(self, lines) -> None:
        for data in lines:
            self.write(data)

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.writelines(pending)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class BoundedHeadProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on a request's head, as its h11 one has
    (h11_max_incomplete_event_size): httptools keeps a head whole however long it gets, so 100 MB
    of headers were read into memory. A longer head is answered 431 and the connection closed."""

    head_bytes: int | None = 0  # read so far of the head being read; None while a body is
    heads_ended = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneSendPerTurn(transport, self.loop))  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        reading_head, heads_ended = self.head_bytes is not None, self.heads_ended
        super().data_received(data)
        if reading_head and self.heads_ended == heads_ended and not self.transport.is_closing():
            self.head_bytes += len(data)  # all of it in the head: this chunk did not end it
            if self.head_bytes > MAX_HEAD_BYTES:
                self._refuse_head()

    def on_headers_complete(self) -> None:
        self.head_bytes = None
        self.heads_ended += 1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.head_bytes = 0
        super().on_message_complete()

    def _refuse_head(self) -> None:
        body = json.dumps(
            {
                "error": f"The request's headers are longer than {MAX_HEAD_BYTES // 1024} KB.",
                "code": "headers_too_large",
            }
        ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
        )
        self.transport.close()


def uvicorn_config(app, settings: Settings, **kw) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=BoundedHeadProtocol,
        log_config=None,  # our own request log (backend.http.logging) never logs addresses
        access_log=False,
        server_header=False,
        # The client is who the socket says, unless PICDROP_TRUSTED_PROXIES says otherwise
        # (backend.http.guard); uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1.
        proxy_headers=False,
        ws="none",  # no WebSockets here (and their log lines carry client addresses)
        # Keep-alive long enough for clients that reuse connections between uploads.
        timeout_keep_alive=30,
        **kw,
    )


class EmbeddedServer:
    """The backend on a background thread of this process.

    `start()` returns once the server accepts connections; `stop()` shuts it down gracefully.
    With `port=0` in the settings a free port is chosen and `url` reflects it.
    """

    def __init__(self, settings: Settings, **app_kwargs) -> None:
        self._requested = settings
        self._app_kwargs = app_kwargs
        self.settings: Settings | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = None

    @property
    def url(self) -> str:
        if self.settings is None:
            raise RuntimeError("server not started")
        return self.settings.base_url

    def start(self, timeout: float = 20.0) -> str:
        from dataclasses import replace

        from backend.http.app import create_app

        sock = bind_socket(self._requested.host, self._requested.port)
        port = sock.getsockname()[1]
        self.settings = replace(self._requested, port=port)
        self.app = None
        try:
            self.app = create_app(self.settings, migrate=False, **self._app_kwargs)
            # Here rather than in the app's lifespan, where uvicorn would turn a catalog or
            # schema it cannot run on (CatalogDamaged, SchemaTooNew) into "did not start".
            self.app.state.backend.catalog.migrate_when_reachable(
                self.settings.database_startup_wait
            )
        except BaseException:
            if self.app is not None:
                self.app.state.backend.close()
            sock.close()
            raise
        config = uvicorn_config(self.app, self.settings, loop="asyncio")
        self._server = uvicorn.Server(config)
        # uvicorn installs signal handlers only on the main thread; we are not on it.
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[sock])),
            name="picdrop-server",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and not self._server.started:
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)  # uvicorn offers no "started" event to wait on
        if not self._server.started:
            sock.close()
            raise RuntimeError("the embedded server did not start")
        log.info("embedded server listening on %s", self.url)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout)
            self._server = None
            self._thread = None
