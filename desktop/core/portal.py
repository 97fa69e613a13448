"""A client for the xdg-desktop-portal, the way a Wayland (or sandboxed) app reads the screen and
gets global shortcuts: D-Bus methods on org.freedesktop.portal.Desktop that answer later, with a
Response signal on a Request object whose path the caller predicts from its handle_token and
listens on before it calls (the portal's Request pattern).

Blocking: callers run it on a thread; `stop()` (from any thread) ends any wait. jeepney rather
than QtDBus: PySide6 cannot marshal BindShortcuts' a(sa{sv}) argument (it has no
qDBusRegisterMetaType for the struct)."""

from __future__ import annotations

import queue
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

from jeepney import DBusAddress, HeaderFields, MatchRule, Message, MessageType, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.threading import DBusRouter, open_dbus_connection

BUS_NAME = "org.freedesktop.portal.Desktop"
OBJECT_PATH = "/org/freedesktop/portal/desktop"
SCREENSHOT = "org.freedesktop.portal.Screenshot"
SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"
REQUEST = "org.freedesktop.portal.Request"
SESSION = "org.freedesktop.portal.Session"
CALL_TIMEOUT = 30.0  # for a method's reply (the portal may be started for it), not its Response

# The bus's answers when nobody offers the portal, or the portal lacks the interface.
_MISSING = {
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.UnknownMethod",
    "org.freedesktop.DBus.Error.UnknownInterface",
    "org.freedesktop.DBus.Error.UnknownObject",
}


class PortalError(Exception):
    """The portal could not do it; the message is a sentence for the user."""


class PortalMissing(PortalError):
    """No session bus, no portal on it, or a portal without the interface asked for."""


class PortalCancelled(PortalError):
    """The user said no (Response code 1)."""


class PortalStopped(PortalError):
    """stop() was called."""


def request_path(unique_name: str, token: str) -> str:
    """Where the portal puts the Request object of a call made with `token` (the spec's rule)."""
    sender = unique_name.removeprefix(":").replace(".", "_")
    return f"{OBJECT_PATH}/request/{sender}/{token}"


def new_token() -> str:
    return "picdrop_" + secrets.token_hex(8)


def unwrap(vardict: dict) -> dict:
    """a{sv} as jeepney gives it ({key: (signature, value)}) -> {key: value}."""
    return {key: value for key, (_signature, value) in vardict.items()}


class Portal:
    def __init__(self, bus: str = "SESSION") -> None:
        self.bus = bus  # "SESSION", or a D-Bus address
        self._router: DBusRouter | None = None
        self._lock = threading.Lock()
        self._waiting: set[queue.Queue] = set()
        self._stopped = False

    # -- connection ---------------------------------------------------------------------------
    def open(self) -> None:
        try:
            router = DBusRouter(open_dbus_connection(self.bus))
        except (KeyError, OSError, ValueError) as exc:  # no address, no socket, refused
            raise PortalMissing(f"No D-Bus session bus to reach the portal on ({exc}).") from exc
        with self._lock:
            self._router = router
        if self._stopped:
            self.close()

    def stop(self) -> None:
        """End every wait (from any thread); calls after it raise PortalStopped."""
        with self._lock:
            self._stopped = True
            for waiting in self._waiting:
                waiting.put(None)

    def close(self) -> None:
        with self._lock:
            router, self._router = self._router, None
        if router is not None:
            router.close()
            router.conn.close()

    # -- calls --------------------------------------------------------------------------------
    def _router_or_stop(self) -> DBusRouter:
        if self._stopped or self._router is None:
            raise PortalStopped("The portal request was stopped.")
        return self._router

    def _call(self, message: Message) -> tuple:
        try:
            reply = self._router_or_stop().send_and_get_reply(message, timeout=CALL_TIMEOUT)
        except TimeoutError:
            raise PortalError("The desktop portal did not answer.") from None
        if reply.header.message_type is MessageType.error:
            name = reply.header.fields.get(HeaderFields.error_name, "")
            if name in _MISSING:
                raise PortalMissing(f"The desktop offers no such portal ({name}).")
            raise PortalError(
                f"The desktop portal refused: {reply.body[0] if reply.body else name}"
            )
        return reply.body

    @contextmanager
    def _signals(self, **match: str) -> Iterator[queue.Queue]:
        """The portal's signals matching `match`, queued from now on (so from before the call
        that causes them)."""
        router = self._router_or_stop()
        bus_rule = MatchRule(type="signal", sender=BUS_NAME, **match)
        with router.filter(MatchRule(type="signal", **match), queue=queue.Queue()) as found:
            self._call(message_bus.AddMatch(bus_rule))
            with self._lock:
                self._waiting.add(found)
                if self._stopped:
                    found.put(None)
            try:
                yield found
            finally:
                with self._lock:
                    self._waiting.discard(found)
                if self._router is not None:
                    self._router.send(message_bus.RemoveMatch(bus_rule))

    def _from_portal(self, found: queue.Queue, portal: str) -> Message:
        """The next queued signal sent by the portal (its unique bus name `portal`). Any peer
        on the bus can send a signal to us; only the portal's are believed."""
        while True:
            message = found.get()
            if message is None:
                raise PortalStopped("The portal request was stopped.")
            if message.header.fields.get(HeaderFields.sender) == portal:
                return message

    def _portal_name(self) -> str:
        """The portal's unique bus name (it runs now: a call to it has been answered)."""
        return self._call(message_bus.GetNameOwner(BUS_NAME))[0]

    def request(
        self, interface: str, method: str, signature: str, args: tuple, options: dict
    ) -> dict:
        """Call a portal method that answers by a Response signal: its results (a{sv}
        unwrapped), or PortalCancelled / PortalError for the other response codes."""
        token = new_token()
        path = request_path(self._router_or_stop().unique_name, token)
        with self._signals(interface=REQUEST, member="Response", path=path) as responses:
            call = new_method_call(
                DBusAddress(OBJECT_PATH, BUS_NAME, interface),
                method,
                signature,
                (*args, {**options, "handle_token": ("s", token)}),
            )
            (handle,) = self._call(call)
            if handle != path:
                raise PortalError("The desktop portal is too old for picdrop (request path).")
            code, results = self._from_portal(responses, self._portal_name()).body
        if code == 1:
            raise PortalCancelled("The request was cancelled.")
        if code != 0:
            raise PortalError("The desktop could not complete the request.")
        return unwrap(results)

    # -- Screenshot ---------------------------------------------------------------------------
    def screenshot(self, *, interactive: bool = False) -> str:
        """Take a screenshot: the path of the PNG file the portal wrote."""
        results = self.request(
            SCREENSHOT,
            "Screenshot",
            "sa{sv}",
            ("",),
            {"modal": ("b", True), "interactive": ("b", interactive)},
        )
        uri = urlsplit(str(results.get("uri", "")))
        if uri.scheme != "file" or not uri.path:
            raise PortalError("The desktop's screenshot is not a file picdrop can open.")
        return unquote(uri.path)

    # -- GlobalShortcuts ----------------------------------------------------------------------
    def create_shortcuts_session(self) -> str:
        results = self.request(
            SHORTCUTS, "CreateSession", "a{sv}", (), {"session_handle_token": ("s", new_token())}
        )
        return str(results["session_handle"])

    def bind_shortcuts(self, session: str, shortcuts: list[tuple[str, str, str]]) -> dict[str, str]:
        """Bind (id, description, preferred trigger) shortcuts: {id: the trigger's description}
        for those the desktop bound (the user may drop some, or change their keys)."""
        wanted = [
            (ident, {"description": ("s", text), "preferred_trigger": ("s", trigger)})
            for ident, text, trigger in shortcuts
        ]
        results = self.request(
            SHORTCUTS, "BindShortcuts", "oa(sa{sv})sa{sv}", (session, wanted, ""), {}
        )
        return {
            ident: str(unwrap(props).get("trigger_description", ""))
            for ident, props in results.get("shortcuts", [])
        }

    @contextmanager
    def activations(self) -> Iterator[Callable[[str], Iterator[str]]]:
        """Listen for shortcut activations (before binding, so none is missed): yields a
        function that yields the ids activated in a session until stop()."""
        with self._signals(interface=SHORTCUTS, member="Activated", path=OBJECT_PATH) as activated:

            def ids(session: str) -> Iterator[str]:
                portal = self._portal_name()
                while True:
                    try:
                        message = self._from_portal(activated, portal)
                    except PortalStopped:
                        return
                    if message.body[0] == session:
                        yield message.body[1]

            yield ids

    def close_session(self, session: str) -> None:
        if self._router is not None:
            self._router.send(new_method_call(DBusAddress(session, BUS_NAME, SESSION), "Close"))
