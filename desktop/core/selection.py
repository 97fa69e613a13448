"""The capture overlay's selection as plain geometry: a rectangle of screen pixels that the user
drags out, then moves and resizes by its handles or with the arrow keys, always kept on screen.

Qt-free: the overlay widget turns mouse and key events into these calls and paints the result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


@dataclass(frozen=True)
class Rect:
    """`w` × `h` pixels from (`x`, `y`); the right and bottom edges are exclusive."""

    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def empty(self) -> bool:
        return self.w <= 0 or self.h <= 0

    def contains(self, px: int, py: int) -> bool:
        return self.x <= px < self.right and self.y <= py < self.bottom

    def box(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom), as Pillow wants it."""
        return (self.x, self.y, self.right, self.bottom)

    def clamped(self, bounds: Rect) -> Rect:
        """Cut to `bounds` (an empty rectangle when they do not overlap)."""
        left, top = max(self.x, bounds.x), max(self.y, bounds.y)
        right, bottom = min(self.right, bounds.right), min(self.bottom, bounds.bottom)
        return Rect(left, top, max(0, right - left), max(0, bottom - top))


def span(ax: int, ay: int, bx: int, by: int) -> Rect:
    """The rectangle between two corner points, the second exclusive: dragging from (10, 10)
    to (110, 60) selects 100 × 50 pixels, in whichever direction the drag went."""
    left, right = sorted((ax, bx))
    top, bottom = sorted((ay, by))
    return Rect(left, top, right - left, bottom - top)


class Handle(StrEnum):
    """What a press on the selection grabs: a corner, an edge, or the inside (to move it)."""

    TOP_LEFT = "nw"
    TOP = "n"
    TOP_RIGHT = "ne"
    RIGHT = "e"
    BOTTOM_RIGHT = "se"
    BOTTOM = "s"
    BOTTOM_LEFT = "sw"
    LEFT = "w"
    MOVE = "move"


def handle_points(rect: Rect) -> dict[Handle, tuple[int, int]]:
    """Where each resize handle is drawn (and grabbed)."""
    cx, cy = rect.x + rect.w // 2, rect.y + rect.h // 2
    r, b = rect.right, rect.bottom
    return {
        Handle.TOP_LEFT: (rect.x, rect.y),
        Handle.TOP: (cx, rect.y),
        Handle.TOP_RIGHT: (r, rect.y),
        Handle.RIGHT: (r, cy),
        Handle.BOTTOM_RIGHT: (r, b),
        Handle.BOTTOM: (cx, b),
        Handle.BOTTOM_LEFT: (rect.x, b),
        Handle.LEFT: (rect.x, cy),
    }


def hit(rect: Rect, px: int, py: int, slop: int = 6) -> Handle | None:
    """The handle under (px, py): a handle within `slop` pixels, else MOVE inside, else None."""
    if rect.empty:
        return None
    for handle, (hx, hy) in handle_points(rect).items():
        if abs(px - hx) <= slop and abs(py - hy) <= slop:
            return handle
    return Handle.MOVE if rect.contains(px, py) else None


def drag(start: Rect, handle: Handle, dx: int, dy: int, bounds: Rect) -> Rect:
    """`start` with `handle` dragged by (dx, dy), kept inside `bounds`. Moving keeps the size;
    resizing past the opposite edge flips the rectangle instead of making it negative."""
    if handle is Handle.MOVE:
        x = min(max(start.x + dx, bounds.x), bounds.right - start.w)
        y = min(max(start.y + dy, bounds.y), bounds.bottom - start.h)
        return replace(start, x=x, y=y)
    left, top, right, bottom = start.box()
    if handle in (Handle.TOP_LEFT, Handle.LEFT, Handle.BOTTOM_LEFT):
        left += dx
    if handle in (Handle.TOP_RIGHT, Handle.RIGHT, Handle.BOTTOM_RIGHT):
        right += dx
    if handle in (Handle.TOP_LEFT, Handle.TOP, Handle.TOP_RIGHT):
        top += dy
    if handle in (Handle.BOTTOM_LEFT, Handle.BOTTOM, Handle.BOTTOM_RIGHT):
        bottom += dy
    return span(left, top, right, bottom).clamped(bounds)


# Arrow keys: (dx, dy) per press.
ARROWS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


def nudge(rect: Rect, arrow: str, bounds: Rect, *, resize: bool = False, step: int = 1) -> Rect:
    """An arrow key on the selection: move it by `step` pixels, or (`resize`, with Shift) move
    its right or bottom edge, growing or shrinking it; never below one pixel, never off screen."""
    dx, dy = ARROWS[arrow]
    dx, dy = dx * step, dy * step
    if not resize:
        return drag(rect, Handle.MOVE, dx, dy, bounds)
    w = min(max(1, rect.w + dx), bounds.right - rect.x)
    h = min(max(1, rect.h + dy), bounds.bottom - rect.y)
    return replace(rect, w=w, h=h)
