"""Text from elsewhere (a server's answer, a history row) made safe to show: every control
character written out as a visible escape, so a hostile server cannot retitle or clear a
terminal, forge lines, or reorder what a label shows.

The escapes are JSON's (`\\u001b`), so escaping a JSON line keeps it valid JSON.
"""

from __future__ import annotations

import re

# C0, DEL and C1 controls, the line and paragraph separators, and the bidirectional embeddings,
# overrides and isolates (which make text display in an order other than it reads).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with every control character replaced by a visible \\uXXXX escape."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def is_printable(text: str) -> bool:
    """True when `text` holds no character that `printable` would escape."""
    return _UNSAFE.search(text) is None
