"""The screenshot editor's document: an image and the marks drawn on it (shapes, text, numbered
steps, a crop, redactions), with undo and redo, rendered to flat pixels with Pillow.

Redaction is destructive by construction: the export is the rendered pixels only (no layers, no
metadata), a fill writes one colour over the rectangle, and pixelation replaces each large block
with its mean colour. Qt-free; the editor widget turns mouse input into marks and shows `render()`.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, ImageDraw, ImageFont

from desktop.core.selection import Rect, span

Point = tuple[int, int]
Color = tuple[int, int, int]

RED: Color = (229, 57, 53)
HIGHLIGHT: tuple[int, int, int, int] = (255, 235, 59, 110)
REDACT_FILL: Color = (0, 0, 0)
MIN_BLOCK = 16  # pixelation blocks are never smaller than this, so text cannot be read back
STROKE = 4
TEXT_SIZE = 24
STEP_RADIUS = 16


class Tool(StrEnum):
    RECTANGLE = "rectangle"
    ARROW = "arrow"
    LINE = "line"
    FREEHAND = "freehand"
    TEXT = "text"
    HIGHLIGHT = "highlight"
    STEP = "step"
    CROP = "crop"
    FILL = "fill"  # redaction: one solid colour
    PIXELATE = "pixelate"  # redaction: large flat blocks

    @property
    def is_area(self) -> bool:
        """Tools given by the rectangle between the press and the release."""
        return self in AREA_TOOLS


AREA_TOOLS = {Tool.RECTANGLE, Tool.HIGHLIGHT, Tool.CROP, Tool.FILL, Tool.PIXELATE}


@dataclass(frozen=True)
class Mark:
    """One editing step. `points` are image pixels: two corners for area tools and lines, the
    path for freehand, one point for text and steps."""

    tool: Tool
    points: tuple[Point, ...]
    text: str = ""
    color: Color = RED

    def area(self) -> Rect:
        (ax, ay), (bx, by) = self.points[0], self.points[-1]
        return span(ax, ay, bx, by)


def block_size(area: Rect) -> int:
    """Pixelation blocks: large enough to leave no legible detail in a line of text."""
    return max(MIN_BLOCK, min(area.w, area.h) // 4)


def pixelate(image: Image.Image, area: Rect) -> None:
    """Replace each block of `area` (from its top-left corner) by the block's mean colour."""
    size = block_size(area)
    for top in range(area.y, area.bottom, size):
        for left in range(area.x, area.right, size):
            box = (left, top, min(left + size, area.right), min(top + size, area.bottom))
            block = image.crop(box)
            mean = block.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
            image.paste(mean, box)


def _arrow_head(start: Point, end: Point, length: float) -> list[Point]:
    angle = math.atan2(end[1] - start[1], end[0] - start[0])
    spread = math.radians(28)
    return [
        end,
        (
            round(end[0] - length * math.cos(angle - spread)),
            round(end[1] - length * math.sin(angle - spread)),
        ),
        (
            round(end[0] - length * math.cos(angle + spread)),
            round(end[1] - length * math.sin(angle + spread)),
        ),
    ]


def draw_mark(image: Image.Image, mark: Mark, number: int) -> Image.Image:
    """`image` (RGB) with `mark` applied; `number` is the mark's place among the steps."""
    bounds = Rect(0, 0, image.width, image.height)
    if mark.tool is Tool.CROP:
        area = mark.area().clamped(bounds)
        return image if area.empty else image.crop(area.box())
    if mark.tool is Tool.HIGHLIGHT:
        area = mark.area().clamped(bounds)
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        ImageDraw.Draw(overlay).rectangle(area.box(), fill=HIGHLIGHT)
        return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    if mark.tool is Tool.PIXELATE:
        area = mark.area().clamped(bounds)
        if not area.empty:
            pixelate(image, area)
        return image
    draw = ImageDraw.Draw(image)
    if mark.tool is Tool.FILL:
        area = mark.area().clamped(bounds)
        if not area.empty:
            image.paste(REDACT_FILL, area.box())
    elif mark.tool is Tool.RECTANGLE:
        area = mark.area()
        if not area.empty:
            draw.rectangle((area.x, area.y, area.right - 1, area.bottom - 1), outline=mark.color,
                           width=STROKE)  # fmt: skip
    elif mark.tool in (Tool.LINE, Tool.ARROW):
        start, end = mark.points[0], mark.points[-1]
        draw.line([start, end], fill=mark.color, width=STROKE)
        if mark.tool is Tool.ARROW and start != end:
            draw.polygon(_arrow_head(start, end, 6 * STROKE), fill=mark.color)
    elif mark.tool is Tool.FREEHAND:
        draw.line(list(mark.points), fill=mark.color, width=STROKE, joint="curve")
    elif mark.tool is Tool.TEXT:
        font = ImageFont.load_default(size=TEXT_SIZE)
        draw.text(mark.points[0], mark.text, fill=mark.color, font=font)
    elif mark.tool is Tool.STEP:
        x, y = mark.points[0]
        r = STEP_RADIUS
        draw.ellipse((x - r, y - r, x + r, y + r), fill=mark.color)
        font = ImageFont.load_default(size=TEXT_SIZE - 4)
        draw.text((x, y), str(number), fill=(255, 255, 255), font=font, anchor="mm")
    return image


class MarkupDocument:
    """The captured image and the marks on it, applied in order: a mark's points are in the
    coordinates of the image as it was when the mark was made (after any crop before it)."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image.convert("RGB")
        self._marks: list[Mark] = []
        self._undone: list[Mark] = []
        # The committed marks rendered: a mark being dragged is drawn on a copy of this.
        self._rendered: Image.Image | None = None

    @property
    def marks(self) -> tuple[Mark, ...]:
        return tuple(self._marks)

    def add(self, mark: Mark) -> None:
        self._marks.append(mark)
        self._undone.clear()
        self._rendered = None

    def can_undo(self) -> bool:
        return bool(self._marks)

    def can_redo(self) -> bool:
        return bool(self._undone)

    def undo(self) -> None:
        if self._marks:
            self._undone.append(self._marks.pop())
            self._rendered = None

    def redo(self) -> None:
        if self._undone:
            self._marks.append(self._undone.pop())
            self._rendered = None

    def next_step(self) -> int:
        return 1 + sum(m.tool is Tool.STEP for m in self._marks)

    def render(self, extra: Mark | None = None) -> Image.Image:
        """The flat result; `extra` is a mark being drawn (shown, not yet added)."""
        if self._rendered is None:
            image = self.image.copy()
            steps = 0
            for mark in self._marks:
                steps += mark.tool is Tool.STEP
                image = draw_mark(image, mark, steps)
            self._rendered = image
        if extra is None:
            return self._rendered.copy()
        return draw_mark(self._rendered.copy(), extra, self.next_step())

    def export_png(self) -> bytes:
        """The rendered pixels as a PNG, with no metadata: nothing under a redaction survives."""
        out = io.BytesIO()
        self.render().save(out, "PNG")
        return out.getvalue()
