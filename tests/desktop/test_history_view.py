"""The History tab as a model/view: what it lists and paints, what its actions do, and that it
reads and decodes only what is shown."""

from __future__ import annotations

import csv
import gc
import io
import threading
from pathlib import Path

import pytest
import requests
from PySide6.QtCore import QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPalette
from PySide6.QtWidgets import QListView, QMessageBox, QStyleOptionViewItem

from desktop.core.api import UploadResult
from desktop.core.history import HistoryFilter, HistoryItem, HistoryStore
from desktop.core.history_listing import HistoryListing
from desktop.core.jobs import JobState
from desktop.core.lru import MISSING, LruCache
from desktop.ui import theme
from desktop.ui.history_delegate import ROW_HEIGHT, HistoryDelegate, badge, server_text
from desktop.ui.history_model import (
    CACHED_THUMBNAILS,
    HistoryModel,
    ItemRole,
    ReachableRole,
    ThumbnailLoader,
)
from desktop.ui.history_view import PERIODS, HistoryView, available_actions, period_bounds
from desktop.ui.style import style_sheet
from tests.desktop.conftest import png_bytes

TIMEOUT = 20_000
DOWN = "http://127.0.0.1:9"  # nothing listens on the discard port


def item(key: str, created: float, state: JobState = JobState.QUEUED, **kw) -> HistoryItem:
    fields = dict(key=key, idem_key=f"{key}-idempotency-key", batch="b", name=f"{key}.png",
                  size=3, mime="image/png", state=state, server=DOWN,
                  created_at=created)  # fmt: skip
    return HistoryItem(**{**fields, **kw})


def add(store: HistoryStore, key: str, created: float, state: JobState = JobState.DONE, **kw):
    payload = png_bytes()
    store.add_queued(item(key, created, size=len(payload), **kw), payload)
    if state is JobState.DONE:
        link = f"https://img.test/i/{key}.png"
        store.set_done(key, UploadResult(key, link, link, link, link, "tok", 1, 1, 3, "image/png",
                                         "sha"))  # fmt: skip
    elif state is not JobState.QUEUED:
        store.set_state(key, state, "The server refused it.")


def contrast(a: QColor, b: QColor) -> float:
    def lum(c: QColor) -> float:
        return 0.2126 * c.redF() ** 2.2 + 0.7152 * c.greenF() ** 2.2 + 0.0722 * c.blueF() ** 2.2

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture
def view(qtbot, history: HistoryStore):
    def make(palette: QPalette | None = None) -> HistoryView:
        view = HistoryView()
        qtbot.addWidget(view)
        if palette is not None:
            view.setPalette(palette)
        view.setStyleSheet(style_sheet(view.palette()))
        model = HistoryModel(history, view)
        view.set_model(model)
        view.filter_changed.connect(model.set_filter)
        view.resize(QSize(520, 360))
        view.show()
        model.start()
        return view

    return make


# -- Qt-free parts -------------------------------------------------------------------------------
def test_listing_pages_and_applies_changes_in_place(history: HistoryStore) -> None:
    for n in range(5):
        add(history, f"k{n}", float(n))
    listing = HistoryListing(history, page=2)
    listing.reset(HistoryFilter())
    while listing.more():
        pass
    assert listing.keys() == ["k4", "k3", "k2", "k1", "k0"]
    add(history, "new", 10.0, JobState.QUEUED)
    history.set_state("k2", JobState.DELETED)
    changed = {i.key: i for i in listing.changed()}
    assert set(changed) == {"new", "k2"}
    assert listing.place(changed["new"]) == 0
    listing.insert(0, changed["new"])
    assert listing.row("k2") == 3 and listing.row("new") == 0
    listing.remove(0)
    assert listing.row("new") is None and listing.row("k0") == 4
    assert listing.changed() == []  # each change is seen once


def test_a_long_listing_adds_nothing_the_cycle_collector_walks(history: HistoryStore) -> None:
    """A full collection walks every tracked object: rows kept as objects made it longer with
    every page scrolled past (a GUI stall that grew with the history)."""
    for n in range(300):
        add(history, f"k{n:03}", float(n), JobState.QUEUED)
    listing = HistoryListing(history, page=20)
    listing.reset(HistoryFilter())
    listing.more()
    gc.collect()
    before = len(gc.get_objects())
    while listing.more():
        pass
    gc.collect()
    assert len(listing) == 300
    assert len(gc.get_objects()) - before < 100  # 280 more rows: 560 tracked objects before


def test_rows_come_back_whole_in_order_once_across_fetches(qtbot, history: HistoryStore) -> None:
    add(history, "done", 1.0)
    add(history, "failed", 2.0, JobState.FAILED, removed=["GPS position", "camera serial"])
    add(history, "queued", 3.0, JobState.QUEUED, width=4, height=5, expires="1d")
    for n in range(4):
        add(history, f"same{n}", 4.0)  # one created_at: the cursor's tie-break decides
    model = HistoryModel(history)
    model.listing.page = 2
    model.start()
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    expected = history.page(limit=100)
    assert model.keys() == [i.key for i in expected] and len(set(model.keys())) == 7
    assert [model.item(n) for n in range(model.rowCount())] == expected
    assert [model.index(n).data(ItemRole) for n in range(model.rowCount())] == expected
    assert model.servers() == [DOWN]


def test_thumbnails_are_read_by_one_thread_that_ends_when_idle(qtbot, history) -> None:
    for key in ("a", "b"):
        add(history, key, 1.0)
        history.set_thumbnail(key, png_bytes(8, 8))
    loader = ThumbnailLoader(history)
    threads: list[threading.Thread] = []
    loader.loaded.connect(
        lambda _key, _image: threads.append(threading.current_thread()),
        Qt.ConnectionType.DirectConnection,
    )
    for n, key in enumerate(("a", "b"), 1):
        loader.request(key)
        qtbot.waitUntil(lambda n=n: len(threads) == n, timeout=TIMEOUT)
    assert threads[0] is threads[1]  # not a thread started per screen scrolled
    qtbot.waitUntil(lambda: not threads[0].is_alive(), timeout=TIMEOUT)


def test_lru_cache_forgets_the_least_recently_used() -> None:
    cache: LruCache[str, int | None] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", None)  # "no thumbnail" is remembered too
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is MISSING and len(cache) == 2 and cache.get("a") == 1


def test_a_weighed_lru_cache_keeps_what_fits_its_weight() -> None:
    cache: LruCache[str, bytes] = LruCache(10, weigh=len)
    cache.put("a", b"1234")
    cache.put("b", b"12345")
    cache.put("a", b"12")  # replaced: weighs 2 now, not 4 + 2
    cache.put("c", b"123")
    assert [cache.get(k, None) for k in "abc"] == [b"12", b"12345", b"123"]
    cache.put("d", b"1234")  # 14 in all: a and b, the least recently used, go
    assert [k for k in "abcd" if k in cache] == ["c", "d"]
    cache.put("e", b"x" * 11)  # heavier than everything: not kept, and everything else goes
    assert len(cache) == 0
    cache.discard("e")


@pytest.mark.parametrize(
    ("state", "label", "tone"),
    [(JobState.DONE, "Done", "success"), (JobState.FAILED, "Failed", "danger"),
     (JobState.DELETED, "Deleted", "muted"), (JobState.QUEUED, "Queued", "muted"),
     (JobState.UPLOADING, "Uploading", "accent")],
)  # fmt: skip
def test_history_states_are_badges_like_the_uploads_tab(state, label, tone) -> None:
    assert badge(item("k", 0.0, state)) == (label, tone)


@pytest.mark.parametrize(
    ("states", "actions"),
    [([], set()), ([JobState.DONE], {"copy", "open", "more", "delete", "forget"}),
     ([JobState.FAILED], {"retry", "forget"}), ([JobState.DELETED], {"forget"}),
     ([JobState.DONE, JobState.DONE], {"copy", "delete", "forget"}),
     ([JobState.DONE, JobState.FAILED], {"copy", "open", "more", "delete", "retry", "forget"})],
)  # fmt: skip
def test_actions_follow_the_selection(states, actions) -> None:
    items = [item(f"k{n}", 0.0, s, url="https://i.test/a.png" if s is JobState.DONE else None,
                  delete_token="t") for n, s in enumerate(states)]  # fmt: skip
    assert available_actions(items) == actions


def test_periods_are_bounded_by_local_midnight() -> None:
    now = 1_700_000_000.0
    since, until = period_bounds([p[0] for p in PERIODS].index("Last 7 days"), now)
    assert until is None and now - 8 * 86400 < since <= now - 7 * 86400
    assert period_bounds(0, now) == (None, None)


@pytest.mark.parametrize(
    ("server", "reachable", "text"),
    [("https://img.example", True, "img.example"), ("https://img.example", None, "img.example"),
     ("http://127.0.0.1:39351", False, "this computer (built-in server), not reachable"),
     ("sxcu:Host", None, "Host (custom uploader)")],
)  # fmt: skip
def test_each_upload_says_where_it_lives(server, reachable, text) -> None:
    assert server_text(item("k", 0.0, server=server), reachable) == text


# -- painting ------------------------------------------------------------------------------------
def test_long_error_text_is_cut_with_an_ellipsis(qapp) -> None:
    """Bug: History's error text was cut mid-word ("connection refusec") with no ellipsis."""
    error = "Not deleted: Cannot reach http://127.0.0.1:39351: connection refused. " * 3
    failed = item("k", 0.0, JobState.FAILED, error=error)
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, 420, ROW_HEIGHT)
    option.font = qapp.font()
    (_, _, name), (rect, font, meta) = HistoryDelegate().row_layout(option, failed, None)
    assert name == "k.png"
    assert meta.startswith("1970-01-01") and meta.endswith("…") and "Not de" in meta
    assert QFontMetrics(font).horizontalAdvance(meta) <= rect.width()


def test_scroll_bar_is_not_painted_black_in_the_light_theme(view, history, qapp) -> None:
    """Bug: the list's style-sheet background reached its scroll bar, drawn black below the
    handle (and its cards, drawn with that palette)."""
    for n in range(40):
        add(history, f"k{n}", float(n))
    shown = view(palette=qapp.style().standardPalette())
    bar = shown.list.verticalScrollBar()
    assert bar.isVisible()
    image = bar.grab().toImage()
    x = image.width() // 2
    darkest = min(image.pixelColor(x, y).lightness() for y in range(image.height()))
    assert darkest > 60, darkest  # the groove and handle are greys; black is 0


def test_disabled_action_icons_look_disabled_in_dark_mode(view) -> None:
    shown = view(palette=theme.dark_palette())
    button = shown.delete_button
    assert not button.isEnabled()  # nothing selected
    background = shown.palette().color(QPalette.ColorRole.Window)

    def strongest(image) -> float:
        return max(contrast(image.pixelColor(x, y), background)
                   for x in range(image.width()) for y in range(image.height())
                   if image.pixelColor(x, y).alpha() > 200)  # fmt: skip

    disabled = strongest(button.icon().pixmap(18, 18, mode=button.icon().Mode.Disabled).toImage())
    enabled = strongest(button.icon().pixmap(18, 18).toImage())
    assert enabled >= 7 and disabled < 2.5, (enabled, disabled)  # on main: 14 and 11


# -- reading only what is shown ------------------------------------------------------------------
def test_pages_and_thumbnails_are_read_only_for_what_is_shown(
    view, history, qtbot, monkeypatch
) -> None:
    for n in range(600):
        add(history, f"k{n:03}", float(n))
        history.set_thumbnail(f"k{n:03}", png_bytes(8, 8))
    read: list[str] = []
    original = HistoryStore.thumbnail
    monkeypatch.setattr(HistoryStore, "thumbnail", lambda s, k: read.append(k) or original(s, k))
    shown = view()
    model = shown.model
    assert 0 < len(model.keys()) < 600  # a page, not everything

    def visible() -> list[str]:
        area = shown.list.viewport().rect()
        return [key for n, key in enumerate(model.keys())
                if shown.list.visualRect(model.index(n)).intersects(area)]  # fmt: skip

    decoration = lambda key: model.index(model.listing.row(key)).data(1)  # noqa: E731
    qtbot.waitUntil(lambda: all(decoration(k) is not None for k in visible()), timeout=TIMEOUT)
    assert sorted(read) == sorted(visible())  # each shown row once, nothing else

    def scrolled_to_the_end() -> bool:  # the rest comes page by page as the end is reached
        shown.list.scrollToBottom()
        return not model.canFetchMore(model.index(-1))

    qtbot.waitUntil(scrolled_to_the_end, timeout=TIMEOUT)
    assert len(model.keys()) == 600
    assert len(model._thumbnails) <= CACHED_THUMBNAILS


def test_grid_view_shows_tiles(view, history) -> None:
    for n in range(12):
        add(history, f"k{n}", float(n))
    shown = view()
    shown.grid_button.click()
    assert shown.list.viewMode() is QListView.ViewMode.IconMode
    first, second = (shown.list.visualRect(shown.model.index(n)) for n in (0, 1))
    assert first.top() == second.top() and second.left() > first.left()  # side by side


# -- filters and incremental updates -------------------------------------------------------------
def test_search_is_debounced_and_filters_apply(view, history, qtbot) -> None:
    add(history, "holiday", 1.0)
    add(history, "work", 2.0, server="https://img.example")
    shown = view()
    emitted: list[HistoryFilter] = []
    shown.filter_changed.connect(emitted.append)
    for n in range(1, 5):
        shown.search.setText("holiday"[:n])
    qtbot.waitUntil(lambda: shown.item_keys() == ["holiday"], timeout=TIMEOUT)
    assert [f.text for f in emitted] == ["holi"]  # one read for the whole word typed
    shown.search.setText("ho")  # too short for the index: not a search
    qtbot.waitUntil(lambda: len(shown.item_keys()) == 2, timeout=TIMEOUT)
    shown.search.clear()
    qtbot.waitUntil(lambda: len(shown.item_keys()) == 2, timeout=TIMEOUT)
    shown.set_servers(history.servers())
    shown.server.setCurrentIndex(shown.server.findData("https://img.example"))
    assert shown.item_keys() == ["work"]
    shown.server.setCurrentIndex(0)
    shown.period.setCurrentIndex([p[0] for p in PERIODS].index("Today"))
    assert shown.item_keys() == []  # both are from 1970
    assert shown.empty.isVisible() and shown.empty.text() == "Nothing matches."


def test_new_uploads_are_inserted_without_a_reset(view, history) -> None:
    add(history, "old", 1.0)
    shown = view()
    resets: list[bool] = []
    shown.model.modelReset.connect(lambda: resets.append(True))
    add(history, "new", 2.0, JobState.QUEUED)
    history.set_state("old", JobState.DELETED)
    shown.model.refresh()
    assert shown.item_keys() == ["new", "old"] and resets == []
    assert shown.model.item(1).state is JobState.DELETED
    history.set_state("new", JobState.FAILED, "Refused\x1b[31m: too big " * 5)
    shown.model.refresh()
    tip = shown.model.index(0).data(Qt.ItemDataRole.ToolTipRole)  # what the row cuts short
    assert tip.startswith("new.png\n") and tip.count("too big") == 5 and "\x1b" not in tip


# -- actions through the window ------------------------------------------------------------------
def test_history_shows_each_server_and_whether_it_answers(
    live_server, make_service, make_window, history, qtbot
) -> None:
    add(history, "gone", 1.0, server=DOWN)
    add(history, "here", 2.0, server=live_server.url)
    window = make_window(make_service(live_server.url))
    window.tabs.setCurrentIndex(1)
    model = window.history_model
    reachable = lambda key: model.index(model.listing.row(key)).data(ReachableRole)  # noqa: E731
    qtbot.waitUntil(
        lambda: (reachable("gone"), reachable("here")) == (False, True), timeout=TIMEOUT
    )
    assert window.history_view.server.count() == 3  # All servers + the two


def test_retry_sends_a_failed_upload_again(
    live_server, make_service, make_window, history, qtbot
) -> None:
    add(history, "failed", 1.0, JobState.FAILED, server=live_server.url)  # from an earlier run
    window = make_window(make_service(live_server.url))
    window.tabs.setCurrentIndex(1)
    window.history_view.select(["failed"])
    assert window.history_view.retry_button.isEnabled()
    window.history_view.retry_button.click()
    qtbot.waitUntil(lambda: history.get("failed").state is JobState.DONE, timeout=TIMEOUT)
    assert requests.get(history.get("failed").url, timeout=5).status_code == 200


def test_delete_and_forget_several_at_once_and_export(
    live_server, make_service, make_window, history, qtbot, monkeypatch, tmp_path: Path
) -> None:
    service = make_service(live_server.url)
    from desktop.core.intake import BytesSource

    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        service.enqueue(
            [BytesSource(png_bytes(color=c), f"{c}.png") for c in ("red", "blue", "tan")]
        )
    window = make_window(service)
    window.tabs.setCurrentIndex(1)
    view = window.history_view
    keys = view.item_keys()
    asked: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "question",
        lambda _p, _t, text, *a, **k: asked.append(text) or QMessageBox.StandardButton.Yes,
    )  # fmt: skip

    target = tmp_path / "history.csv"
    monkeypatch.setattr("desktop.ui.main_window.choose_export_file", lambda *_a: target)
    view.export_requested.emit("csv", [])  # nothing selected: everything listed
    assert sorted(r["name"] for r in csv.DictReader(io.StringIO(target.read_text()))) == [
        "blue.png", "red.png", "tan.png"]  # fmt: skip

    view.select(keys[:2])
    assert view.selection_label.text() == "2 selected"
    view.delete_button.click()
    assert "2 uploads" in asked[-1]
    qtbot.waitUntil(
        lambda: all(history.get(k).state is JobState.DELETED for k in keys[:2]), timeout=TIMEOUT
    )
    view.select(keys)
    view.forget_button.click()
    assert "3 uploads" in asked[-1] and view.item_keys() == [] and history.items() == []
