"""A client-side deadline on PostgreSQL calls.

A frozen database server (SIGSTOP, a hung VM, a partition that drops packets without a reset)
never answers: its statement timeout cannot fire, TCP keeps the connection open, and libpq has no
read timeout, so a request would hang as long as the freeze lasts. Here a watchdog thread cuts the
socket of a call that outlives its deadline; psycopg then raises OperationalError, SQLAlchemy
discards the connection, and the request answers 503 like any other database outage.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

POLL = 0.1  # seconds between the watchdog's looks at the clock


class Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[float, Any, int]] = {}  # id(conn) -> deadline, conn, fd
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def arm(self, dbapi_connection: Any, seconds: float) -> None:
        fd = dbapi_connection.fileno()
        with self._lock:
            self._armed[id(dbapi_connection)] = (time.monotonic() + seconds, dbapi_connection, fd)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="catalog-deadline", daemon=True
                )
                self._thread.start()

    def disarm(self, dbapi_connection: Any) -> None:
        with self._lock:
            self._armed.pop(id(dbapi_connection), None)

    @contextlib.contextmanager
    def guard(self, dbapi_connection: Any, seconds: float) -> Iterator[None]:
        self.arm(dbapi_connection, seconds)
        try:
            yield
        finally:
            self.disarm(dbapi_connection)

    def stop(self) -> None:
        self._stopped.set()

    def _watch(self) -> None:
        while not self._stopped.wait(POLL):
            now = time.monotonic()
            with self._lock:
                late = [key for key, (deadline, _c, _f) in self._armed.items() if deadline < now]
                for key in late:
                    _deadline, conn, fd = self._armed.pop(key)
                    if not conn.closed and conn.fileno() == fd:  # still the call's own socket
                        _cut(fd)


def _cut(fd: int) -> None:
    """Shut the socket down under libpq's feet: its pending read returns at once, as EOF."""
    with contextlib.suppress(OSError), socket.socket(fileno=socket.dup(fd)) as sock:
        sock.shutdown(socket.SHUT_RDWR)


def install(engine: Engine, *, statement_seconds: float, ping_seconds: float) -> Watchdog:
    """Bound every statement by `statement_seconds` and the ping of a pooled connection (before
    each checkout: SQLAlchemy's own pre-ping cannot be bounded) by `ping_seconds`."""
    watchdog = Watchdog()

    @event.listens_for(engine, "before_cursor_execute")
    def armed(conn, cursor, statement, parameters, context, executemany) -> None:
        watchdog.arm(cursor.connection, statement_seconds)

    @event.listens_for(engine, "after_cursor_execute")
    def answered(conn, cursor, statement, parameters, context, executemany) -> None:
        watchdog.disarm(cursor.connection)

    @event.listens_for(engine, "handle_error")
    def failed(context) -> None:
        cursor = getattr(context, "cursor", None)  # absent when connecting failed
        if cursor is not None:
            watchdog.disarm(cursor.connection)

    @event.listens_for(engine, "checkout")
    def ping(dbapi_connection, record, proxy) -> None:
        try:
            with watchdog.guard(dbapi_connection, ping_seconds):
                engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool discards it and tries another (or a new) connection
            raise DisconnectionError(f"a pooled catalog connection is dead: {exc}") from exc

    return watchdog
