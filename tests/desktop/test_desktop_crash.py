"""The app is killed (SIGKILL, no clean shutdown) mid-queue and started again on the same data
directory: every file is uploaded exactly once and shown in history."""

from __future__ import annotations

from desktop.core.history import HistoryStore
from desktop.core.jobs import JobState
from desktop.ui.history_delegate import badge
from desktop.ui.history_model import HistoryModel
from tests.desktop.conftest import history_column

TIMEOUT = 60_000


def test_killed_mid_queue_resumes_without_loss_or_duplicates(
    live_server, fault_proxy, images, tmp_path, qtbot, catalog, app_process
):
    paths = images(6, side=300)  # ~270 KB each
    data_dir = tmp_path / "client-data"
    slow = fault_proxy(live_server.url, rate=400_000)  # under a second per file

    first = app_process("--data-dir", data_dir, "--server", slow.url, *paths)
    try:
        # Mid-queue: every file recorded, at least one done, not all of them.
        qtbot.waitUntil(
            lambda: (
                len(states := history_column(data_dir, "state")) == 6 and JobState.DONE in states
            ),
            timeout=TIMEOUT,
        )
        first.kill()  # SIGKILL
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    states = history_column(data_dir, "state")
    assert 1 <= states.count(JobState.DONE) < 6, states

    second = app_process("--data-dir", data_dir, "--server", live_server.url)
    try:
        qtbot.waitUntil(
            lambda: history_column(data_dir, "state").count(JobState.DONE) == 6, timeout=TIMEOUT
        )
    finally:
        second.kill()
        second.wait()

    # Exactly once on the server: one image per file, no duplicate from a half-sent try.
    assert catalog.count(live_server.settings.data_dir) == 6
    store = HistoryStore(data_dir / "history.sqlite3")
    try:
        items = store.items()
        assert sorted(i.sha256 for i in items) == sorted(
            catalog.sha256s(live_server.settings.data_dir)
        )
        assert sorted(i.name for i in items) == sorted(p.name for p in paths)
        model = HistoryModel(store)
        model.start()
        assert len(model.keys()) == 6
        assert all(badge(model.item(n))[0] == "Done" for n in range(6))
    finally:
        store.close()
