"""One running app per user and data directory: the app listens on a local socket
(QLocalServer); a second launch finds it there and hands over its files instead of starting.

The address comes from `core.ipc.instance_address` (on Unix, a socket in a private directory).
A crash leaves the socket file behind (on Unix); since nobody answers on it, the next launch
removes it and listens again, as it does when another user's process listens there. A lock file
beside the socket, around "is anyone there? then I listen", keeps two simultaneous launches from
both becoming the running app.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QDir, QLockFile, QObject, Signal, Slot
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket

from desktop.core.ipc import MAX_LINE, ProtocolError, decode, encode
from desktop.instance_client import ping

log = logging.getLogger(__name__)

LOCK_WAIT_MS = 10_000


class Peer(QObject):
    """One connected process. Messages arrive as `message(dict)`; `send` answers."""

    message = Signal(object)
    disconnected = Signal()

    def __init__(self, sock: QLocalSocket, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.sock = sock
        sock.setParent(self)
        sock.readyRead.connect(self._read)
        sock.disconnected.connect(self._on_disconnected)

    @property
    def connected(self) -> bool:
        return self.sock.state() == QLocalSocket.LocalSocketState.ConnectedState

    def send(self, message: dict) -> None:
        if self.connected:
            self.sock.write(encode(message))
            self.sock.flush()

    def close(self) -> None:
        if self.connected:
            self.sock.disconnectFromServer()

    @Slot()
    def _read(self) -> None:
        while self.sock.canReadLine():
            line = bytes(self.sock.readLine().data())
            try:
                message = decode(line)
            except ProtocolError as exc:
                self.send({"ok": False, "error": str(exc)})
                self.close()
                return
            self.message.emit(message)
        if self.sock.bytesAvailable() > MAX_LINE:
            self.send({"ok": False, "error": "message too long"})
            self.close()

    @Slot()
    def _on_disconnected(self) -> None:
        self.disconnected.emit()
        self.deleteLater()


class InstanceServer(QObject):
    request = Signal(object, object)  # Peer, message

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.server = QLocalServer(self)
        # Unix: the socket is made accessible to this user only.
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._on_new_connection)
        self.replaced_stale = False

    def listen(self) -> None:
        if self.server.listen(self.name):
            return
        if self.server.serverError() == QAbstractSocket.SocketError.AddressInUseError:
            # Nobody answered on it (the caller checked): a crashed instance left it behind.
            log.info("replacing the stale socket %s of an instance that did not exit", self.name)
            QLocalServer.removeServer(self.name)
            self.replaced_stale = True
            if self.server.listen(self.name):
                return
        raise RuntimeError(f"cannot listen on {self.name}: {self.server.errorString()}")

    def close(self) -> None:
        self.server.close()

    @Slot()
    def _on_new_connection(self) -> None:
        while self.server.hasPendingConnections():
            peer = Peer(self.server.nextPendingConnection(), self)
            peer.message.connect(lambda message, p=peer: self.request.emit(p, message))


def lock_path(address: str) -> Path:
    """Beside the socket, in the same private directory; beside nothing on Windows (a pipe is
    no file), so in the user's own temp directory."""
    path = Path(address)
    if path.is_absolute():
        return path.with_name(f"{path.name}.lock")
    return Path(QDir.tempPath()) / f"{address}.lock"


def claim(name: str) -> InstanceServer | None:
    """Become the running instance (listening under `name`), or None when another one answers."""
    lock = QLockFile(str(lock_path(name)))
    lock.setStaleLockTime(0)  # stale only when its process is gone, never by age
    if not lock.tryLock(LOCK_WAIT_MS):
        raise RuntimeError(f"another picdrop is starting and holds {lock_path(name)}")
    try:
        if ping(name) is not None:
            return None
        server = InstanceServer(name)
        server.listen()
        return server
    finally:
        lock.unlock()
