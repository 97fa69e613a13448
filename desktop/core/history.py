"""The history database: every upload, from the moment it is queued.

A job is written here — with the exact bytes it will send — before its first byte leaves, so a
crash or a quit loses nothing: on the next start the queued and interrupted rows are resumed with
the same key (hence the same Idempotency-Key, hence no duplicate on the server).

Listing stays flat as the history grows: thumbnails live in their own table (a page of rows never
reads them), search goes through an FTS5 trigram index (substring matches, as `LIKE '%x%'` would
find, without scanning), and pages are read by keyset (created_at, rowid), never by OFFSET.

SQLite in WAL mode, one connection per thread: readers never wait for a writer (a worker storing
a big payload does not hold up the window). The frequent small updates the GUI thread makes while
uploads run (sending, done, failed) can be handed to a writer thread (`wait=False`), so the event
loop never waits for a commit; every read first waits for those writes, so a reader always sees
what was written before it.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from desktop.core.api import AlbumResult, UploadResult
from desktop.core.jobs import JobState
from desktop.core.links import LinkFormat, LinkInfo, format_link
from desktop.core.paths import damaged_name

log = logging.getLogger(__name__)

PAGE_SIZE = 65536
# What a row is (its `kind`): an uploaded image, or an album made of some (it holds no bytes).
IMAGE = "image"
ALBUM = "album"

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
    kind          TEXT NOT NULL DEFAULT 'image',  -- or 'album': image_id is the album's ID
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_created ON uploads (created_at);
CREATE INDEX IF NOT EXISTS uploads_updated ON uploads (updated_at);
CREATE INDEX IF NOT EXISTS uploads_server ON uploads (server, created_at);
-- Row pictures, kept apart so a page of history never reads them.
CREATE TABLE IF NOT EXISTS thumbnails (
    key  TEXT PRIMARY KEY REFERENCES uploads (key) ON DELETE CASCADE,
    data BLOB NOT NULL
);
-- The bytes still to send, kept apart so listing history never reads them.
CREATE TABLE IF NOT EXISTS payloads (
    key  TEXT PRIMARY KEY REFERENCES uploads (key) ON DELETE CASCADE,
    data BLOB NOT NULL
);
"""

# What search looks in, indexed by trigrams: any substring of three or more characters is found
# through the index, case-insensitively. Kept current by triggers (an external-content table).
SEARCH_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS uploads_search USING fts5(
    name, url, page_url, state, content='uploads', content_rowid='rowid', tokenize='trigram'
);
CREATE TRIGGER IF NOT EXISTS uploads_search_insert AFTER INSERT ON uploads BEGIN
    INSERT INTO uploads_search (rowid, name, url, page_url, state)
    VALUES (new.rowid, new.name, new.url, new.page_url, new.state);
END;
CREATE TRIGGER IF NOT EXISTS uploads_search_delete AFTER DELETE ON uploads BEGIN
    INSERT INTO uploads_search (uploads_search, rowid, name, url, page_url, state)
    VALUES ('delete', old.rowid, old.name, old.url, old.page_url, old.state);
END;
CREATE TRIGGER IF NOT EXISTS uploads_search_update
AFTER UPDATE OF name, url, page_url, state ON uploads BEGIN
    INSERT INTO uploads_search (uploads_search, rowid, name, url, page_url, state)
    VALUES ('delete', old.rowid, old.name, old.url, old.page_url, old.state);
    INSERT INTO uploads_search (rowid, name, url, page_url, state)
    VALUES (new.rowid, new.name, new.url, new.page_url, new.state);
END;
"""
TRIGRAM = 3  # shorter searches cannot use the trigram index and scan instead

_FIELDS = (
    "key", "idem_key", "batch", "name", "size", "mime", "state", "error", "server", "removed",
    "image_id", "url", "page_url", "thumbnail_url", "delete_url", "delete_token", "width",
    "height", "sha256", "expires", "kind", "created_at", "updated_at",
)  # fmt: skip
_COLUMNS = ", ".join(f"u.{name}" for name in _FIELDS) + ", u.rowid AS seq"
_WITH_THUMBNAIL = (
    f"SELECT {_COLUMNS}, t.data AS thumbnail FROM uploads u LEFT JOIN thumbnails t USING (key)"
)
_WITHOUT_THUMBNAIL = f"SELECT {_COLUMNS}, NULL AS thumbnail FROM uploads u"


@dataclass(frozen=True)
class HistoryFilter:
    """Which uploads a listing shows: text anywhere in the name, links or state; created in
    [since, until); on one server (a destination string) or any."""

    text: str = ""
    since: float | None = None
    until: float | None = None
    server: str | None = None

    @property
    def indexed(self) -> bool:
        """Searched through the trigram index. Its matches come newest recorded first (rowid
        order), which pages read without sorting every match."""
        return len(self.text.strip()) >= TRIGRAM

    @property
    def phrase(self) -> str:
        """The search as one FTS5 phrase: a plain substring, quotes and all."""
        return '"' + self.text.strip().replace('"', '""') + '"'

    def where(self, *, with_text: bool = True) -> tuple[str, list[object]]:
        """The SQL condition on `uploads u` and its arguments (without the indexed search when
        `with_text` is False: the caller joins the index itself)."""
        terms: list[str] = []
        args: list[object] = []
        text = self.text.strip()
        if self.indexed:
            if with_text:
                terms.append(
                    "u.rowid IN (SELECT rowid FROM uploads_search WHERE uploads_search MATCH ?)"
                )
                args.append(self.phrase)
        elif text:
            like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            terms.append(
                "(u.name LIKE ? ESCAPE '\\' OR u.url LIKE ? ESCAPE '\\' "
                "OR u.page_url LIKE ? ESCAPE '\\' OR u.state LIKE ? ESCAPE '\\')"
            )
            args += [like] * 4
        if self.since is not None:
            terms.append("u.created_at >= ?")
            args.append(self.since)
        if self.until is not None:
            terms.append("u.created_at < ?")
            args.append(self.until)
        if self.server is not None:
            terms.append("u.server = ?")
            args.append(self.server)
        return " AND ".join(terms) or "1", args


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
    kind: str = IMAGE
    seq: int = 0  # the row's place in the database (ties between equal created_at)

    @property
    def is_album(self) -> bool:
        return self.kind == ALBUM

    @property
    def cursor(self) -> tuple[float, int]:
        """Where the next page of a listing starts (see `HistoryStore.page`)."""
        return self.created_at, self.seq

    def formatted(self, fmt: LinkFormat, template: str = "") -> str:
        """The link as copied in `fmt` ("" when there is none). An album is a page, not an
        image: its link is copied as it is, never embedded as a picture."""
        info = self.link_info()
        if info is None:
            return ""
        return info.page_url if self.is_album else format_link(info, fmt, template)

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


class _Connection:
    """One thread's connection; closed when the thread (the only holder) goes away."""

    def __init__(self, path: Path) -> None:
        self.owner = threading.current_thread()
        self.db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        # Big pages for a new database (an existing one keeps its own: see _migrate): a queued
        # upload's payload is megabytes, which 4 KB pages make several times slower to write.
        self.db.execute(f"PRAGMA page_size={PAGE_SIZE}")
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: a row that says "queued" must really be on disk before the upload starts.
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")

    def close(self) -> None:
        self.db.close()

    def __del__(self) -> None:
        if hasattr(self, "db"):  # connecting may have failed (the database went away)
            self.db.close()


class HistoryUnavailable(Exception):
    """The history database cannot be opened: its folder cannot be made or written, or the file
    there is not a whole SQLite database (`damaged`)."""

    def __init__(self, path: Path, reason: str, *, damaged: bool) -> None:
        what = "is damaged" if damaged else "cannot be opened"
        super().__init__(f"the upload history at {path} {what} ({reason})")
        self.path = path
        self.damaged = damaged


# SQLite's names for a file that is not (or no longer) a database.
_DAMAGED = frozenset(("SQLITE_NOTADB", "SQLITE_CORRUPT"))


class HistoryStore:
    def __init__(self, path: Path) -> None:
        """Raises HistoryUnavailable when the database cannot be opened."""
        self.path = path
        self._local = threading.local()
        self._connections: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._connections_lock = threading.Lock()
        self._in_use_at_close: list[_Connection] = []
        self._writes: queue.Queue = queue.Queue()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db().executescript(SCHEMA)
            self._migrate()
            self._index_search()
        except (OSError, sqlite3.DatabaseError) as exc:
            conn = getattr(self._local, "conn", None)
            if conn is not None:
                conn.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            damaged = getattr(exc, "sqlite_errorname", "") in _DAMAGED
            raise HistoryUnavailable(path, reason, damaged=damaged) from exc

    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _Connection(self.path)
            with self._connections_lock:
                self._connections.add(conn)
        return conn.db

    def _migrate(self) -> None:
        db = self._db()
        columns = {row[1] for row in db.execute("PRAGMA table_info(uploads)")}
        if "expires" not in columns:  # databases from before `expires` was recorded
            db.execute("ALTER TABLE uploads ADD COLUMN expires TEXT")
        if "kind" not in columns:  # databases from before albums: every row is an image
            db.execute(f"ALTER TABLE uploads ADD COLUMN kind TEXT NOT NULL DEFAULT '{IMAGE}'")
        if "thumbnail" in columns:  # databases from before thumbnails had their own table
            with self._tx() as tx:
                tx.execute(
                    "INSERT OR IGNORE INTO thumbnails (key, data) "
                    "SELECT key, thumbnail FROM uploads WHERE thumbnail IS NOT NULL"
                )
                tx.execute("ALTER TABLE uploads DROP COLUMN thumbnail")
        if db.execute("PRAGMA page_size").fetchone()[0] < PAGE_SIZE:
            # Databases made with 4 KB pages: rebuilt once with big ones (only outside WAL mode).
            try:
                db.execute("PRAGMA journal_mode=DELETE")
                db.execute(f"PRAGMA page_size={PAGE_SIZE}")
                db.execute("VACUUM")
            except sqlite3.OperationalError:  # another process has it open: next time
                log.info("history database kept its page size for now (in use)")
            finally:
                db.execute("PRAGMA journal_mode=WAL")

    def _index_search(self) -> None:
        """Create the search index, filled from what is there (after _migrate: its VACUUM may
        renumber the rows the index points at)."""
        db = self._db()
        exists = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'uploads_search'"
        ).fetchone()
        if not exists:
            db.executescript(
                f"BEGIN IMMEDIATE; {SEARCH_SCHEMA} "
                "INSERT INTO uploads_search (uploads_search) VALUES ('rebuild'); COMMIT;"
            )

    def close(self) -> None:
        self.flush()
        with self._writer_lock:
            if self._writer is not None:
                self._writes.put(None)
                self._writer.join()
                self._writer = None
        with self._connections_lock:
            connections = list(self._connections)
            self._connections = weakref.WeakSet()
        me = threading.current_thread()
        for conn in connections:
            if conn.owner is me or not conn.owner.is_alive():
                conn.close()
            else:
                # Another thread (a thumbnail reader) may be inside a query on it, and closing a
                # connection under a running query crashes sqlite3: it is closed with the store.
                self._in_use_at_close.append(conn)
        self._local = threading.local()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.flush()  # a write comes after those handed to the writer before it
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _read(self) -> sqlite3.Connection:
        """This thread's connection, once every write handed to the writer is committed."""
        self.flush()
        return self._db()

    # -- the writer thread --------------------------------------------------------------------
    def flush(self) -> None:
        """Wait until the writes handed to the writer thread are committed."""
        if self._writer is not None and threading.current_thread() is not self._writer:
            self._writes.join()

    def writes_pending(self) -> bool:
        """Updates handed to the writer thread are not all committed yet (a read would wait)."""
        return self._writes.unfinished_tasks > 0

    def _write(self, wait: bool, work, *args) -> None:
        if wait:
            work(*args)
            return
        with self._writer_lock:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_loop, name="picdrop-history-writer", daemon=True
                )
                self._writer.start()
        self._writes.put((work, args))

    def _write_loop(self) -> None:
        while True:
            item = self._writes.get()
            try:
                if item is None:
                    return
                work, args = item
                try:
                    work(*args)
                except Exception:  # nobody waits for it: say so in the log
                    log.exception("a history update could not be written")
            finally:
                self._writes.task_done()

    # -- writes -----------------------------------------------------------------------------
    def add_queued(self, item: HistoryItem, payload: bytes) -> None:
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO uploads (key, idem_key, batch, name, size, mime, state, server, "
                "removed, expires, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    item.expires,
                    item.created_at,
                    now,
                ),
            )
            if item.thumbnail is not None:
                db.execute(
                    "INSERT INTO thumbnails (key, data) VALUES (?, ?)", (item.key, item.thumbnail)
                )
            db.execute("INSERT INTO payloads (key, data) VALUES (?, ?)", (item.key, payload))

    def add_album(self, key: str, server: str, album: AlbumResult) -> HistoryItem:
        """Record an album the server made: done from the start, with its link and the token
        that deletes it (and only it)."""
        now = time.time()
        name = f"Album of {album.images} images"
        with self._tx() as db:
            db.execute(
                "INSERT INTO uploads (key, idem_key, batch, name, size, mime, state, server, "
                "image_id, url, page_url, delete_token, kind, created_at, updated_at) "
                "VALUES (?, ?, '', ?, 0, '', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, key, name, JobState.DONE, server, album.id, album.url, album.url,
                 album.delete_token, ALBUM, now, now),
            )  # fmt: skip
        item = self.get(key)
        assert item is not None
        return item

    def set_state(self, key: str, state: JobState, error: str = "", *, wait: bool = True) -> None:
        """wait=False: hand the update to the writer thread and return at once."""
        self._write(wait, self._set_state, key, state, error)

    def _set_state(self, key: str, state: JobState, error: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE uploads SET state = ?, error = ?, updated_at = ? WHERE key = ?",
                (state, error, time.time(), key),
            )

    def set_thumbnail(self, key: str, thumbnail: bytes) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO thumbnails (key, data) "
                "SELECT key, ? FROM uploads WHERE key = ?",
                (thumbnail, key),
            )
            # A listing that showed the row without its picture sees it changed.
            db.execute("UPDATE uploads SET updated_at = ? WHERE key = ?", (time.time(), key))

    def renew_idempotency_key(self, key: str, idem_key: str) -> None:
        """A retry after a cancel is a new upload: the old key may name an image the cancel
        deleted from the server."""
        with self._tx() as db:
            db.execute("UPDATE uploads SET idem_key = ? WHERE key = ?", (idem_key, key))

    def set_done(self, key: str, result: UploadResult, *, wait: bool = True) -> None:
        """wait=False: hand the update to the writer thread and return at once."""
        self._write(wait, self._set_done, key, result)

    def _set_done(self, key: str, result: UploadResult) -> None:
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

    def forget(self, *keys: str) -> None:
        """Remove these uploads from history (their thumbnails and unsent bytes with them)."""
        with self._tx() as db:
            db.executemany("DELETE FROM uploads WHERE key = ?", [(key,) for key in keys])

    # -- reads ------------------------------------------------------------------------------
    def get(self, key: str) -> HistoryItem | None:
        row = self._read().execute(f"{_WITH_THUMBNAIL} WHERE u.key = ?", (key,)).fetchone()
        return _item(row) if row else None

    def payload(self, key: str) -> bytes | None:
        row = self._read().execute("SELECT data FROM payloads WHERE key = ?", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def thumbnail(self, key: str) -> bytes | None:
        row = self._read().execute("SELECT data FROM thumbnails WHERE key = ?", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def page(
        self,
        where: HistoryFilter = HistoryFilter(),  # frozen: never changed
        after: tuple[float, int] | None = None,
        limit: int = 200,
    ) -> list[HistoryItem]:
        """Up to `limit` uploads matching `where`, newest first, starting after the item whose
        `cursor` is `after`; without thumbnails (see `thumbnail`)."""
        if where.indexed:
            return self._search_page(where, after, limit)
        condition, args = where.where()
        if after is not None:
            # A row value: the index range starts at the cursor (an OR of the two columns
            # walks the index from the top and skips every row before it, O(rows listed)).
            condition += " AND (u.created_at, u.rowid) < (?, ?)"
            args += [after[0], after[1]]
        rows = (
            self._read()
            .execute(
                f"{_WITHOUT_THUMBNAIL} WHERE {condition} "
                "ORDER BY u.created_at DESC, u.rowid DESC LIMIT ?",
                [*args, limit],
            )
            .fetchall()
        )
        return [_item(r) for r in rows]

    def _search_page(
        self, where: HistoryFilter, after: tuple[float, int] | None, limit: int
    ) -> list[HistoryItem]:
        """A page of an indexed search, in the index's own (rowid) order: it stops after
        `limit` matches instead of sorting them all."""
        condition, args = where.where(with_text=False)
        if after is not None:
            condition += " AND uploads_search.rowid < ?"
            args.append(after[1])
        rows = (
            self._read()
            .execute(
                f"SELECT {_COLUMNS}, NULL AS thumbnail FROM uploads_search "
                "JOIN uploads u ON u.rowid = uploads_search.rowid "
                f"WHERE uploads_search MATCH ? AND {condition} "
                "ORDER BY uploads_search.rowid DESC LIMIT ?",
                [where.phrase, *args, limit],
            )
            .fetchall()
        )
        return [_item(r) for r in rows]

    def items(self, search: str = "", limit: int = 500) -> list[HistoryItem]:
        """Newest first; `search` matches the name, links or state, case-insensitively."""
        return self.page(HistoryFilter(text=search), limit=limit)

    def changed_since(
        self,
        since: float,
        where: HistoryFilter = HistoryFilter(),  # frozen: never changed
    ) -> list[HistoryItem]:
        """Uploads matching `where` written at or after `since` (time.time()), oldest change
        first: what a listing applies to stay current without reading everything again."""
        condition, args = where.where()
        rows = (
            self._read()
            .execute(
                f"{_WITHOUT_THUMBNAIL} WHERE u.updated_at >= ? AND {condition} "
                "ORDER BY u.updated_at, u.rowid",
                [since, *args],
            )
            .fetchall()
        )
        return [_item(r) for r in rows]

    def has_links(self, server: str) -> bool:
        """Some upload on `server` has a link that should still work."""
        row = self._read().execute(
            "SELECT 1 FROM uploads WHERE server = ? AND state = ? LIMIT 1", (server, JobState.DONE)
        )
        return row.fetchone() is not None

    def servers(self) -> list[str]:
        """Every destination some upload in history went to (a skip scan of the server index:
        one lookup per server, not one per upload)."""
        rows = self._read().execute(
            "WITH RECURSIVE s (server) AS (SELECT MIN(server) FROM uploads UNION ALL "
            "SELECT (SELECT MIN(server) FROM uploads WHERE server > s.server) FROM s "
            "WHERE s.server IS NOT NULL) SELECT server FROM s WHERE server IS NOT NULL"
        )
        return [row[0] for row in rows]

    def recent_done(self, limit: int = 5) -> list[HistoryItem]:
        """The newest uploads that have a working link (the tray's "recent uploads")."""
        rows = (
            self._read()
            .execute(
                f"{_WITH_THUMBNAIL} WHERE u.state = ? AND u.url IS NOT NULL "
                "ORDER BY u.created_at DESC, u.rowid DESC LIMIT ?",
                (JobState.DONE, limit),
            )
            .fetchall()
        )
        return [_item(r) for r in rows]

    def find(self, ref: str) -> HistoryItem | None:
        """An upload by its server ID, its link or viewer page, or its history key; the newest
        when several match (the same image uploaded twice has one ID per upload anyway)."""
        ref = ref.strip()
        row = (
            self._read()
            .execute(
                f"{_WITH_THUMBNAIL} WHERE u.image_id = ? OR u.url = ? OR u.page_url = ? "
                "OR u.key = ? ORDER BY u.created_at DESC, u.rowid DESC LIMIT 1",
                (ref, ref, ref, ref),
            )
            .fetchone()
        )
        return _item(row) if row else None

    def unfinished(self) -> list[HistoryItem]:
        """Rows a previous run queued or was sending when it stopped, oldest first."""
        rows = (
            self._read()
            .execute(
                f"{_WITH_THUMBNAIL} WHERE u.state IN (?, ?) ORDER BY u.created_at, u.rowid",
                (JobState.QUEUED, JobState.UPLOADING),
            )
            .fetchall()
        )
        return [_item(r) for r in rows]


def _item(row: sqlite3.Row) -> HistoryItem:
    data = dict(row)
    data["state"] = JobState(data["state"])
    removed = data["removed"]
    data["removed"] = json.loads(removed) if removed and removed != "[]" else []
    if data["thumbnail"] is not None:
        data["thumbnail"] = bytes(data["thumbnail"])
    return HistoryItem(**data)


def open_history(path: Path, start_afresh: Callable[[HistoryUnavailable], bool]) -> HistoryStore:
    """The history at `path`. When it cannot be opened, `start_afresh(problem)` is told (and
    asked, when the file is damaged); a yes to a damaged file keeps that file (its delete links
    may still be read from it) under a dated name beside it and begins a new history. Anything
    else raises the HistoryUnavailable."""
    try:
        return HistoryStore(path)
    except HistoryUnavailable as problem:
        if not start_afresh(problem) or not problem.damaged:
            raise
        kept = damaged_name(path)
        for suffix in ("", "-wal", "-shm"):  # the journal belongs with its database
            part = path.with_name(path.name + suffix)
            if part.exists():
                part.rename(kept.with_name(kept.name + suffix))
        log.warning("the damaged history was kept as %s; a new one begins", kept)
        return HistoryStore(path)
