"""The history database: every upload, from the moment it is queued.

A job is written here — with the exact bytes it will send — before its first byte leaves, so a
crash or a quit loses nothing: on the next start the queued and interrupted rows are resumed with
the same key (hence the same Idempotency-Key, hence no duplicate on the server).

SQLite in WAL mode; one connection guarded by a lock, shared by the GUI and worker threads.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from desktop.core.api import UploadResult
from desktop.core.jobs import JobState
from desktop.core.links import LinkInfo

SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    key           TEXT PRIMARY KEY,
    idem_key      TEXT NOT NULL,      -- Idempotency-Key: the same for every try of this file
    batch         TEXT NOT NULL,
    name          TEXT NOT NULL,
    size          INTEGER NOT NULL,
    mime          TEXT NOT NULL,
    state         TEXT NOT NULL,
    error         TEXT NOT NULL DEFAULT '',
    server        TEXT NOT NULL,
    removed       TEXT NOT NULL DEFAULT '[]',   -- JSON list of metadata labels stripped
    thumbnail     BLOB,
    image_id      TEXT,
    url           TEXT,
    page_url      TEXT,
    thumbnail_url TEXT,
    delete_url    TEXT,
    delete_token  TEXT,
    width         INTEGER,
    height        INTEGER,
    sha256        TEXT,
    expires       TEXT,               -- what was asked for: 1h, 1d, 7d, 30d, never (NULL: default)
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_created ON uploads (created_at);
-- The bytes still to send, kept apart so listing history never reads them.
CREATE TABLE IF NOT EXISTS payloads (
    key  TEXT PRIMARY KEY REFERENCES uploads (key) ON DELETE CASCADE,
    data BLOB NOT NULL
);
"""

_COLUMNS = ", ".join(
    ("key", "idem_key", "batch", "name", "size", "mime", "state", "error", "server", "removed",
     "thumbnail", "image_id", "url", "page_url", "thumbnail_url", "delete_url", "delete_token",
     "width", "height", "sha256", "expires", "created_at", "updated_at")
)  # fmt: skip


@dataclass
class HistoryItem:
    key: str
    idem_key: str
    batch: str
    name: str
    size: int
    mime: str
    state: JobState
    server: str
    created_at: float
    updated_at: float = 0.0
    error: str = ""
    removed: list[str] = field(default_factory=list)
    thumbnail: bytes | None = None
    image_id: str | None = None
    url: str | None = None
    page_url: str | None = None
    thumbnail_url: str | None = None
    delete_url: str | None = None
    delete_token: str | None = None
    width: int | None = None
    height: int | None = None
    sha256: str | None = None
    expires: str | None = None

    def link_info(self) -> LinkInfo | None:
        if not self.url:
            return None
        return LinkInfo(
            url=self.url,
            page_url=self.page_url or self.url,
            thumbnail_url=self.thumbnail_url or self.url,
            delete_url=self.delete_url or "",
            width=self.width or 0,
            height=self.height or 0,
            name=self.name,
        )


class HistoryStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a row that says "queued" must really be on disk before the upload starts.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(uploads)")}
        if "expires" not in columns:  # databases from before `expires` was recorded
            self._db.execute("ALTER TABLE uploads ADD COLUMN expires TEXT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- writes -----------------------------------------------------------------------------
    def add_queued(self, item: HistoryItem, payload: bytes) -> None:
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO uploads (key, idem_key, batch, name, size, mime, state, server, "
                "removed, thumbnail, expires, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    item.key,
                    item.idem_key,
                    item.batch,
                    item.name,
                    item.size,
                    item.mime,
                    JobState.QUEUED,
                    item.server,
                    json.dumps(item.removed),
                    item.thumbnail,
                    item.expires,
                    item.created_at,
                    now,
                ),
            )
            db.execute("INSERT INTO payloads (key, data) VALUES (?, ?)", (item.key, payload))

    def set_state(self, key: str, state: JobState, error: str = "") -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE uploads SET state = ?, error = ?, updated_at = ? WHERE key = ?",
                (state, error, time.time(), key),
            )

    def renew_idempotency_key(self, key: str, idem_key: str) -> None:
        """A retry after a cancel is a new upload: the old key may name an image the cancel
        deleted from the server."""
        with self._tx() as db:
            db.execute("UPDATE uploads SET idem_key = ? WHERE key = ?", (idem_key, key))

    def set_done(self, key: str, result: UploadResult) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE uploads SET state = ?, error = '', image_id = ?, url = ?, page_url = ?, "
                "thumbnail_url = ?, delete_url = ?, delete_token = ?, width = ?, height = ?, "
                "sha256 = ?, updated_at = ? WHERE key = ?",
                (
                    JobState.DONE,
                    result.id,
                    result.url,
                    result.page_url,
                    result.thumbnail_url,
                    result.delete_url,
                    result.delete_token,
                    result.width,
                    result.height,
                    result.sha256,
                    time.time(),
                    key,
                ),
            )
            db.execute("DELETE FROM payloads WHERE key = ?", (key,))

    def forget(self, key: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM uploads WHERE key = ?", (key,))

    # -- reads ------------------------------------------------------------------------------
    def get(self, key: str) -> HistoryItem | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM uploads WHERE key = ?", (key,)
            ).fetchone()
        return _item(row) if row else None

    def payload(self, key: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM payloads WHERE key = ?", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def items(self, search: str = "", limit: int = 500) -> list[HistoryItem]:
        """Newest first; `search` matches the name, links or state, case-insensitively."""
        sql = f"SELECT {_COLUMNS} FROM uploads"
        args: list[object] = []
        if search.strip():
            like = (
                "%"
                + search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                + "%"
            )
            sql += (
                " WHERE name LIKE ? ESCAPE '\\' OR url LIKE ? ESCAPE '\\' "
                "OR page_url LIKE ? ESCAPE '\\' OR state LIKE ? ESCAPE '\\'"
            )
            args += [like] * 4
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_item(r) for r in rows]

    def recent_done(self, limit: int = 5) -> list[HistoryItem]:
        """The newest uploads that have a working link (the tray's "recent uploads")."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM uploads WHERE state = ? AND url IS NOT NULL "
                "ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (JobState.DONE, limit),
            ).fetchall()
        return [_item(r) for r in rows]

    def find(self, ref: str) -> HistoryItem | None:
        """An upload by its server ID, its link or viewer page, or its history key; the newest
        when several match (the same image uploaded twice has one ID per upload anyway)."""
        ref = ref.strip()
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM uploads WHERE image_id = ? OR url = ? OR page_url = ? "
                "OR key = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
                (ref, ref, ref, ref),
            ).fetchone()
        return _item(row) if row else None

    def unfinished(self) -> list[HistoryItem]:
        """Rows a previous run queued or was sending when it stopped, oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM uploads WHERE state IN (?, ?) ORDER BY created_at, rowid",
                (JobState.QUEUED, JobState.UPLOADING),
            ).fetchall()
        return [_item(r) for r in rows]


def _item(row: sqlite3.Row) -> HistoryItem:
    data = dict(row)
    data["state"] = JobState(data["state"])
    data["removed"] = json.loads(data["removed"] or "[]")
    if data["thumbnail"] is not None:
        data["thumbnail"] = bytes(data["thumbnail"])
    return HistoryItem(**data)
