"""Server actions outside the upload queue, on their own threads: making an album of finished
uploads ("Copy album link"), deleting an upload or an album (History's "Delete"), fetching an
upload's image back (History's "Copy image" and "Save as…") and checking a server (Settings'
"Test"). Answers come back as signals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from desktop.core.albums import AlbumRequest, delete_album, make_album
from desktop.core.api import AlbumResult, PicdropClient, PicdropError, fetch_image
from desktop.core.history import HistoryItem, HistoryStore
from desktop.core.jobs import JobState, new_key
from desktop.core.server_actions import check_server, delete_upload
from desktop.core.uploader import describe_error


class ServerActions(QObject):
    deleted = Signal(str)  # history key; history already says "deleted"
    delete_failed = Signal(str, str)  # history key, sentence
    connection_tested = Signal(str, bool, str)  # server URL, reachable, sentence
    server_checked = Signal(str, bool)  # server URL, reachable (History's servers)
    image_fetched = Signal(str, bytes)  # history key, the image's bytes
    image_saved = Signal(str, str)  # history key, the file written
    fetch_failed = Signal(str, str)  # history key, sentence
    album_made = Signal(str, str)  # history key of the album, its link
    album_failed = Signal(str)  # sentence

    _deleted = Signal(str, str)  # key, error ("" when deleted)
    _album_answered = Signal(object, object)  # AlbumRequest, AlbumResult or the sentence

    def __init__(
        self,
        history: HistoryStore,
        client_factory: Callable[[str], PicdropClient] = PicdropClient,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.history = history
        self.client_factory = client_factory
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._deleted.connect(self._on_deleted)
        self._album_answered.connect(self._on_album_answered)
        # The albums made here, by the images they hold: asked again, the same link is given.
        self._albums: dict[tuple[str, frozenset[str]], str] = {}
        self._albums_asked: set[tuple[str, frozenset[str]]] = set()  # answers awaited

    def make_album(self, request: AlbumRequest) -> None:
        """An album of these uploads, recorded in History; `album_made` gives its link. The same
        uploads asked again give the album already made (while History still has it)."""
        which = (request.server, request.ids)
        made = self.history.get(self._albums.get(which, ""))
        if made is not None and made.state is JobState.DONE and made.url:
            self.album_made.emit(made.key, made.url)
        elif which not in self._albums_asked:  # a second click while the first is answered
            self._albums_asked.add(which)
            self.pool.start(lambda: self._album_worker(request))

    def delete_remote(self, key: str) -> None:
        """Delete an upload (or an album, which leaves its images) from its server with the
        stored token."""
        item = self.history.get(key)
        if item is None or not item.image_id or not item.delete_token:
            return
        self.pool.start(lambda: self._delete_worker(item))

    def fetch_image(self, key: str, save_to: str = "") -> None:
        """Download an upload's image back from its server: into the file `save_to`, or (none
        given) back to the caller as bytes."""
        item = self.history.get(key)
        if item is None or not item.url:
            return
        self.pool.start(lambda: self._fetch_worker(item, save_to))

    def test_connection(self, url: str) -> None:
        url = url.strip().rstrip("/")
        self.pool.start(lambda: self._health_worker(url))

    def check_servers(self, urls: list[str]) -> None:
        """Whether each server History lists still answers."""
        for url in urls:
            self.pool.start(lambda url=url: self._check_worker(url))

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        return self.pool.waitForDone(timeout_ms)

    def _delete_worker(self, item: HistoryItem) -> None:
        assert item.image_id and item.delete_token
        client = self.client_factory(item.server)
        delete = delete_album if item.is_album else delete_upload
        try:
            delete(client, item.image_id, item.delete_token)
        except PicdropError as exc:
            self._deleted.emit(item.key, describe_error(exc))
        else:
            self._deleted.emit(item.key, "")
        finally:
            client.close()

    def _album_worker(self, request: AlbumRequest) -> None:
        client = self.client_factory(request.server)
        try:
            self._album_answered.emit(request, make_album(client, request))
        except PicdropError as exc:
            self._album_answered.emit(request, str(exc))
        finally:
            client.close()

    @Slot(object, object)
    def _on_album_answered(self, request: AlbumRequest, answer: AlbumResult | str) -> None:
        self._albums_asked.discard((request.server, request.ids))
        if isinstance(answer, str):
            self.album_failed.emit(answer)
            return
        item = self.history.add_album(new_key(), request.server, answer)
        self._albums[(request.server, request.ids)] = item.key
        self.album_made.emit(item.key, answer.url)

    def _fetch_worker(self, item: HistoryItem, save_to: str) -> None:
        assert item.url
        try:
            data = fetch_image(item.url)
        except PicdropError as exc:
            self.fetch_failed.emit(item.key, f"Could not fetch {item.name}: {describe_error(exc)}")
            return
        if not save_to:
            self.image_fetched.emit(item.key, data)
            return
        try:
            Path(save_to).write_bytes(data)
        except OSError as exc:
            why = exc.strerror or str(exc)
            self.fetch_failed.emit(item.key, f"Could not save to {save_to}: {why}")
        else:
            self.image_saved.emit(item.key, save_to)

    def _health_worker(self, url: str) -> None:
        client = self.client_factory(url)
        try:
            self.connection_tested.emit(url, *check_server(client, url))
        finally:
            client.close()

    def _check_worker(self, url: str) -> None:
        client = self.client_factory(url)
        try:
            self.server_checked.emit(url, check_server(client, url)[0])
        finally:
            client.close()

    @Slot(str, str)
    def _on_deleted(self, key: str, error: str) -> None:
        if error:
            self.history.set_state(key, JobState.DONE, f"Not deleted: {error}")
            self.delete_failed.emit(key, error)
        else:
            self.history.set_state(key, JobState.DELETED)
            self.deleted.emit(key)
