"""A bar chart of how far each benchmark target is reached, drawn with Pillow.

One bar per row that has a target: its length is the row's score (1.0 exactly at the target,
longer is better; `Row.score`), green when met, red when missed, with the figure and the target
written beside it. Ratios are what compare across runs, so that is what is drawn.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bench.harness import Row

WIDTH = 1100
ROW_HEIGHT = 44
LABEL_WIDTH = 430
BAR_MAX = 3.0  # scores above this are drawn at this length (and say so)
GREEN, RED, GREY, INK = (46, 160, 67), (207, 34, 46), (140, 140, 140), (30, 30, 30)


def _font(size: int) -> ImageFont.ImageFont:
    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def _figure(row: Row) -> str:
    if row.goal and row.goal[1] == "ratio" and row.ratio is not None:
        return f"{row.ratio:.2f}x {row.reference}  (target {row.target})"
    return f"{row.value:,.1f} {row.unit}  (target {row.target})"


def plot(rows: list[Row], path: Path, title: str) -> None:
    scored = [r for r in rows if r.score is not None]
    top, bottom = 60, 40
    height = top + bottom + ROW_HEIGHT * max(1, len(scored))
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    font, small, bold = _font(15), _font(13), _font(18)
    draw.text((20, 16), title, fill=INK, font=bold)
    scale = (WIDTH - LABEL_WIDTH - 40) / BAR_MAX
    x0 = LABEL_WIDTH
    for i, row in enumerate(scored):
        y = top + i * ROW_HEIGHT
        label = f"{row.bench}: {row.metric}"
        draw.text((20, y + 2), label[:50], fill=INK, font=font)
        text = _figure(row) + ("  (bar cut off)" if (row.score or 0) > BAR_MAX else "")
        draw.text((20, y + 22), text, fill=GREY, font=small)
        score = min(row.score or 0.0, BAR_MAX)
        colour = GREEN if row.met else RED
        draw.rectangle((x0, y + 8, x0 + score * scale, y + ROW_HEIGHT - 8), fill=colour)
    # The target line: score 1.0.
    x1 = x0 + scale
    draw.line((x1, top - 8, x1, height - bottom + 4), fill=GREY, width=2)
    draw.text((x1 - 40, height - bottom + 8), "target (1.0)", fill=GREY, font=small)
    draw.text(
        (20, height - bottom + 8),
        "bar = measured / target (inverted for upper limits); longer is better",
        fill=GREY,
        font=small,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, optimize=True)
