"""The tray icon and its menu. Shows state (progress ring, tooltip, notifications, recent uploads)
and emits intent; it reads no files, no history and no network itself.

The menu is rebuilt every time it opens: it emits `menu_opening`, and whoever listens (the tray
controller) answers synchronously with `rebuild_menu(...)`, before the menu appears.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction, QGuiApplication, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop import APP_DISPLAY_NAME
from desktop.core.activity import Activity
from desktop.core.printable import printable
from desktop.core.units import human_age
from desktop.ui import theme
from desktop.ui.queue import thumbnail_pixmap
from desktop.ui.tray_icons import panel_variant, ring_step, tray_icon

RECENT_COUNT = 5
NOTIFY_MS = 4000
NAME_WIDTH = 36  # characters of a file name shown in the menu


@dataclass(frozen=True)
class RecentEntry:
    key: str  # history key
    name: str
    url: str
    thumbnail: bytes | None = None
    created_at: float = 0.0  # shown as "5 min ago": two "shot.png" tell apart


def elide(text: str, width: int = NAME_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 8] + "…" + text[-7:]


class TrayIcon(QObject):
    menu_opening = Signal()
    upload_clipboard = Signal()
    upload_files = Signal()
    capture_screen = Signal()
    recent_chosen = Signal(str)  # history key
    destination_chosen = Signal(str)  # an imported custom uploader; "": the picdrop server
    expiry_chosen = Signal(str)  # how long the next uploads live ("1d"...; "": server default)
    show_window = Signal()
    pause_toggled = Signal(bool)  # True: pause
    open_settings = Signal()
    quit_requested = Signal()
    message_clicked = Signal()
    notified = Signal(str, str)  # title, text: each notification shown

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tray = QSystemTrayIcon(self)
        self.menu = QMenu()
        self.menu.setObjectName("TrayMenu")
        self.menu.setToolTipsVisible(True)
        self.menu.aboutToShow.connect(self.menu_opening)
        self.tray.setContextMenu(self.menu)
        self.tray.activated.connect(self._on_activated)
        self.tray.messageClicked.connect(self.message_clicked)
        self._variant = panel_variant()
        self._activity = Activity()
        self._paused = False
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_scheme_changed)
        self.rebuild_menu([], paused=False)
        self.show_activity(Activity())

    def show(self) -> None:
        self.tray.show()

    def hide(self) -> None:
        self.tray.hide()

    def close(self) -> None:
        """Gone from the panel now, not when the garbage collector gets to it."""
        self.tray.hide()
        self.tray.setContextMenu(None)
        self.menu.deleteLater()

    # -- menu ---------------------------------------------------------------------------------
    def rebuild_menu(
        self,
        recent: list[RecentEntry],
        paused: bool,
        destinations: list[str] | None = None,
        current: str = "",
        expiry: tuple[list[tuple[str, str]], str] | None = None,
    ) -> None:
        """`destinations`: imported custom uploaders; with any, an "Upload to" menu switches
        between them and the picdrop server (`current`, "" for the server). `expiry`: the
        (name, label) choices for how long new uploads live and the one chosen."""
        self._paused = paused
        menu = self.menu
        menu.clear()
        self._add(menu, "Upload clipboard", "clipboard", self.upload_clipboard.emit)
        self._add(menu, "Upload files…", "upload", self.upload_files.emit)
        self._add(menu, "Capture screen…", "capture", self.capture_screen.emit)
        if expiry is not None:
            self._add_expiry(menu, *expiry)
        if destinations:
            self._add_destinations(menu, destinations, current)
        menu.addSeparator()
        heading = menu.addAction("Recent uploads" if recent else "No uploads yet")
        heading.setEnabled(False)
        ratio = self._ratio()
        for entry in recent[:RECENT_COUNT]:
            action = menu.addAction(f"{elide(entry.name)}  ·  {human_age(entry.created_at)}")
            action.setObjectName("recent")
            action.setData(entry.key)
            action.setToolTip(printable(f"Copy {entry.url}"))
            action.setIcon(QIcon(thumbnail_pixmap(entry.thumbnail, 20, ratio)))
            action.triggered.connect(lambda _=False, k=entry.key: self.recent_chosen.emit(k))
        menu.addSeparator()
        self._add(menu, "Show window", "window", self.show_window.emit)
        if paused:
            self._add(menu, "Resume uploads", "resume", lambda: self.pause_toggled.emit(False))
        else:
            self._add(menu, "Pause uploads", "pause", lambda: self.pause_toggled.emit(True))
        self._add(menu, "Settings…", "settings", self.open_settings.emit)
        menu.addSeparator()
        self._add(menu, f"Quit {APP_DISPLAY_NAME}", "quit", self.quit_requested.emit)

    def _add_destinations(self, menu: QMenu, names: list[str], current: str) -> None:
        choices = menu.addMenu(f"Upload to: {elide(current or 'picdrop server')}")
        choices.setObjectName("destinations")
        for name, label in [("", "picdrop server"), *((n, n) for n in names)]:
            action = choices.addAction(elide(label))
            action.setCheckable(True)
            action.setChecked(name == current)
            action.triggered.connect(lambda _=False, n=name: self.destination_chosen.emit(n))

    def _add_expiry(self, menu: QMenu, choices: list[tuple[str, str]], current: str) -> None:
        labels = dict(choices)
        submenu = menu.addMenu(f"New uploads: {labels.get(current, labels[''])}")
        submenu.setObjectName("expiry")
        for name, label in choices:
            action = submenu.addAction(label)
            action.setCheckable(True)
            action.setChecked(name == current)
            action.triggered.connect(lambda _=False, n=name: self.expiry_chosen.emit(n))

    def _add(self, menu: QMenu, text: str, icon_name: str, slot) -> QAction:
        action = menu.addAction(theme.icon(icon_name), text)
        action.triggered.connect(lambda _=False: slot())
        return action

    def _ratio(self) -> float:
        screen = QGuiApplication.primaryScreen()
        return screen.devicePixelRatio() if screen is not None else 1.0

    def action(self, text: str) -> QAction:
        """The menu entry with this text (tests and accessibility tools find entries by name)."""
        for action in self.menu.actions():
            if action.text() == text:
                return action
        raise KeyError(text)

    def recent_actions(self) -> list[QAction]:
        return [a for a in self.menu.actions() if a.objectName() == "recent"]

    # -- state --------------------------------------------------------------------------------
    def show_activity(self, activity: Activity) -> None:
        self._activity = activity
        busy = activity.busy
        step = ring_step(activity.percent) if busy and not activity.paused else None
        self.tray.setIcon(tray_icon(self._variant, step, paused=activity.paused and busy))
        self.tray.setToolTip(f"{APP_DISPLAY_NAME} — {activity.text}")

    def tooltip(self) -> str:
        return self.tray.toolTip()

    def notify(self, title: str, text: str, *, error: bool = False) -> None:
        title, text = printable(title), printable(text)
        if error:
            self.tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Warning, NOTIFY_MS)
        else:
            self.tray.showMessage(title, text, theme.app_icon(), NOTIFY_MS)
        self.notified.emit(title, text)

    @Slot(QSystemTrayIcon.ActivationReason)
    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        reasons = QSystemTrayIcon.ActivationReason
        if reason in (reasons.Trigger, reasons.DoubleClick):
            self.show_window.emit()
        elif reason == reasons.MiddleClick:
            self.upload_clipboard.emit()

    @Slot(Qt.ColorScheme)
    def _on_scheme_changed(self, _scheme: Qt.ColorScheme) -> None:
        self._variant = panel_variant()
        self.show_activity(self._activity)
