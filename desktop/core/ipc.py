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
        -> {"event": "end", "copied": true}

Qt-free: naming and encoding only.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import re
from pathlib import Path
from typing import Any

# Longest line either side accepts: a 25 MB image read from stdin, base64-encoded, plus framing.
MAX_LINE = 40 * 1024 * 1024


class ProtocolError(Exception):
    """A line that is not one JSON object."""


def socket_name(data_dir: Path, user: str | None = None) -> str:
    """One running app per user and data directory: a test (or a second profile) with its own
    data directory gets its own instance. Short, so the Unix socket path stays well under the
    108-byte limit."""
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]
    try:
        who = user or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        who = "user"
    who = re.sub(r"[^A-Za-z0-9_.-]", "_", who)[:24]
    return f"picdrop-{who}-{digest}"


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
