"""Building the application: settings, history, server, upload service, window, tray, the
single-instance socket — wired here.

No module-level state: everything is created in `PicdropApp` and passed to whoever needs it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from desktop import APP_DISPLAY_NAME, APP_ID, APP_NAME, ORG_NAME, __version__
from desktop.capture import Grabber, ScreenCapture
from desktop.capture_flow import CaptureFlow
from desktop.clipboard import LinkCopier
from desktop.core import autostart
from desktop.core.config import (
    SERVER_ENV,
    AppConfig,
    effective_server,
    expiry_choices,
    hotkey_texts,
)
from desktop.core.destinations import SXCU_PREFIX, DestinationStore, UnknownDestination
from desktop.core.history import HistoryStore, HistoryUnavailable, open_history
from desktop.core.intake import file_sources
from desktop.core.ipc import UnsafeRuntimeDir, instance_address
from desktop.core.paths import (
    destinations_dir,
    embedded_server_dir,
    history_path,
    user_data_dir,
)
from desktop.core.printable import printable
from desktop.core.sxcu import SxcuError
from desktop.gc_guard import GuiThreadCollector
from desktop.hotkeys.backend import HotkeyBackend
from desktop.hotkeys.service import HotkeyService, platform_backend
from desktop.instance import InstanceServer, claim
from desktop.instance_client import hand_over
from desktop.remote import RemoteRequests
from desktop.screen_grab import platform_grabber
from desktop.server_actions import ServerActions
from desktop.service import UploadService
from desktop.settings import SettingsStore, open_qsettings
from desktop.tray_controller import TrayController
from desktop.ui import theme
from desktop.ui.main_window import MainWindow
from desktop.ui.startup_problems import start_afresh, start_new_local_server
from desktop.ui.tray import TrayIcon

log = logging.getLogger(__name__)

# Without a tray at start, look for one every TRAY_WATCH_MS for TRAY_WATCH_CHECKS times.
TRAY_WATCH_MS = 1000
TRAY_WATCH_CHECKS = 60


class PicdropApp(QObject):
    """Owns the collaborators for one run of the GUI and applies settings changes."""

    def __init__(
        self,
        qt_app: QGuiApplication,
        *,
        data_dir: Path,
        qsettings: QSettings,
        environ: Mapping[str, str] | None = None,
        instance: InstanceServer | None = None,
        tray_available: bool | None = None,
        autostart_entry: autostart.Autostart | None = None,
        hotkey_backend: HotkeyBackend | None = None,  # None: this platform's
        grab_screen: Grabber | None = None,  # None: this platform's
        history: HistoryStore | None = None,  # None: the one in data_dir
    ) -> None:
        super().__init__()
        self.qt_app = qt_app
        self.data_dir = data_dir
        self.environ = os.environ if environ is None else environ
        self.autostart_entry = autostart_entry
        self.settings_store = SettingsStore(qsettings)
        self.config = self.settings_store.load()
        self.embedded = None
        self.history = history if history is not None else HistoryStore(history_path(data_dir))
        self.destinations = DestinationStore(destinations_dir(data_dir))
        server_url, mode = self._connect(self.config)
        self.uploads = UploadService(
            self.history,
            server_url,
            parallel=self.config.parallel_uploads,
            strip_metadata=self.config.strip_metadata,
            client_factory=self.destinations.client_factory(),
            parent=self,
        )
        self.copier = LinkCopier(self.uploads, qt_app.clipboard(), lambda: self.config, self)
        self.window = MainWindow(
            self.uploads,
            self.history,
            self.config,
            self.copier,
            env_server=self.environ.get(SERVER_ENV, ""),
        )
        self._server = (server_url, mode)
        self._show_destination()
        self.window.config_changed.connect(self.apply_config)
        self.window.import_uploaders.connect(self.import_uploaders)
        self.window.remove_uploader.connect(self.remove_uploader)
        self.actions = ServerActions(self.history, self.destinations.client_factory(), parent=self)
        connect_server_actions(self.actions, self.window, self.uploads)
        # The window's notices go unseen while it is hidden: an album made meanwhile (Settings'
        # automatic one) is told by the tray.
        self.actions.album_made.connect(
            lambda _key, link: self._tell_when_hidden("Album link copied", link, page=link)
        )
        self.actions.album_failed.connect(
            lambda sentence: self._tell_when_hidden("No album", sentence, error=True)
        )

        self.capture_flow = CaptureFlow(
            ScreenCapture(self, grab=grab_screen or platform_grabber(qt_app.platformName())),
            self.uploads,
            qt_app.clipboard(),
            lambda: self.config,
            self,
            expires=self.window.expires,
        )
        self.window.edit_requested.connect(self.capture_flow.edit_image)

        self.tray: TrayIcon | None = None
        self.tray_controller: TrayController | None = None
        self._tray_watch: QTimer | None = None
        if tray_available or (tray_available is None and QSystemTrayIcon.isSystemTrayAvailable()):
            self._make_tray()
        else:
            log.info("no system tray: picdrop runs in its window, and closing the window quits")
            qt_app.setQuitOnLastWindowClosed(True)
            if tray_available is None:
                self._watch_for_tray()

        self.hotkeys = HotkeyService(
            hotkey_backend or platform_backend(qt_app.platformName(), self), self
        )
        self.hotkeys.capture_requested.connect(self._hotkey_capture)
        self.hotkeys.upload_clipboard_requested.connect(self._hotkey_upload_clipboard)
        self.hotkeys.problems_changed.connect(self._show_hotkey_status)
        self.hotkeys.trouble.connect(self._announce_trouble)

        self.instance = instance
        self.remote: RemoteRequests | None = None
        if instance is not None:
            self.remote = RemoteRequests(
                instance, self.uploads, self.copier, self, capture=self.capture_flow
            )
            self.remote.open_files.connect(self.open_files)
        qt_app.aboutToQuit.connect(self.shutdown)

    def _tell_when_hidden(self, title: str, text: str, *, page: str = "", error: bool = False):
        if self.tray_controller is not None and not self.window.isVisible():
            self.tray_controller.notify(title, text, page=page, error=error)

    def _watch_for_tray(self) -> None:
        """Started on login, picdrop can be up before the panel is: look again for a while."""
        checks = iter(range(TRAY_WATCH_CHECKS))
        self._tray_watch = QTimer(self, interval=TRAY_WATCH_MS)

        def check() -> None:
            if QSystemTrayIcon.isSystemTrayAvailable():
                log.info("a system tray appeared")
                self._make_tray()
            elif next(checks, None) is not None:
                return
            self._tray_watch.stop()

        self._tray_watch.timeout.connect(check)
        self._tray_watch.start()

    def _make_tray(self) -> None:
        self.tray = TrayIcon(self)
        self.tray_controller = TrayController(
            self.tray,
            self.uploads,
            self.history,
            self.copier,
            self.capture_flow,
            self.qt_app.clipboard(),
            self,
            destinations=lambda: (self.destinations.names(), self.config.destination),
            enqueue=self.window.enqueue,
            expiry=lambda: (expiry_choices(), self.window.expiry.currentData()),
        )
        self.tray.expiry_chosen.connect(self.window.choose_expiry)
        self.tray.destination_chosen.connect(self.choose_destination)
        self.tray.show_window.connect(self.show_window)
        self.tray.open_settings.connect(self.open_settings)
        self.tray.quit_requested.connect(self.quit)
        self.window.close_to_tray = True
        self.window.hidden_to_tray.connect(self._on_hidden_to_tray)
        self.tray.show()
        # With a tray the app lives on when its window closes (and keeps the clipboard alive).
        self.qt_app.setQuitOnLastWindowClosed(False)

    def _connect(self, config: AppConfig) -> tuple[str, str]:
        """The server to upload to and the mode shown: "remote", "local" or "lan"."""
        remote = effective_server(config, self.environ)
        if remote:
            # Links made on the built-in server work only while it runs: it keeps running (and
            # starts again with the app) while history holds any. History says which server
            # each upload lives on.
            local = f"http://127.0.0.1:{config.embedded_port}"
            if self.embedded is not None and not self.history.has_links(self.embedded.url):
                self._stop_embedded()
            elif self.embedded is None and config.embedded_port and self.history.has_links(local):
                self._start_embedded(replace(config, share_on_lan=False))
            return remote, "remote"
        self._stop_embedded()
        self._start_embedded(config)
        return self.embedded.url, "lan" if config.share_on_lan else "local"

    def _start_embedded(self, config: AppConfig) -> None:
        from desktop.embedded import start_embedded_server  # imports the backend: only if used

        self.embedded = start_embedded_server(
            embedded_server_dir(self.data_dir),
            port=config.embedded_port,
            share_on_lan=config.share_on_lan,
        )
        port = self.embedded.settings.port
        if port != self.config.embedded_port:
            self.config.embedded_port = config.embedded_port = port
            self.settings_store.save(self.config)

    def _stop_embedded(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None

    def start(self, files: Sequence[Path] = (), *, minimized: bool = False) -> None:
        if self.tray is None or not (minimized or self.config.start_minimized):
            self.window.show()
        if self.config.start_on_login:
            self._apply_autostart(True)  # keeps the entry pointing at this installation
        self.hotkeys.apply(hotkey_texts(self.config))
        self.uploads.resume_unfinished()
        if files:
            self.uploads.enqueue(file_sources(files))

    # -- requests from the tray and from other processes ------------------------------------
    def show_window(self) -> None:
        self.window.show_and_raise()

    def open_settings(self) -> None:
        self.show_window()
        self.window.open_settings()

    def start_capture(self, mode: str = "region", delay_s: float = 0) -> bool:
        """Capture the screen (a CaptureMode value): the tray, global hotkeys and the `picdrop
        capture` command all come here. False when a capture is already under way."""
        return self.capture_flow.start_capture(mode, delay_s)

    def open_files(self, files: list[Path]) -> None:
        """A second launch (or "Open with") handed these over: upload them, show the window."""
        if files:
            self.uploads.enqueue(file_sources(files))
        self.show_window()

    def quit(self) -> None:
        self.window.close_to_tray = False  # a quit must not be turned into "hide"
        self.qt_app.quit()

    def _on_hidden_to_tray(self) -> None:
        if self.tray is not None and not self.config.tray_notice_shown:
            self.tray.notify(
                "picdrop is still running",
                "It keeps your links on the clipboard. Quit from the tray icon's menu.",
            )
            self.config.tray_notice_shown = True
            self.settings_store.save(self.config)

    def _apply_autostart(self, enabled: bool) -> None:
        try:
            autostart.apply(enabled, self.autostart_entry)
        except OSError as exc:
            log.warning("could not change starting on login: %s", exc)
            self.window.show_notice("Could not change starting on login")

    def apply_config(self, config: AppConfig) -> None:
        old = self.config
        self.config = replace(
            config, embedded_port=old.embedded_port, tray_notice_shown=old.tray_notice_shown
        )
        if old.start_on_login != self.config.start_on_login:
            self._apply_autostart(self.config.start_on_login)
        self.uploads.set_parallel(self.config.parallel_uploads)
        self.uploads.strip_metadata = self.config.strip_metadata
        if (old.server_url, old.share_on_lan) != (self.config.server_url, self.config.share_on_lan):
            self._server = self._connect(self.config)
        if hotkey_texts(old) != hotkey_texts(self.config):
            self.hotkeys.apply(hotkey_texts(self.config))
        self._show_destination()
        self.settings_store.save(self.config)

    # -- global hotkeys -----------------------------------------------------------------------
    def _hotkey_capture(self, mode: str) -> None:
        self.start_capture(mode)

    def _hotkey_upload_clipboard(self) -> None:
        if self.tray_controller is not None:
            self.tray_controller.upload_clipboard()
        else:
            self.window.paste()

    def _show_hotkey_status(self) -> None:
        self.window.hotkey_status = (dict(self.hotkeys.problems), self.hotkeys.notice)
        if self.window.settings_dialog is not None:
            self.window.settings_dialog.hotkeys.show_problems(*self.window.hotkey_status)

    def _announce_trouble(self, title: str, text: str) -> None:
        if self.tray is not None:
            self.tray.notify(title, text, error=True)
        else:
            self.window.show_notice(printable(f"{title}: {text}"))

    def _show_destination(self) -> None:
        """Uploads go to the chosen custom uploader, else to the picdrop server."""
        self.window.destinations = self.destinations.describe()
        name = self.config.destination
        if name in self.window.destinations:
            self.uploads.set_server(SXCU_PREFIX + name)
            self.window.set_custom_destination(name)
        else:
            server_url, mode = self._server
            self.uploads.set_server(server_url)
            self.window.set_server_info(server_url, mode)

    def choose_destination(self, name: str) -> None:
        """From the tray's "Upload to" menu: an imported uploader, or "" for the server."""
        self.apply_config(replace(self.config, destination=name))

    def import_uploaders(self, files: list[Path]) -> None:
        """ShareX custom uploaders dropped on the window or chosen in Settings."""
        added = []
        for path in files:
            try:
                name, _uploader = self.destinations.add(path.read_bytes())
            except (OSError, SxcuError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else str(exc)
                self.window.show_notice(printable(f"Cannot import {path.name}: {reason}"))
                continue
            added.append(name)
        if not added:
            return
        self._refresh_destinations()
        what = ", ".join(added)
        self.window.show_notice(printable(f"Added {what}: choose it in Settings to upload there"))

    def remove_uploader(self, name: str) -> None:
        """Settings' "Remove": forget an imported uploader (uploads to it go to the server)."""
        try:
            self.destinations.remove(name)
        except (UnknownDestination, OSError):
            return
        if self.config.destination == name:
            self.config.destination = ""
            self.settings_store.save(self.config)
            self._show_destination()
        self._refresh_destinations()

    def _refresh_destinations(self) -> None:
        self.window.destinations = self.destinations.describe()
        if self.window.settings_dialog is not None:
            self.window.settings_dialog.set_destinations(self.window.destinations)

    def shutdown(self) -> None:
        if self._tray_watch is not None:
            self._tray_watch.stop()
        if self.instance is not None:
            self.instance.close()  # a launch from now on starts a new app
        if self.tray is not None:
            self.tray.close()
        self.hotkeys.shutdown()
        # Unfinished uploads stay queued in history and resume on the next start.
        self.uploads.shutdown()
        self.actions.shutdown()
        self._stop_embedded()
        self.history.close()


def connect_server_actions(
    actions: ServerActions, window: MainWindow, uploads: UploadService
) -> None:
    """The window's "Delete", "Copy album link", "Test" and History's image fetches go to the
    server actions; their answers come back."""
    window.delete_requested.connect(actions.delete_remote)
    window.album_requested.connect(actions.make_album)
    actions.album_made.connect(window.copy_album_link)
    actions.album_made.connect(lambda _key, _link: uploads.notify_history_changed())
    actions.album_failed.connect(window.show_notice)
    window.test_connection.connect(lambda url: actions.test_connection(url or uploads.server_url))
    actions.deleted.connect(uploads.mark_deleted)
    actions.delete_failed.connect(lambda _key, _error: uploads.notify_history_changed())
    actions.connection_tested.connect(
        lambda _url, ok, message: window.show_connection_result(ok, message)
    )
    window.servers_to_check.connect(actions.check_servers)
    actions.server_checked.connect(window.show_server_reachability)
    window.history_image_requested.connect(actions.fetch_image)
    actions.image_fetched.connect(window.receive_history_image)
    actions.image_saved.connect(lambda _key, path: window.show_notice(f"Saved {Path(path).name}"))
    actions.fetch_failed.connect(window.history_image_failed)


def create_qt_app(argv: Sequence[str]) -> QApplication:
    QGuiApplication.setApplicationName(APP_NAME)
    QGuiApplication.setApplicationDisplayName(APP_DISPLAY_NAME)
    QGuiApplication.setOrganizationName(ORG_NAME)
    QGuiApplication.setApplicationVersion(__version__)
    QGuiApplication.setDesktopFileName(APP_ID)
    app = QApplication(list(argv))
    app.setWindowIcon(theme.app_icon())
    theme.apply_color_scheme(app)
    app.styleHints().colorSchemeChanged.connect(lambda _scheme: theme.apply_color_scheme(app))
    return app


def _build(
    qt_app: QApplication, data_dir: Path, instance: InstanceServer | None, history: HistoryStore
) -> PicdropApp | None:
    """The app; when the built-in server's catalog is damaged, the user is asked whether to
    keep its data aside and start it afresh. None: they chose to quit."""

    def build() -> PicdropApp:
        return PicdropApp(
            qt_app,
            data_dir=data_dir,
            qsettings=open_qsettings(),
            instance=instance,
            history=history,
        )

    try:
        return build()
    except RuntimeError as exc:
        from desktop.embedded import LocalServerDamaged, keep_aside  # loaded once it started

        if not isinstance(exc, LocalServerDamaged):
            raise
        log.error("%s", exc)
        if not start_new_local_server(exc.data_dir):
            return None
        keep_aside(exc.data_dir)
        return build()


def main(
    argv: Sequence[str] | None = None,
    *,
    files: Sequence[Path] = (),
    data_dir: Path | None = None,
    minimized: bool = False,
) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    data_dir = data_dir or user_data_dir()
    qt_app = create_qt_app(sys.argv[:1] if argv is None else argv)
    try:
        name = instance_address(data_dir)
        instance = claim(name)
    except (RuntimeError, UnsafeRuntimeDir) as exc:  # no socket: still usable alone
        log.warning("running without the single-instance socket: %s", exc)
        instance = None
    else:
        if instance is None:  # another launch became the running app a moment ago
            return 0 if hand_over(name, files) else 1
    try:
        history = open_history(history_path(data_dir), start_afresh)
    except HistoryUnavailable as exc:
        log.error("%s", exc)
        if instance is not None:
            instance.close()
        return 1
    collector = GuiThreadCollector(qt_app)
    picdrop = _build(qt_app, data_dir, instance, history)
    if picdrop is None:
        collector.stop()
        history.close()
        if instance is not None:
            instance.close()
        return 1
    # Ctrl+C in a terminal (or a plain `kill`) quits cleanly, removing the instance socket; the
    # timer lets Python see the signal between Qt events.
    signal.signal(signal.SIGINT, lambda *_: picdrop.quit())
    signal.signal(signal.SIGTERM, lambda *_: picdrop.quit())
    tick = QTimer(interval=250)
    tick.timeout.connect(lambda: None)
    tick.start()
    picdrop.start(files, minimized=minimized)
    status = qt_app.exec()
    collector.stop()
    return status
