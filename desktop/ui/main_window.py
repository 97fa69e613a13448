"""The main window: header with the server in use, drop zone, upload queue and history.

It listens to the UploadService and forwards the user's intent to it; it does no I/O itself.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import (
    QCloseEvent,
    QDesktopServices,
    QGuiApplication,
    QImage,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop import APP_DISPLAY_NAME
from desktop.clipboard import LinkCopier
from desktop.core.albums import album_request
from desktop.core.config import AppConfig, expiry_choices
from desktop.core.destinations import SXCU_PREFIX
from desktop.core.history import HistoryStore
from desktop.core.history_export import write_csv, write_json
from desktop.core.jobs import JobState
from desktop.core.links import LinkFormat
from desktop.service import UploadService
from desktop.ui import theme
from desktop.ui.dropzone import DropHighlight, DropZone, WindowDrops
from desktop.ui.file_dialog import (
    choose_export_file,
    choose_images,
    choose_save_path,
    choose_uploaders,
)
from desktop.ui.geometry import fit_to_screen
from desktop.ui.history_model import HistoryModel
from desktop.ui.history_view import HistoryView
from desktop.ui.mime import sources_from_mime
from desktop.ui.qr_dialog import QrDialog
from desktop.ui.queue import QueueView, UploadRow
from desktop.ui.settings_dialog import SettingsDialog
from desktop.ui.style import style_sheet
from desktop.ui.toast import Toast

HISTORY_REFRESH_MS = 100
CONTENT_MAX_WIDTH = 980


class MainWindow(QMainWindow):
    config_changed = Signal(object)  # AppConfig chosen in the settings dialog
    test_connection = Signal(str)  # server URL to check
    delete_requested = Signal(str)  # history key of an upload to delete from its server
    import_uploaders = Signal(list)  # list[Path]: .sxcu files to import as destinations
    remove_uploader = Signal(str)  # an imported custom uploader to forget
    hidden_to_tray = Signal()  # closed while a tray icon keeps the app running
    servers_to_check = Signal(list)  # server URLs History shows: are they reachable?
    # A History item's image to fetch back from its server: key, and the file to save it in
    # ("" to have it copied: `receive_history_image`).
    history_image_requested = Signal(str, str)
    album_requested = Signal(object)  # AlbumRequest: the finished uploads listed, as one album
    edit_requested = Signal(QImage)  # an uploaded image to mark up in the editor, for a new upload

    def __init__(
        self,
        uploads: UploadService,
        history: HistoryStore,
        config: AppConfig,
        copier: LinkCopier,
        env_server: str = "",
    ) -> None:
        super().__init__()
        self.uploads = uploads
        self.history = history
        self.config = config
        self.copier = copier
        self.env_server = env_server
        self.settings_dialog: SettingsDialog | None = None
        # What the app's HotkeyService found binding the saved hotkeys: (problems, notice).
        self.hotkey_status: tuple[dict, str] = ({}, "")
        # Imported custom uploaders and what each sends, for Settings.
        self.destinations: dict[str, str] = {}
        # With a tray icon, closing the window hides it and the app keeps running (and keeps
        # owning the clipboard). The app turns this off to really quit.
        self.close_to_tray = False
        self.setWindowTitle(APP_DISPLAY_NAME)
        self.setWindowIcon(theme.app_icon())
        self.resize(780, 640)
        self.setMinimumSize(560, 480)
        self.setStyleSheet(style_sheet(self.palette()))

        # Header: icon, title, where uploads go, settings.
        logo = QLabel()
        logo.setPixmap(theme.app_pixmap(36, self.devicePixelRatioF()))
        title = QLabel(APP_DISPLAY_NAME)
        title.setObjectName("AppTitle")
        self.server_label = QLabel()
        self.server_label.setObjectName("Muted")
        self.server_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        titles = QVBoxLayout()
        titles.setSpacing(0)
        titles.addWidget(title)
        titles.addWidget(self.server_label)
        self.settings_button = QToolButton()
        self.settings_button.setIcon(theme.icon("settings"))
        self.settings_button.setIconSize(QSize(20, 20))
        self.settings_button.setToolTip("Settings (Ctrl+,)")
        self.settings_button.setAccessibleName("Settings")
        self.settings_button.clicked.connect(self.open_settings)
        header = QHBoxLayout()
        header.setSpacing(12)
        header.addWidget(logo)
        header.addLayout(titles, 1)
        header.addWidget(self.settings_button, 0, Qt.AlignmentFlag.AlignTop)

        # Local-mode notice.
        self.banner = QFrame()
        self.banner.setObjectName("Banner")
        banner_icon = QLabel()
        banner_icon.setPixmap(theme.icon("info", theme.Colors().warning).pixmap(18, 18))
        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.setContentsMargins(10, 8, 10, 8)
        banner_layout.addWidget(banner_icon, 0, Qt.AlignmentFlag.AlignTop)
        banner_layout.addWidget(self.banner_text, 1)
        self.banner_close = QToolButton()
        self.banner_close.setIcon(theme.icon("cancel"))
        self.banner_close.setIconSize(QSize(14, 14))
        self.banner_close.setAutoRaise(True)
        self.banner_close.setToolTip("Dismiss")
        self.banner_close.setAccessibleName("Dismiss this notice")
        self.banner_close.clicked.connect(self._dismiss_banner)
        banner_layout.addWidget(self.banner_close, 0, Qt.AlignmentFlag.AlignTop)
        self.banner.hide()
        self._banner_dismissed = ""  # the notice text the user closed: shown again if it changes

        # Paused from the tray (or here): say so, with the way out.
        self.paused_bar = QFrame()
        self.paused_bar.setObjectName("Banner")
        paused_text = QLabel("<b>Uploads are paused.</b> Queued files wait until you resume.")
        paused_text.setWordWrap(True)
        self.resume_button = QPushButton("Resume")
        self.resume_button.clicked.connect(lambda: self.uploads.set_paused(False))
        paused_layout = QHBoxLayout(self.paused_bar)
        paused_layout.setContentsMargins(10, 6, 10, 6)
        paused_layout.addWidget(paused_text, 1)
        paused_layout.addWidget(self.resume_button)
        self.paused_bar.setVisible(uploads.paused)

        # Uploads tab: drop zone and queue.
        self.drop_zone = DropZone()
        self.drop_zone.browse_requested.connect(self.browse)
        self.queue_view = QueueView()
        queue_title = QLabel("Uploads")
        queue_title.setObjectName("SectionTitle")
        self.expiry = QComboBox()
        self.expiry.setAccessibleName("New uploads expire")
        self.expiry.setToolTip("How long the next uploads stay online (default in Settings)")
        for name, label in expiry_choices():
            self.expiry.addItem(label, name)
        self.show_default_expiry()
        self.copy_all_button = QPushButton("Copy all links")
        self.copy_all_button.clicked.connect(self.copy_all_links)
        self.album_button = QPushButton("Copy album link")
        self.album_button.setToolTip("One link for the finished uploads: an album page")
        self.album_button.clicked.connect(self.request_album)
        self.retry_all_button = QPushButton("Retry failed")
        self.retry_all_button.clicked.connect(self.uploads.retry_all)
        self.cancel_all_button = QPushButton("Cancel all")
        self.cancel_all_button.clicked.connect(self.uploads.cancel_all)
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.clicked.connect(self.uploads.clear_finished)
        queue_header = QHBoxLayout()
        queue_header.addWidget(queue_title)
        queue_header.addStretch()
        queue_header.addWidget(self.expiry)
        # The buttons for every row at once have a row of their own: all five fit, unsqueezed,
        # in the narrowest window.
        bulk_row = QHBoxLayout()
        bulk_row.setSpacing(6)
        bulk_row.addStretch()
        for button in self.bulk_buttons():
            bulk_row.addWidget(button)
        uploads_page = QWidget()
        uploads_layout = QVBoxLayout(uploads_page)
        uploads_layout.setContentsMargins(0, 12, 0, 0)
        uploads_layout.setSpacing(10)
        uploads_layout.addWidget(self.drop_zone)
        uploads_layout.addLayout(queue_header)
        uploads_layout.addLayout(bulk_row)
        uploads_layout.addWidget(self.queue_view, 1)

        # History tab: nothing is read until it is first shown.
        self.history_model = HistoryModel(history, self)
        self.history_view = HistoryView()
        self.history_view.set_model(self.history_model)
        self.history_view.filter_changed.connect(self.history_model.set_filter)
        self.history_view.copy_as.connect(self.copy_history_items)
        self.history_view.open_clicked.connect(self.open_history_item)
        self.history_view.retry_clicked.connect(self.retry_history_items)
        self.history_view.delete_clicked.connect(self.delete_history_items)
        self.history_view.forget_clicked.connect(self.forget_history_items)
        self.history_view.export_requested.connect(self.export_history)
        self.history_view.image_requested.connect(self._request_history_image)
        self.history_view.qr_requested.connect(self.show_history_qr)
        self._history_edits: set[str] = set()  # History items fetched to open in the editor
        # A batch changes history many times a second: applied together, once its writes are in.
        self._history_refresh = QTimer(self, singleShot=True, interval=HISTORY_REFRESH_MS)
        self._history_refresh.timeout.connect(self.refresh_history)
        history_page = QWidget()
        history_layout = QVBoxLayout(history_page)
        history_layout.setContentsMargins(0, 12, 0, 0)
        history_layout.addWidget(self.history_view)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(uploads_page, theme.icon("upload"), "Uploads")
        self.tabs.addTab(history_page, theme.icon("history"), "History")
        self.tabs.currentChanged.connect(self._on_tab_changed)

        # In a wide window the content stays a readable column: a row's buttons stay near its
        # link instead of drifting to the far edge.
        content = QWidget()
        content.setMaximumWidth(CONTENT_MAX_WIDTH)
        layout = QVBoxLayout(content)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(12)
        layout.addLayout(header)
        layout.addWidget(self.banner)
        layout.addWidget(self.paused_bar)
        layout.addWidget(self.tabs, 1)
        central = QWidget()
        centred = QHBoxLayout(central)
        centred.setContentsMargins(0, 0, 0, 0)
        centred.addWidget(content)
        self.setCentralWidget(central)

        # The whole window takes drops (the list and History too), with one highlight.
        self.drops = WindowDrops(self, DropHighlight(self))
        self.drops.sources_dropped.connect(self._on_sources_dropped)
        self.drops.uploaders_dropped.connect(self.import_uploaders)

        self.toast = Toast(self)

        QShortcut(QKeySequence.StandardKey.Paste, self, activated=self.paste)
        QShortcut(QKeySequence.StandardKey.Open, self, activated=self.browse)
        QShortcut(QKeySequence("Ctrl+,"), self, activated=self.open_settings)

        uploads.job_added.connect(self._on_job_added)
        uploads.job_changed.connect(self._on_job_changed)
        uploads.job_progress.connect(self._on_job_progress)
        uploads.job_removed.connect(self._on_job_removed)
        uploads.paused_changed.connect(self.paused_bar.setVisible)
        uploads.job_done.connect(self._on_job_done)
        uploads.batch_finished.connect(self._on_batch_finished)
        uploads.history_changed.connect(self._on_history_changed)
        copier.copied.connect(self._on_copied)
        for signal in (uploads.job_added, uploads.job_changed, uploads.job_removed):
            signal.connect(self._sync_bulk_buttons)
        for job in uploads.jobs():
            self._on_job_added(job.key)
        self._sync_bulk_buttons()

    # -- server -------------------------------------------------------------------------------
    def set_server_info(self, url: str, mode: str) -> None:
        """mode: "remote", "local" (127.0.0.1 only) or "lan" (shared on the local network)."""
        self.server_label.setText(f"Uploading to {url}")
        self.server_label.setToolTip(url)
        if mode == "local":
            self.banner_text.setText(
                "<b>Local mode.</b> Links work only on this computer, and only while picdrop "
                "is running. Choose a server or share on your network in Settings."
            )
        elif mode == "lan":
            self.banner_text.setText(
                "<b>Shared on your local network.</b> Links work for people on the same "
                "network while picdrop is running."
            )
        self.banner.setVisible(
            mode in ("local", "lan") and self.banner_text.text() != self._banner_dismissed
        )

    def _dismiss_banner(self) -> None:
        self._banner_dismissed = self.banner_text.text()
        self.banner.hide()

    def set_custom_destination(self, name: str) -> None:
        """Uploads go to an imported ShareX custom uploader."""
        self.server_label.setText(f"Uploading to {name} (ShareX custom uploader)")
        self.server_label.setToolTip("Metadata is removed on this computer before uploading")
        self.banner.hide()

    # -- intake -------------------------------------------------------------------------------
    @Slot()
    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        sources = sources_from_mime(mime) if mime is not None else []
        if sources:
            self.enqueue(sources)
        else:
            self.show_notice("The clipboard holds no image, file or image link")

    @Slot()
    def browse(self) -> None:
        sources = choose_images(self, self.config.last_folder)
        if sources:
            self.config.last_folder = str(sources[0].path.parent)
            self.config_changed.emit(self.config)  # remembered for the next Browse…
            self.enqueue(sources)

    def expires(self) -> str | None:
        """The lifetime chosen for the next uploads (None: the server's default)."""
        return self.expiry.currentData() or None

    def enqueue(self, sources: list) -> None:
        """Every upload started from the window (drop, paste, Browse…) and the tray."""
        self.tabs.setCurrentIndex(0)
        self.uploads.enqueue(sources, expires=self.expires())

    def choose_expiry(self, name: str) -> None:
        """From the tray's menu: the lifetime of the next uploads."""
        self.expiry.setCurrentIndex(max(0, self.expiry.findData(name)))

    def show_default_expiry(self) -> None:
        self.expiry.setCurrentIndex(max(0, self.expiry.findData(self.config.default_expiry)))

    @Slot(list)
    def _on_sources_dropped(self, sources: list) -> None:
        self.enqueue(sources)

    # -- queue --------------------------------------------------------------------------------
    @Slot(str)
    def _on_job_added(self, key: str) -> None:
        self.queue_view.add_later(key, lambda: self._build_row(key))
        self.drop_zone.set_compact(True)  # the rows need the room; the window takes drops
        self.tabs.setCurrentIndex(0)

    @Slot(str)
    def _on_job_removed(self, key: str) -> None:
        self.queue_view.remove(key)
        self.drop_zone.set_compact(bool(self.uploads.jobs()))

    def _build_row(self, key: str) -> UploadRow:
        row = UploadRow(self.uploads.job(key))  # the job as it is now
        row.cancel_clicked.connect(self.uploads.cancel)
        row.retry_clicked.connect(self.uploads.retry)
        row.copy_clicked.connect(lambda k: self.copier.copy_job(k))
        row.open_clicked.connect(self.open_job)
        row.copy_image_clicked.connect(self.copy_image)
        row.save_as_clicked.connect(self.save_image_as)
        row.edit_clicked.connect(self.edit_image)
        row.qr_clicked.connect(self.show_qr)
        return row

    # -- every row at once ----------------------------------------------------------------------
    def bulk_buttons(self) -> tuple[QPushButton, ...]:
        return (
            self.copy_all_button, self.album_button, self.retry_all_button,
            self.cancel_all_button, self.clear_button,
        )  # fmt: skip

    def _sync_bulk_buttons(self, _key: str = "") -> None:
        jobs = self.uploads.jobs()
        self.copy_all_button.setVisible(any(j.state is JobState.DONE for j in jobs))
        self.album_button.setVisible(album_request(jobs) is not None)
        self.retry_all_button.setVisible(any(j.can_retry for j in jobs))
        self.cancel_all_button.setVisible(any(not j.state.finished for j in jobs))
        self.clear_button.setVisible(any(j.state.finished for j in jobs))

    @Slot()
    def copy_all_links(self) -> None:
        infos = self.uploads.done_links()
        if infos:
            self.copier.copy_infos(infos)

    @Slot()
    def request_album(self) -> None:
        request = album_request(self.uploads.jobs())
        if request is not None:
            self.show_notice("Making the album…")
            self.album_requested.emit(request)

    @Slot(str)
    def _on_batch_finished(self, batch: str) -> None:
        """Settings' "Make an album of each batch": its link follows the batch's on the
        clipboard (not for a batch the `picdrop upload` command copies itself)."""
        if self.config.auto_album and not self.copier.holds(batch):
            request = album_request(self.uploads.queue.batch_jobs(batch))
            if request is not None:
                self.album_requested.emit(request)

    @Slot(str, str)
    def copy_album_link(self, _key: str, link: str) -> None:
        """The server made the album (History has it): its link goes on the clipboard."""
        self.copier.copy_text(link)
        self.show_notice("Album link copied")

    # -- one row's extras -----------------------------------------------------------------------
    @Slot(str)
    def copy_image(self, key: str) -> None:
        image = self._listed_image(key)
        if image is not None:
            QGuiApplication.clipboard().setImage(image)
            self.show_notice("Image copied")

    @Slot(str)
    def edit_image(self, key: str) -> None:
        image = self._listed_image(key)
        if image is not None:
            self.edit_requested.emit(image)

    def _listed_image(self, key: str) -> QImage | None:
        """What a listed upload sent, as an image (the service keeps the bytes in memory)."""
        data = self.uploads.image_bytes(key)
        image = QImage.fromData(data) if data else QImage()
        if image.isNull():
            self.show_notice("This image is no longer here: open its link to get it")
            return None
        return image

    @Slot(str)
    def save_image_as(self, key: str) -> None:
        path = choose_save_path(self, self.uploads.job(key).name, self.config.last_folder)
        if path is not None:
            problem = self.uploads.save_image(key, path)
            self.show_notice(problem or f"Saved {path.name}")

    @Slot(str)
    def show_qr(self, key: str) -> None:
        info = self.uploads.link_info(key)
        if info:
            self._show_qr(info.page_url)

    @Slot(str)
    def show_history_qr(self, key: str) -> None:
        item = self.history.get(key)
        info = item.link_info() if item else None
        if info:
            self._show_qr(info.page_url)

    def _show_qr(self, link: str) -> None:
        dialog = QrDialog(link, self)
        dialog.exec()
        dialog.deleteLater()

    @Slot(str, str)
    def _request_history_image(self, key: str, what: str) -> None:
        """History keeps no image bytes: the app's server actions fetch them back from the
        server (off this thread), then save them or hand them to `receive_history_image`."""
        item = self.history.get(key)
        if item is None:
            return
        save_to = ""
        if what == "edit":
            self._history_edits.add(key)
        elif what == "save":
            path = choose_save_path(self, item.name, self.config.last_folder)
            if path is None:
                return
            save_to = str(path)
        self.show_notice("Fetching the image…")
        self.history_image_requested.emit(key, save_to)

    @Slot(str, bytes)
    def receive_history_image(self, key: str, data: bytes) -> None:
        """Fetched for "Annotate / redact…" it opens in the editor, else it is copied."""
        editing = key in self._history_edits
        self._history_edits.discard(key)
        image = QImage.fromData(data)
        if image.isNull():
            self.show_notice("The server's answer is not an image picdrop can use")
        elif editing:
            self.edit_requested.emit(image)
        else:
            QGuiApplication.clipboard().setImage(image)
            self.show_notice("Image copied")

    @Slot(str, str)
    def history_image_failed(self, key: str, sentence: str) -> None:
        self._history_edits.discard(key)
        self.show_notice(sentence)

    @Slot(str)
    def _on_job_changed(self, key: str) -> None:
        if self.queue_view.has_row(key):
            self.queue_view.row(key).show_job(self.uploads.job(key))

    @Slot(str, "qint64", "qint64")
    def _on_job_progress(self, key: str, sent: int, total: int) -> None:
        if self.queue_view.has_row(key):
            self.queue_view.row(key).show_progress(self.uploads.job(key))

    @Slot(str)
    def _on_job_done(self, key: str) -> None:
        info = self.uploads.link_info(key)
        if info and self.config.open_after_upload:
            QDesktopServices.openUrl(QUrl(info.page_url))

    @Slot(str)
    def open_job(self, key: str) -> None:
        info = self.uploads.link_info(key)
        if info:
            QDesktopServices.openUrl(QUrl(info.page_url))

    # -- history ------------------------------------------------------------------------------
    def _on_tab_changed(self, index: int) -> None:
        if index == 1:
            self.show_history()

    def show_history(self) -> None:
        """The History tab came into view: list it (the first time) or bring it up to date, and
        find out again which of its servers answer."""
        if self.history_model.started:
            self.history_model.refresh()
        else:
            self.history_model.start()
        servers = self.history.servers()
        self.history_view.set_servers(servers)
        self.servers_to_check.emit([s for s in servers if not s.startswith(SXCU_PREFIX)])

    def _on_history_changed(self) -> None:
        if self.history_model.started:  # nothing to do before History was first shown
            self._history_refresh.start()

    def refresh_history(self) -> None:
        """Apply what changed; not while the writer thread still commits (a read would wait
        for its disk syncs on this thread)."""
        if self.history.writes_pending():
            self._history_refresh.start()
        else:
            self.history_model.refresh()

    def show_server_reachability(self, url: str, reachable: bool) -> None:
        self.history_model.set_reachable(url, reachable)

    def copy_history_items(self, keys: list[str], fmt: str) -> None:
        template = self.copier.config().link_template
        items = (self.history.get(key) for key in keys)
        links = [
            link for item in items if item and (link := item.formatted(LinkFormat(fmt), template))
        ]
        if links:
            self.copier.copy_text("\n".join(links), len(links))

    def open_history_item(self, key: str) -> None:
        item = self.history.get(key)
        if item and item.page_url:
            QDesktopServices.openUrl(QUrl(item.page_url))

    def retry_history_items(self, keys: list[str]) -> None:
        """Failed uploads go again: those still in the queue there, older ones back into it
        with the bytes history kept."""
        queued = {job.key for job in self.uploads.jobs()}
        for key in keys:
            if key in queued:
                self.uploads.retry(key)
            else:
                self.history.set_state(key, JobState.QUEUED)
        if set(keys) - queued:
            self.uploads.resume_unfinished()

    def delete_history_items(self, keys: list[str]) -> None:
        items = [item for key in keys if (item := self.history.get(key))]
        with_token = [item for item in items if item.delete_token]
        if not with_token:
            # A ShareX custom uploader's DeletionURL: opened in the browser, as ShareX does, where
            # the host asks and says whether it deleted (one at a time).
            if len(items) == 1 and items[0].delete_url:
                QDesktopServices.openUrl(QUrl(items[0].delete_url))
                self.show_notice("The host's delete link is open in your browser")
            return
        what = f"“{with_token[0].name}”" if len(with_token) == 1 else f"{len(with_token)} uploads"
        albums = " An album's images stay." if any(i.is_album for i in with_token) else ""
        answer = QMessageBox.question(
            self,
            "Delete from server",
            f"Delete {what} from the server? Their links stop working for everyone.{albums}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            for item in with_token:
                self.delete_requested.emit(item.key)

    def forget_history_items(self, keys: list[str]) -> None:
        if len(keys) > 1:
            answer = QMessageBox.question(
                self,
                "Forget uploads",
                f"Remove {len(keys)} uploads from this list? Their links keep working; "
                "you can no longer delete them from here.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.history.forget(*keys)
        self.history_model.remove(keys)

    def export_history(self, fmt: str, keys: list[str]) -> None:
        """The selected uploads (or all those listed by the current filter) to a file."""
        path = choose_export_file(self, fmt)
        if path is None:
            return
        if keys:
            items = [item for key in keys if (item := self.history.get(key))]
        else:
            items = self.history.page(self.history_model.listing.where, limit=1_000_000)
        try:
            with path.open("w", encoding="utf-8", newline="") as out:
                (write_csv if fmt == "csv" else write_json)(items, out)
        except OSError as exc:
            self.show_notice(f"Could not save {path.name}: {exc.strerror or exc}")
            return
        self.show_notice(f"{len(items)} uploads exported to {path.name}")

    # -- notices ------------------------------------------------------------------------------
    @Slot(str, int)
    def _on_copied(self, text: str, count: int) -> None:
        self.show_notice("Link copied" if count == 1 else f"{count} links copied")

    def show_notice(self, text: str) -> None:
        self.toast.show_text(text)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.toast.reposition()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        fit_to_screen(self)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange:
            sheet = style_sheet(self.palette())
            if sheet != self.styleSheet():  # the sheet itself must not loop us back here
                self.setStyleSheet(sheet)

    # -- settings -----------------------------------------------------------------------------
    @Slot()
    def open_settings(self) -> None:
        dialog = SettingsDialog(self.config, self.env_server, self, self.destinations)
        dialog.remove_requested.connect(self.remove_uploader)
        dialog.test_requested.connect(self.test_connection)
        dialog.import_requested.connect(
            lambda: self.import_uploaders.emit(choose_uploaders(dialog))
        )
        dialog.hotkeys.show_problems(*self.hotkey_status)
        self.settings_dialog = dialog
        if dialog.exec() == SettingsDialog.DialogCode.Accepted:
            self.config = dialog.config()
            self.show_default_expiry()
            self.config_changed.emit(self.config)
        self.settings_dialog = None
        dialog.deleteLater()

    def show_connection_result(self, ok: bool, message: str) -> None:
        if self.settings_dialog is not None:
            self.settings_dialog.show_test_result(ok, message)

    def show_and_raise(self) -> None:
        if self.isMinimized():
            self.showNormal()
        else:
            self.show()
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.close_to_tray:
            event.ignore()
            self.hide()
            self.hidden_to_tray.emit()
            return
        event.accept()
