"""Talking to the running picdrop app from another process: a second launch handing over its
files, or the `picdrop` command uploading through the app or copying a link with it.

QLocalSocket in blocking mode: no event loop, no QCoreApplication and no display are needed, and it
is a Unix socket or a Windows named pipe as the platform wants.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtNetwork import QLocalSocket

from desktop.core.ipc import decode, encode

CONNECT_MS = 1500
REPLY_MS = 10_000


class InstanceGone(Exception):
    """The running app closed the connection (it quit or crashed) or stopped answering."""


class InstanceClient:
    def __init__(self, sock: QLocalSocket) -> None:
        self.sock = sock

    @classmethod
    def connect(cls, name: str, timeout_ms: int = CONNECT_MS) -> InstanceClient | None:
        """A connection to the running app, or None when none listens under `name` (including
        a stale socket file left by a crashed app: connecting to it is refused at once)."""
        sock = QLocalSocket()
        sock.connectToServer(name)
        if not sock.waitForConnected(timeout_ms):
            sock.abort()
            return None
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


def ping(name: str) -> dict[str, Any] | None:
    client = InstanceClient.connect(name)
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
    client = InstanceClient.connect(name)
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
    client = InstanceClient.connect(name)
    if client is None:
        return False
    with client:
        try:
            reply = client.request({"cmd": "copy", "text": text, "count": count})
        except (InstanceGone, ValueError):
            return False
    return bool(reply.get("ok"))
