"""Wayland global hotkeys: an application cannot grab keys there, so it asks the desktop through
the xdg-desktop-portal GlobalShortcuts interface (a session, its shortcuts bound with picdrop's
keys as the preferred triggers, then Activated signals), on a thread of its own. Where no portal
offers it, the desktop's own shortcut settings can run `picdrop capture region` instead."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from PySide6.QtCore import QObject

from desktop.core.hotkeys import Action, Hotkey
from desktop.core.portal import (
    Portal,
    PortalCancelled,
    PortalError,
    PortalMissing,
    PortalStopped,
)
from desktop.hotkeys.backend import HotkeyBackend

NO_SHORTCUTS_PORTAL = (
    "This desktop offers no global shortcuts to applications (no xdg-desktop-portal "
    "GlobalShortcuts). Add keyboard shortcuts in your desktop's settings that run "
    "`picdrop capture region`, `picdrop capture screen` and `picdrop capture window` instead, "
    "and empty the keys here to stop this message."
)
DECLINED = "Global shortcuts were declined in the desktop's dialog; change them in its settings."


class PortalHotkeyBackend(HotkeyBackend):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._portal: Portal | None = None
        self._thread: threading.Thread | None = None

    def bind(self, hotkeys: Mapping[Action, Hotkey]) -> None:
        # A session binds its shortcuts once (the spec): new keys take a new session.
        self.close()
        if not hotkeys:
            return
        self._portal = Portal()
        self._thread = threading.Thread(
            target=self._run, args=(self._portal, dict(hotkeys)), name="portal-hotkeys", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._portal.stop()
            self._thread.join()
            self._thread = None

    def _run(self, portal: Portal, hotkeys: dict[Action, Hotkey]) -> None:
        try:
            portal.open()
            with portal.activations() as activated:
                session = portal.create_shortcuts_session()
                try:
                    self._bind(portal, session, hotkeys)
                    for ident in activated(session):
                        if ident in hotkeys:
                            self.activated.emit(ident)
                finally:
                    portal.close_session(session)
        except PortalMissing:
            self.unavailable.emit(NO_SHORTCUTS_PORTAL)
        except PortalCancelled:
            self.unavailable.emit(DECLINED)
        except PortalStopped:
            pass  # close(): new keys, or quitting
        except PortalError as exc:
            self.unavailable.emit(str(exc))
        finally:
            portal.close()

    def _bind(self, portal: Portal, session: str, hotkeys: dict[Action, Hotkey]) -> None:
        bound = portal.bind_shortcuts(
            session, [(a.value, a.label, h.portal_trigger) for a, h in hotkeys.items()]
        )
        for action, hotkey in hotkeys.items():
            if action.value not in bound:
                self.refused.emit(
                    action.value, str(hotkey), "The desktop did not bind this shortcut."
                )
        self.bound.emit()
