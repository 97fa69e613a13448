"""The history database stays fast as it grows: pages by keyset, search by an FTS5 trigram index,
thumbnails apart; and its listings, filters and exports say what they should."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from desktop.core.api import UploadResult
from desktop.core.history import (
    HistoryFilter,
    HistoryItem,
    HistoryStore,
    HistoryUnavailable,
    open_history,
)
from desktop.core.history_export import EXPORT_FIELDS, write_csv, write_json
from desktop.core.jobs import JobState

NAMES = ["Holiday.png", "holiday_2.JPG", "cat 100%.png", "a_b.gif", "screenshot.png", "Ünïcode.png",
         "x.png", "shot (1).webp", 'quote"s.png', "tab\tname.png"]  # fmt: skip


def item(key: str, name: str, created: float, server: str = "http://s") -> HistoryItem:
    return HistoryItem(
        key=key, idem_key=key, batch="b", name=name, size=3, mime="image/png",
        state=JobState.QUEUED, server=server, created_at=created,
    )  # fmt: skip


def result(key: str) -> UploadResult:
    link = f"https://img.test/i/{key}.png"
    return UploadResult(key, link, f"https://img.test/{key}", link, f"{link}?d", "tok", 1, 1, 3,
                        "image/png", "sha")  # fmt: skip


@pytest.fixture
def store(tmp_path: Path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    yield store
    store.close()


@pytest.fixture
def filled(store: HistoryStore) -> HistoryStore:
    for n, name in enumerate(NAMES):
        store.add_queued(item(f"k{n}", name, float(n // 2)), b"x")  # pairs share created_at
        if n % 3 == 0:
            store.set_done(f"k{n}", result(f"id{n}"))
        elif n % 3 == 1:
            store.set_state(f"k{n}", JobState.FAILED, "refused")
    return store


def old_search(items: list[HistoryItem], text: str) -> list[str]:
    """What `LIKE '%text%'` on name, url, page_url and state found (ASCII case folded)."""
    needle = text.strip().lower()
    fields = lambda i: (i.name, i.url or "", i.page_url or "", i.state.value)  # noqa: E731
    return [i.key for i in items if any(needle in f.lower() for f in fields(i))]


@pytest.mark.parametrize(
    "text", ["hol", "HOLIDAY", "%", "100%", "_", "a_b", "png", "img.test/id3", "done", "fail",
             "x", "x.", '"s', "(1)", "zzz", " shot ", "ünï", "\t"],
)  # fmt: skip
def test_search_finds_what_the_old_like_search_found(filled: HistoryStore, text: str) -> None:
    everything = filled.items(limit=1000)
    assert [i.key for i in filled.items(text)] == old_search(everything, text)


@pytest.mark.parametrize("where", [HistoryFilter(text="holiday"), HistoryFilter()])
def test_pages_read_through_indexes_without_sorting(filled: HistoryStore, where) -> None:
    """A page costs the same at any size: an indexed search or the time index, walked in
    order and stopped after the page (never every match sorted)."""
    db = filled._read()  # the store's own connection: its schema, its planner
    sent: list[str] = []
    db.set_trace_callback(sent.append)
    first = filled.page(where, limit=2)
    filled.page(where, after=first[-1].cursor, limit=2)
    db.set_trace_callback(None)
    selects = [s for s in sent if s.lstrip().startswith("SELECT")]
    assert len(selects) == 2
    for sql in selects:
        details = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
        assert not any("TEMP B-TREE" in d for d in details), details
        assert not any(d.startswith("SCAN u") and "INDEX" not in d for d in details), details


@pytest.fixture
def long_store(tmp_path: Path):
    """2,000 uploads, bulk-written (the schema is the store's)."""
    path = tmp_path / "long.sqlite3"
    HistoryStore(path).close()
    db = sqlite3.connect(path)
    db.executemany(
        "INSERT INTO uploads (key, idem_key, batch, name, size, mime, state, server, created_at, "
        "updated_at) VALUES (?, ?, 'b', ?, 3, 'image/png', 'done', 'http://s', ?, ?)",
        [(f"k{n}", f"k{n}", f"img_{n}.png", float(n // 2), float(n)) for n in range(2000)],
    )
    db.commit()
    db.close()
    store = HistoryStore(path)
    yield store
    store.close()


@pytest.mark.parametrize(
    "where", [HistoryFilter(), HistoryFilter(server="http://s"), HistoryFilter(text="img")]
)
def test_a_page_deep_in_the_listing_costs_what_the_second_one_costs(long_store, where) -> None:
    """Counted in SQLite's own steps, not time: a page after a cursor near the end does not
    walk the rows before it."""
    db = long_store._read()
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    def cost(after: tuple[float, int]) -> int:
        nonlocal steps
        steps = 0
        db.set_progress_handler(count, 1)
        try:
            assert len(long_store.page(where, after, 20)) == 20
        finally:
            db.set_progress_handler(None, 1)
        return steps

    listed = long_store.page(where, limit=2000)
    assert cost(listed[19].cursor) * 2 > cost(listed[1900].cursor)


def test_pages_visit_every_item_once_newest_first(filled: HistoryStore) -> None:
    seen: list[str] = []
    page = filled.page(limit=3)
    while page:
        seen += [i.key for i in page]
        page = filled.page(after=page[-1].cursor, limit=3)
    assert seen == [i.key for i in filled.items(limit=1000)]
    assert sorted(seen) == sorted(f"k{n}" for n in range(len(NAMES)))


def test_filters_by_date_and_server(store: HistoryStore) -> None:
    for n in range(6):
        store.add_queued(item(f"k{n}", f"{n}.png", float(n), f"http://s{n % 2}"), b"x")
    keys = lambda where: [i.key for i in store.page(where)]  # noqa: E731
    assert keys(HistoryFilter(since=2.0, until=4.0)) == ["k3", "k2"]
    assert keys(HistoryFilter(server="http://s1")) == ["k5", "k3", "k1"]
    assert keys(HistoryFilter(text="4.png", server="http://s0")) == ["k4"]
    assert store.servers() == ["http://s0", "http://s1"]


def test_listings_leave_thumbnails_out_and_get_reads_them(store: HistoryStore) -> None:
    store.add_queued(item("k1", "a.png", 1.0), b"x")
    store.set_thumbnail("k1", b"PNG")
    (listed,) = store.page()
    assert listed.thumbnail is None
    assert store.thumbnail("k1") == b"PNG" and store.get("k1").thumbnail == b"PNG"
    assert store.recent_done() == []


def test_changed_since_returns_what_was_written_after(store: HistoryStore) -> None:
    store.add_queued(item("k1", "a.png", 1.0), b"x")
    store.add_queued(item("k2", "b.png", 2.0), b"x")
    store.add_queued(item("k3", "c.png", 3.0), b"x")
    mark = max(i.updated_at for i in store.page()) + 1e-6
    store.set_state("k1", JobState.FAILED, "no")
    store.set_thumbnail("k2", b"PNG")  # a new picture counts as a change
    assert [i.key for i in store.changed_since(mark)] == ["k1", "k2"]
    assert [i.key for i in store.changed_since(mark, HistoryFilter(text="a.png"))] == ["k1"]


def test_forget_removes_several_with_their_thumbnails(store: HistoryStore) -> None:
    for n in range(3):
        store.add_queued(item(f"k{n}", f"{n}.png", float(n)), b"x")
        store.set_thumbnail(f"k{n}", b"PNG")
    store.forget("k0", "k2")
    assert [i.key for i in store.page()] == ["k1"]
    assert store.thumbnail("k0") is None and store.items("0.png") == []


def test_an_old_database_gets_its_thumbnails_moved_and_its_search_index(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE uploads (key TEXT PRIMARY KEY, idem_key TEXT NOT NULL, batch TEXT NOT NULL, "
        "name TEXT NOT NULL, size INTEGER NOT NULL, mime TEXT NOT NULL, state TEXT NOT NULL, "
        "error TEXT NOT NULL DEFAULT '', server TEXT NOT NULL, removed TEXT NOT NULL DEFAULT '[]', "
        "thumbnail BLOB, image_id TEXT, url TEXT, page_url TEXT, thumbnail_url TEXT, "
        "delete_url TEXT, delete_token TEXT, width INTEGER, height INTEGER, sha256 TEXT, "
        "expires TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL)"
    )
    db.execute(
        "INSERT INTO uploads (key, idem_key, batch, name, size, mime, state, server, thumbnail, "
        "created_at, updated_at) VALUES ('k1', 'k1', 'b', 'holiday.png', 3, 'image/png', "
        "'done', 'http://s', X'89504E47', 1.0, 1.0)"
    )
    db.commit()
    db.close()
    store = HistoryStore(path)
    try:
        assert store.thumbnail("k1") == b"\x89PNG"
        assert [i.key for i in store.items("holiday")] == ["k1"]
        columns = {row[1] for row in store._read().execute("PRAGMA table_info(uploads)")}
        assert "thumbnail" not in columns
    finally:
        store.close()


def test_exports_describe_uploads_without_delete_secrets(filled: HistoryStore) -> None:
    items = filled.items(limit=1000)
    out = io.StringIO()
    write_json(items, out)
    records = json.loads(out.getvalue())
    assert [r["name"] for r in records] == [i.name for i in items]
    out = io.StringIO()
    write_csv(items, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["name"] for r in rows] == [i.name for i in items]
    for text in (json.dumps(records), out.getvalue()):
        assert "tok" not in text and "?d" not in text  # no delete token, no delete link
    assert set(records[0]) == set(EXPORT_FIELDS)


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)"])
def test_csv_export_never_hands_a_spreadsheet_a_formula(store: HistoryStore, name: str) -> None:
    store.add_queued(item("k1", name, 1.0), b"x")
    out = io.StringIO()
    write_csv(store.items(), out)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["name"] == "'" + name


# -- a history that cannot be opened ---------------------------------------------------------------
def not_a_database(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 40)


def schema_overwritten(path: Path) -> None:
    """A real history whose first page (the schema) was overwritten after its header."""
    history = HistoryStore(path)
    history.add_queued(item("k", "kept.png", 1.0), b"png")
    history.close()
    with path.open("r+b") as f:
        f.seek(100)
        f.write(b"\xa5" * 4000)


@pytest.mark.parametrize("damage", [not_a_database, schema_overwritten])
def test_a_damaged_history_is_kept_aside_only_when_the_user_agrees(tmp_path, damage) -> None:
    path = tmp_path / "history.sqlite3"
    damage(path)
    damaged = path.read_bytes()
    asked = []
    with pytest.raises(HistoryUnavailable) as refused:
        open_history(path, lambda problem: asked.append(problem) or False)
    assert refused.value.damaged and asked == [refused.value]
    assert str(path) in str(refused.value)
    # Untouched (opening it may have begun an empty journal beside it).
    assert {p.name for p in tmp_path.iterdir()} <= {path.name + s for s in ("", "-wal", "-shm")}
    assert path.read_bytes() == damaged

    history = open_history(path, lambda problem: True)
    try:
        history.add_queued(item("new", "new.png", 2.0), b"png")
        assert [i.key for i in history.items()] == ["new"]
    finally:
        history.close()
    (kept,) = tmp_path.glob("history.sqlite3.damaged-[0-9]*[0-9]")  # its journal went with it
    assert kept.read_bytes() == damaged


def test_a_history_folder_that_cannot_be_made_is_reported_not_replaced(tmp_path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the folder should be")
    asked = []
    with pytest.raises(HistoryUnavailable) as refused:
        open_history(blocker / "history.sqlite3", lambda problem: asked.append(problem) or True)
    assert not refused.value.damaged and asked == [refused.value]
    assert "cannot be opened" in str(refused.value)
    assert blocker.read_text() == "a file where the folder should be"
