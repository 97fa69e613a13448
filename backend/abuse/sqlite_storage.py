"""A `limits` storage in a SQLite file (`sqlite:///path`): the processes of one machine share their
rate limits without Redis.

`limits` ships memory, Redis, memcached, MongoDB and etcd storages; none of them is shared
between processes without a server. This one keeps the moving windows (one row per hit) and the
fixed-window counters in a WAL-mode SQLite file; a hit is one short write transaction, so two
processes never both let the last allowed request through. Importing this module registers the
`sqlite` scheme with `limits.storage.storage_from_string`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import ClassVar

from limits.storage import MovingWindowSupport, Storage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, at REAL NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS hits_by_key ON hits (key, at);
CREATE INDEX IF NOT EXISTS hits_by_expiry ON hits (expires);
CREATE TABLE IF NOT EXISTS counters (
    key TEXT PRIMARY KEY, value INTEGER NOT NULL, expires REAL NOT NULL
);
"""
# Every this many hits, rows of windows that have ended (other clients', other days') go.
_PURGE_EVERY = 1000


class SQLiteStorage(Storage, MovingWindowSupport):
    STORAGE_SCHEME: ClassVar[list[str]] = ["sqlite"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: float | str | bool):
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.path = uri.removeprefix("sqlite://")
        self.busy_timeout = float(options.get("busy_timeout", 5))
        # One connection per thread: the event loop's reads never queue behind a worker thread's
        # write (WAL readers do not wait for writers).
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._hits = 0
        self._ready = False  # the tables made (on first use: the disk may be full at start)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE for writes
                check_same_thread=False,  # closed by close(), from whichever thread
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # counters need no fsync per hit
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        if not self._ready:
            conn.executescript(_SCHEMA)
            self._ready = True
        return conn

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: one writer at a time across processes; ROLLBACK on an exception."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- moving window ---------------------------------------------------------------------------
    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        with self._transaction() as conn:
            conn.execute("DELETE FROM hits WHERE key = ? AND at <= ?", (key, now - expiry))
            (used,) = conn.execute("SELECT count(*) FROM hits WHERE key = ?", (key,)).fetchone()
            if used + amount > limit:
                return False
            conn.executemany(
                "INSERT INTO hits (key, at, expires) VALUES (?, ?, ?)",
                [(key, now, now + expiry)] * amount,
            )
            self._hits += 1
            if self._hits % _PURGE_EVERY == 0:
                conn.execute("DELETE FROM hits WHERE expires <= ?", (now,))
                conn.execute("DELETE FROM counters WHERE expires <= ?", (now,))
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        query = "SELECT min(at), count(*) FROM hits WHERE key = ? AND at > ?"
        oldest, used = self._connection().execute(query, (key, now - expiry)).fetchone()
        return (oldest, used) if used else (now, 0)

    # -- fixed window ----------------------------------------------------------------------------
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._transaction() as conn:
            conn.execute("DELETE FROM counters WHERE key = ? AND expires <= ?", (key, now))
            conn.execute(
                "INSERT INTO counters (key, value, expires) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
                (key, amount, now + expiry),
            )
            (value,) = conn.execute("SELECT value FROM counters WHERE key = ?", (key,)).fetchone()
        return value

    def get(self, key: str) -> int:
        row = (
            self._connection()
            .execute("SELECT value FROM counters WHERE key = ? AND expires > ?", (key, time.time()))
            .fetchone()
        )
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        row = (
            self._connection()
            .execute("SELECT expires FROM counters WHERE key = ? AND expires > ?", (key, now))
            .fetchone()
        )
        return row[0] if row else now

    # -- housekeeping ----------------------------------------------------------------------------
    def check(self) -> bool:
        return self._connection().execute("SELECT 1").fetchone() == (1,)

    def reset(self) -> int | None:
        with self._transaction() as conn:
            removed = conn.execute("DELETE FROM hits").rowcount
            removed += conn.execute("DELETE FROM counters").rowcount
        return removed

    def clear(self, key: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM hits WHERE key = ?", (key,))
            conn.execute("DELETE FROM counters WHERE key = ?", (key,))

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
