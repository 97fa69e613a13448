"""A stand-in for xdg-desktop-portal on a test's private session bus (a real compositor and
portal cannot run here). It serves org.freedesktop.portal.Screenshot and
org.freedesktop.portal.GlobalShortcuts as the portal specification describes them: each call's
Request object lives at the path the caller's handle_token names, its answer comes as a Response
signal (code 0 success, 1 cancelled, 2 other) sent right after the method returns, and a bound
shortcut sends Activated. org.picdrop.test.FakePortal lets the test press a shortcut and read
what the portal was asked.

    python fake_portal.py '{"screenshot_code": 0, "screenshot_uri": "file:///...",
                            "shortcuts": true, "bind": null}'

prints "ready" once it owns org.freedesktop.portal.Desktop. "shortcuts": false leaves the
GlobalShortcuts interface out (as desktops without it do); "bind": a list of the shortcut ids the
"user" accepts (null: all); "screenshot_code": null never answers a screenshot;
"impostor_uri" / "impostor_shortcut": another peer on the bus sends a forged Response / Activated
just before each real one."""

from __future__ import annotations

import json
import sys
import time

from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

# Spelled out here rather than imported from desktop.core.portal: the stand-in follows the
# specification, not the client under test.
BUS_NAME = "org.freedesktop.portal.Desktop"
OBJECT_PATH = "/org/freedesktop/portal/desktop"
SCREENSHOT = "org.freedesktop.portal.Screenshot"
SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"
REQUEST = "org.freedesktop.portal.Request"
SESSION = "org.freedesktop.portal.Session"
CONTROL = "org.picdrop.test.FakePortal"


def escaped_sender(unique_name: str) -> str:
    """The caller's unique name as the spec puts it in object paths: ":1.42" -> "1_42"."""
    return unique_name[1:].replace(".", "_")


def unwrap(vardict: dict) -> dict:
    return {key: value for key, (_signature, value) in vardict.items()}


class FakePortal:
    def __init__(self, config: dict) -> None:
        self.config = config
        self.conn = open_dbus_connection("SESSION")
        self.calls: list[dict] = []
        self.sessions: dict[str, dict] = {}  # path: {"owner": unique name, "bound": [ids]}

    def serve(self) -> None:
        reply = self.conn.send_and_get_reply(message_bus.RequestName(BUS_NAME))
        assert reply.body == (1,), reply.body  # the primary owner
        print("ready", flush=True)
        handlers = {
            (SCREENSHOT, "Screenshot"): self.screenshot,
            (CONTROL, "Activate"): self.activate,
            (CONTROL, "Calls"): self.report,
            (SESSION, "Close"): self.close_session,
        }
        if self.config.get("shortcuts", True):
            handlers[SHORTCUTS, "CreateSession"] = self.create_session
            handlers[SHORTCUTS, "BindShortcuts"] = self.bind_shortcuts
        while True:
            msg = self.conn.receive()
            if msg.header.message_type is not MessageType.method_call:
                continue
            fields = msg.header.fields
            key = (fields.get(HeaderFields.interface), fields.get(HeaderFields.member))
            handler = handlers.get(key)
            if handler is None:
                self.conn.send(
                    new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s", (str(key),))
                )
            else:
                handler(msg)

    # -- the Request pattern ------------------------------------------------------------------
    def open_request(self, msg, options: dict) -> tuple[str, str]:
        """Return the path of the call's Request object (named by its handle_token); the path
        and the caller."""
        sender = msg.header.fields[HeaderFields.sender]
        handle = f"{OBJECT_PATH}/request/{escaped_sender(sender)}/{unwrap(options)['handle_token']}"
        self.conn.send(new_method_return(msg, "o", (handle,)))
        return handle, sender

    def answer(self, msg, options: dict, code: int, results: dict) -> None:
        """Return the Request's path, then send its Response there."""
        handle, sender = self.open_request(msg, options)
        spoof = self.config.get("impostor_uri")
        self.send_signal(
            DBusAddress(handle, interface=REQUEST), "Response", "ua{sv}", (code, results), sender,
            impostor=(0, {"uri": ("s", spoof)}) if spoof else None,
        )  # fmt: skip

    def send_signal(self, where, name, signature, body, destination, *, impostor=None) -> None:
        """Send a signal to `destination`; `impostor`: first have another peer on the bus send
        it the same signal with that body instead."""
        if impostor is not None:
            other = open_dbus_connection("SESSION")
            try:
                fake = new_signal(where, name, signature, impostor)
                fake.header.fields[HeaderFields.destination] = destination
                other.send(fake)
                # The bus handles a peer's messages in order: once it answers this one, it has
                # routed the impostor's signal, which so reaches `destination` first.
                other.send_and_get_reply(message_bus.GetId())
            finally:
                other.close()
        signal = new_signal(where, name, signature, body)
        signal.header.fields[HeaderFields.destination] = destination
        self.conn.send(signal)

    # -- Screenshot ---------------------------------------------------------------------------
    def screenshot(self, msg) -> None:
        _parent_window, options = msg.body
        self.calls.append({"method": "Screenshot", "options": unwrap(options)})
        code = self.config.get("screenshot_code", 0)
        if code is None:  # the user never answers the portal's dialog
            self.open_request(msg, options)
            return
        results = {"uri": ("s", self.config["screenshot_uri"])} if code == 0 else {}
        self.answer(msg, options, code, results)

    # -- GlobalShortcuts ----------------------------------------------------------------------
    def create_session(self, msg) -> None:
        (options,) = msg.body
        sender = msg.header.fields[HeaderFields.sender]
        self.calls.append({"method": "CreateSession", "options": unwrap(options)})
        token = unwrap(options)["session_handle_token"]
        session = f"{OBJECT_PATH}/session/{escaped_sender(sender)}/{token}"
        self.sessions[session] = {"owner": sender, "bound": []}
        self.answer(msg, options, 0, {"session_handle": ("s", session)})

    def bind_shortcuts(self, msg) -> None:
        session, shortcuts, _parent_window, options = msg.body
        self.calls.append(
            {
                "method": "BindShortcuts",
                "session": session,
                "shortcuts": [[ident, unwrap(props)] for ident, props in shortcuts],
            }
        )
        owned = self.sessions.get(session)
        if owned is None or owned["owner"] != msg.header.fields[HeaderFields.sender]:
            self.conn.send(new_error(msg, "org.freedesktop.portal.Error.NotAllowed", "s", ("",)))
            return
        accepted = self.config.get("bind")
        bound = [
            (ident, {"description": props["description"],
                     "trigger_description": ("s", f"Press {props['preferred_trigger'][1]}")})
            for ident, props in shortcuts
            if accepted is None or ident in accepted
        ]  # fmt: skip
        owned["bound"] = [ident for ident, _props in bound]
        self.answer(msg, options, 0, {"shortcuts": ("a(sa{sv})", bound)})

    def close_session(self, msg) -> None:
        path = msg.header.fields[HeaderFields.path]
        self.calls.append({"method": "Session.Close", "session": path})
        self.sessions.pop(path, None)
        self.conn.send(new_method_return(msg))

    # -- control ------------------------------------------------------------------------------
    def activate(self, msg) -> None:
        """The user presses the shortcut `ident`: Activated to each session that bound it."""
        (ident,) = msg.body
        spoof = self.config.get("impostor_shortcut")
        for session, state in self.sessions.items():
            if ident in state["bound"]:
                now = int(time.monotonic() * 1000)
                self.send_signal(
                    DBusAddress(OBJECT_PATH, interface=SHORTCUTS), "Activated", "osta{sv}",
                    (session, ident, now, {}), state["owner"],
                    impostor=(session, spoof, now, {}) if spoof else None,
                )  # fmt: skip
        self.conn.send(new_method_return(msg))

    def report(self, msg) -> None:
        self.conn.send(new_method_return(msg, "s", (json.dumps(self.calls),)))


if __name__ == "__main__":
    FakePortal(json.loads(sys.argv[1])).serve()
