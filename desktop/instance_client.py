"""Talking to the running picdrop app from another process: a second launch handing over its
files, or the `picdrop` command uploading through the app or copying a link with it.

QLocalSocket in blocking mode: no event loop, no QCoreApplication and no display are needed, and it
is a Unix socket or a Windows named pipe as the platform wants. Nothing is sent before the
listening process is known to run as this user.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtNetwork import QLocalSocket

from desktop.core.ipc import decode, encode, peer_uid

CONNECT_MS = 1500
REPLY_MS = 10_000


class InstanceGone(Exception):
    """The running app closed the connection (it quit or crashed) or stopped answering."""


class ForeignInstance(Exception):
    """What listens on the app's address runs as another user (or cannot be checked): it is
    not our app, and nothing was sent to it."""

    def __init__(self, address: str, owner: int | None) -> None:
        whose = f"another user (uid {owner})" if owner is not None else "a user it cannot check"
        super().__init__(
            f"{address} is held by {whose}, not by your picdrop app; nothing was sent to it"
        )


class InstanceClient:
    def __init__(self, sock: QLocalSocket) -> None:
        self.sock = sock

    @classmethod
    def connect(cls, name: str, timeout_ms: int = CONNECT_MS) -> InstanceClient | None:
        """A connection to the running app, or None when none listens under `name` (including
        a stale socket file left by a crashed app: connecting to it is refused at once).
        ForeignInstance when another user's process listens there."""
        sock = QLocalSocket()
        sock.connectToServer(name)
        if not sock.waitForConnected(timeout_ms):
            sock.abort()
            return None
        try:
            owner = peer_uid(int(sock.socketDescriptor()))
            ours = owner is None or owner == os.getuid()
        except OSError:  # cannot tell who listens: then it is not known to be us
            owner, ours = None, False
        if not ours:
            sock.abort()
            raise ForeignInstance(name, owner)
        return cls(sock)

    def __enter__(self) -> InstanceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.sock.state() == QLocalSocket.LocalSocketState.ConnectedState:
            self.sock.disconnectFromServer()
        self.sock.close()

    def send(self, message: dict[str, Any], timeout_ms: int = REPLY_MS) -> None:
        self.sock.write(encode(message))
        while self.sock.bytesToWrite() > 0:
            if not self.sock.waitForBytesWritten(timeout_ms):
                raise InstanceGone(f"the picdrop app stopped reading: {self.sock.errorString()}")

    def receive(self, timeout_ms: int | None = REPLY_MS) -> dict[str, Any]:
        """The next message; waits at most `timeout_ms` (None: as long as the app is there)."""
        deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000
        while not self.sock.canReadLine():
            if self.sock.state() != QLocalSocket.LocalSocketState.ConnectedState:
                raise InstanceGone("the picdrop app closed the connection")
            wait = 1000
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise InstanceGone("the picdrop app did not answer")
                wait = max(1, min(wait, int(left * 1000)))
            self.sock.waitForReadyRead(wait)
        return decode(bytes(self.sock.readLine().data()))

    def request(self, message: dict[str, Any], timeout_ms: int = REPLY_MS) -> dict[str, Any]:
        self.send(message, timeout_ms)
        return self.receive(timeout_ms)


def connect_to_ours(name: str, *, warn: bool = True) -> InstanceClient | None:
    """InstanceClient.connect, with a foreign listener treated as no app at all (said on
    standard error when `warn`)."""
    try:
        return InstanceClient.connect(name)
    except ForeignInstance as exc:
        if warn:
            print(f"picdrop: {exc}", file=sys.stderr)
        return None


def ping(name: str) -> dict[str, Any] | None:
    client = connect_to_ours(name, warn=False)
    if client is None:
        return None
    with client:
        try:
            return client.request({"cmd": "ping"})
        except (InstanceGone, ValueError):
            return None


def hand_over(name: str, files: Sequence[Path]) -> bool:
    """Give files to the running app (which queues them and raises its window). False when no
    app is running."""
    client = connect_to_ours(name)
    if client is None:
        return False
    with client:
        try:
            reply = client.request(
                {"cmd": "open", "files": [str(Path(f).resolve()) for f in files]}
            )
        except (InstanceGone, ValueError):
            return False
    return bool(reply.get("ok"))


def copy_via_app(name: str, text: str, count: int) -> bool:
    """Put text on the clipboard through the running app, which owns it (on X11 a clipboard
    dies with the process that set it). False when no app is running."""
    client = connect_to_ours(name)
    if client is None:
        return False
    with client:
        try:
            reply = client.request({"cmd": "copy", "text": text, "count": count})
        except (InstanceGone, ValueError):
            return False
    return bool(reply.get("ok"))
