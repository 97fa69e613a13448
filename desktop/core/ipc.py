"""What picdrop processes on one machine say to each other: a second launch or the `picdrop`
command talking to the running app over a local socket (QLocalServer / QLocalSocket).

One JSON object per line (UTF-8). A request has a "cmd"; the app answers with one line, or, for
"upload", with a stream of event lines ending in {"event": "end"}:

    {"cmd": "ping"}                                  -> {"ok": true, "pid": 123, "version": "…"}
    {"cmd": "open", "files": ["/abs/a.png"]}         -> {"ok": true}   (queue them, raise window)
    {"cmd": "copy", "text": "…", "count": 2}         -> {"ok": true}   (the app owns the clipboard)
    {"cmd": "upload", "items": [{"path": "/abs/a.png"} | {"name": "x.png", "data": "<base64>"}],
     "expires": "1d" | null, "copy": true, "format": "url"}
        -> {"event": "progress", "index": 0, "sent": 1024, "total": 4096}
        -> {"event": "status", "index": 0, "text": "Cannot reach … — retrying in 2 s"}
        -> {"event": "done", "index": 0, "result": {…everything the server returned…}}
        -> {"event": "failed", "index": 1, "error": "…", "unreachable": false}
        -> {"event": "end", "copied": true, "server": "<where the files went>"}
    {"cmd": "capture", "mode": "region" | "window" | "screen" | "all", "delay": 0, "upload": true}
        -> one line when the capture (and the editor, if Settings open it) is over:
           {"event": "done", "result": {…}} | {"event": "copied" | "saved" | "cancelled"}
           | {"event": "failed", "error": "…", "unreachable": false}

Where: on Unix a socket in a directory only this user can enter (never a predictable name in
the shared temp directory, where another local user could listen first and receive every
launch's files); the client also checks that the process listening runs as this user before it
sends anything. On Windows a named pipe that the server restricts to this user.

Qt-free: naming, checking and encoding only.
"""

from __future__ import annotations

import ctypes
import getpass
import hashlib
import json
import os
import re
import socket
import stat
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any

import platformdirs

from desktop import APP_NAME

# Longest line either side accepts: a 25 MB image read from stdin, base64-encoded, plus framing.
MAX_LINE = 40 * 1024 * 1024


class ProtocolError(Exception):
    """A line that is not one JSON object."""


class UnsafeRuntimeDir(Exception):
    """The directory for the instance socket cannot be made private to this user."""


def _digest(data_dir: Path) -> str:
    return hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]


def socket_name(data_dir: Path, user: str | None = None) -> str:
    """The Windows pipe name: one running app per user and data directory (a test, or a second
    profile, with its own data directory gets its own instance)."""
    try:
        who = user or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        who = "user"
    who = re.sub(r"[^A-Za-z0-9_.-]", "_", who)[:24]
    return f"picdrop-{who}-{_digest(data_dir)}"


def instance_address(data_dir: Path) -> str:
    """What the running app listens on and the others connect to: on Unix the full path of a
    socket in `private_runtime_dir()` (short, to stay under the 104/108-byte limit); on
    Windows a pipe name. Raises UnsafeRuntimeDir."""
    if sys.platform == "win32":
        return socket_name(data_dir)
    name = f"instance-{_digest(data_dir)}"
    return str(private_runtime_dir(len(name) + 1) / name)


# sun_path holds 108 bytes on Linux, 104 on macOS and the BSDs, the terminating NUL included.
SOCKET_PATH_MAX = 107 if sys.platform.startswith("linux") else 103


def private_runtime_dir(room: int = 0) -> Path:
    """A directory only this user can enter, created 0700 and checked: `$XDG_RUNTIME_DIR/picdrop`
    when $XDG_RUNTIME_DIR is itself private, else `run` in the user's cache directory; when that
    leaves fewer than `room` bytes of a socket path, `picdrop-UID` in the temp directory (as tmux
    does: another user who made it first keeps picdrop from starting, but receives nothing)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime) and is_private_dir(Path(runtime)):
        candidate = Path(runtime) / APP_NAME
    else:
        candidate = Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "run"
    if len(os.fsencode(candidate)) + room > SOCKET_PATH_MAX:
        candidate = Path(tempfile.gettempdir()) / f"{APP_NAME}-{os.getuid()}"
    return ensure_private_dir(candidate)


def is_private_dir(path: Path) -> bool:
    """A real directory (not a symlink), owned by this user, that nobody else may enter."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and not info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    )


def ensure_private_dir(path: Path) -> Path:
    """`path`, created with mode 0700 if missing; UnsafeRuntimeDir unless is_private_dir."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise UnsafeRuntimeDir(f"cannot create {path}: {exc.strerror or exc}") from exc
    if not is_private_dir(path):
        raise UnsafeRuntimeDir(
            f"{path} is not private: it must be a directory (not a link) owned by this user "
            "that no one else can enter (mode 0700)"
        )
    return path


def peer_uid(fd: int) -> int | None:
    """The user id of the process at the other end of the connected Unix socket `fd`; None on
    Windows, where the pipe itself admits only this user. OSError when it cannot be told."""
    if sys.platform == "win32":
        return None
    sock = socket.socket(fileno=fd)
    try:
        if hasattr(socket, "SO_PEERCRED"):  # Linux: struct ucred {pid, uid, gid}
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            return struct.unpack("3i", creds)[1]
        return _getpeereid(fd)  # macOS, the BSDs
    finally:
        sock.detach()  # the descriptor stays the caller's


def _getpeereid(fd: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = ctypes.c_uint32(), ctypes.c_uint32()
    if libc.getpeereid(fd, ctypes.byref(uid), ctypes.byref(gid)) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    return uid.value


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"not a JSON line: {exc}") from exc
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    return message
