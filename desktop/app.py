"""Building the application: settings, history, server, upload service, window — wired here.

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
from PySide6.QtWidgets import QApplication

from desktop import APP_DISPLAY_NAME, APP_ID, APP_NAME, ORG_NAME, __version__
from desktop.clipboard import LinkCopier
from desktop.core.config import SERVER_ENV, AppConfig, effective_server
from desktop.core.history import HistoryStore
from desktop.core.paths import embedded_server_dir, history_path, user_data_dir
from desktop.gc_guard import GuiThreadCollector
from desktop.service import UploadService
from desktop.settings import SettingsStore
from desktop.ui import theme
from desktop.ui.main_window import MainWindow

log = logging.getLogger(__name__)


class PicdropApp(QObject):
    """Owns the collaborators for one run of the GUI and applies settings changes."""

    def __init__(
        self,
        qt_app: QGuiApplication,
        *,
        data_dir: Path,
        qsettings: QSettings,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.qt_app = qt_app
        self.data_dir = data_dir
        self.environ = os.environ if environ is None else environ
        self.settings_store = SettingsStore(qsettings)
        self.config = self.settings_store.load()
        self.embedded = None
        self.history = HistoryStore(history_path(data_dir))
        server_url, mode = self._connect(self.config)
        self.uploads = UploadService(
            self.history,
            server_url,
            parallel=self.config.parallel_uploads,
            strip_metadata=self.config.strip_metadata,
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
        self.window.set_server_info(server_url, mode)
        self.window.config_changed.connect(self.apply_config)
        self.window.test_connection.connect(self.uploads.test_connection)
        self.uploads.connection_tested.connect(
            lambda _url, ok, message: self.window.show_connection_result(ok, message)
        )
        qt_app.aboutToQuit.connect(self.shutdown)

    def _connect(self, config: AppConfig) -> tuple[str, str]:
        """The server to upload to and the mode shown: "remote", "local" or "lan"."""
        remote = effective_server(config, self.environ)
        if remote:
            self._stop_embedded()
            return remote, "remote"
        from desktop.embedded import start_embedded_server  # imports the backend: only if used

        self._stop_embedded()
        self.embedded = start_embedded_server(
            embedded_server_dir(self.data_dir),
            port=config.embedded_port,
            share_on_lan=config.share_on_lan,
        )
        port = self.embedded.settings.port
        if port != config.embedded_port:
            config.embedded_port = port
            self.settings_store.save(config)
        return self.embedded.url, "lan" if config.share_on_lan else "local"

    def _stop_embedded(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None

    def start(self, files: Sequence[Path] = ()) -> None:
        self.window.show()
        self.uploads.resume_unfinished()
        if files:
            self.uploads.enqueue_paths(files)

    def apply_config(self, config: AppConfig) -> None:
        old = self.config
        self.config = replace(config, embedded_port=old.embedded_port)
        self.uploads.set_parallel(self.config.parallel_uploads)
        self.uploads.strip_metadata = self.config.strip_metadata
        if (old.server_url, old.share_on_lan) != (self.config.server_url, self.config.share_on_lan):
            server_url, mode = self._connect(self.config)
            self.uploads.set_server(server_url)
            self.window.set_server_info(server_url, mode)
        self.settings_store.save(self.config)

    def shutdown(self) -> None:
        # Unfinished uploads stay queued in history and resume on the next start.
        self.uploads.shutdown()
        self._stop_embedded()
        self.history.close()


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


def main(
    argv: Sequence[str] | None = None, *, files: Sequence[Path] = (), data_dir: Path | None = None
) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    qt_app = create_qt_app(sys.argv[:1] if argv is None else argv)
    collector = GuiThreadCollector(qt_app)
    picdrop = PicdropApp(qt_app, data_dir=data_dir or user_data_dir(), qsettings=QSettings())
    # Ctrl+C in a terminal quits cleanly; the timer lets Python see the signal between Qt events.
    signal.signal(signal.SIGINT, lambda *_: qt_app.quit())
    tick = QTimer(interval=250)
    tick.timeout.connect(lambda: None)
    tick.start()
    picdrop.start(files)
    status = qt_app.exec()
    collector.stop()
    return status
