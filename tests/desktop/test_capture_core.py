"""The Qt-free parts of capturing: the overlay's selection geometry and the editor's document
(marks, undo/redo, destructive redaction)."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image, ImageChops

from desktop.core.markup import Mark, MarkupDocument, Tool, block_size
from desktop.core.selection import Handle, Rect, drag, hit, nudge, span

SCREEN = Rect(0, 0, 1024, 768)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((10, 10), (110, 60), Rect(10, 10, 100, 50)),
        ((110, 60), (10, 10), Rect(10, 10, 100, 50)),
        ((5, 5), (5, 9), Rect(5, 5, 0, 4)),
    ],
)
def test_span_is_the_rectangle_between_two_corners(a, b, expected) -> None:
    assert span(*a, *b) == expected


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ((100, 100), Handle.TOP_LEFT),
        ((300, 200), Handle.BOTTOM_RIGHT),
        ((200, 102), Handle.TOP),
        ((298, 150), Handle.RIGHT),
        ((150, 150), Handle.MOVE),
        ((50, 50), None),
    ],
)
def test_a_press_grabs_the_handle_under_it(point, expected) -> None:
    assert hit(Rect(100, 100, 200, 100), *point) is expected


@pytest.mark.parametrize(
    ("handle", "delta", "expected"),
    [
        (Handle.MOVE, (10, -5), Rect(110, 95, 200, 100)),
        (Handle.MOVE, (-500, 0), Rect(0, 100, 200, 100)),  # stops at the screen's edge
        (Handle.MOVE, (0, 900), Rect(100, 668, 200, 100)),
        (Handle.BOTTOM_RIGHT, (20, 30), Rect(100, 100, 220, 130)),
        (Handle.TOP_LEFT, (-10, -20), Rect(90, 80, 210, 120)),
        (Handle.LEFT, (250, 7), Rect(300, 100, 50, 100)),  # past the right edge: flipped
        (Handle.BOTTOM, (0, 900), Rect(100, 100, 200, 668)),  # never off screen
    ],
)
def test_dragging_a_handle_moves_or_resizes_on_screen(handle, delta, expected) -> None:
    assert drag(Rect(100, 100, 200, 100), handle, *delta, SCREEN) == expected


@pytest.mark.parametrize(
    ("arrow", "resize", "step", "expected"),
    [
        ("left", False, 1, Rect(99, 100, 200, 100)),
        ("down", False, 10, Rect(100, 110, 200, 100)),
        ("right", True, 1, Rect(100, 100, 201, 100)),
        ("up", True, 1, Rect(100, 100, 200, 99)),
    ],
)
def test_arrow_keys_move_or_resize_by_pixels(arrow, resize, step, expected) -> None:
    assert nudge(Rect(100, 100, 200, 100), arrow, SCREEN, resize=resize, step=step) == expected


def test_arrow_keys_never_shrink_below_one_pixel_nor_leave_the_screen() -> None:
    assert nudge(Rect(0, 0, 1, 1), "left", SCREEN, resize=True) == Rect(0, 0, 1, 1)
    assert nudge(Rect(0, 0, 5, 5), "up", SCREEN) == Rect(0, 0, 5, 5)
    assert nudge(Rect(1000, 0, 24, 5), "right", SCREEN, resize=True) == Rect(1000, 0, 24, 5)


# -- the editor's document ----------------------------------------------------------------------
def secret(width: int = 200, height: int = 120, seed: int = 7) -> Image.Image:
    """Noise: no two blocks alike, no block flat."""
    rng = random.Random(seed)
    return Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))


def decoded(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def flat(image: Image.Image) -> bool:
    return image.getcolors(maxcolors=1) is not None  # None: more colours than that


def outside_unchanged(before: Image.Image, after: Image.Image, area: Rect) -> bool:
    mask = Image.new("L", before.size, 255)
    mask.paste(0, area.box())
    diff = ImageChops.difference(before, after)
    return Image.composite(diff, Image.new("RGB", before.size), mask).getbbox() is None


def test_a_fill_leaves_one_colour_and_nothing_else_changes() -> None:
    original = secret()
    area = Rect(30, 20, 90, 50)
    doc = MarkupDocument(original)
    doc.add(Mark(Tool.FILL, ((30, 20), (120, 70))))
    out = decoded(doc.export_png())
    assert flat(out.crop(area.box()))
    assert outside_unchanged(original, out, area)


def test_pixelation_leaves_large_flat_blocks_none_equal_to_the_original() -> None:
    original = secret()
    area = Rect(10, 10, 150, 90)
    doc = MarkupDocument(original)
    doc.add(Mark(Tool.PIXELATE, ((160, 100), (10, 10))))  # dragged up-left
    out = decoded(doc.export_png())
    size = block_size(area)
    assert size >= 16
    for top in range(area.y, area.bottom, size):
        for left in range(area.x, area.right, size):
            box = (left, top, min(left + size, area.right), min(top + size, area.bottom))
            assert flat(out.crop(box)), box
            assert out.crop(box).tobytes() != original.crop(box).tobytes(), box
    assert outside_unchanged(original, out, area)


@pytest.mark.parametrize(
    ("mark", "where"),
    [
        (Mark(Tool.RECTANGLE, ((20, 20), (80, 60))), (21, 40)),
        (Mark(Tool.ARROW, ((20, 100), (150, 30))), (148, 31)),
        (Mark(Tool.LINE, ((10, 10), (100, 10))), (50, 10)),
        (Mark(Tool.FREEHAND, ((10, 50), (40, 60), (70, 50))), (40, 60)),
        (Mark(Tool.TEXT, ((20, 30),), text="HELLO"), None),
        (Mark(Tool.STEP, ((100, 60),)), (100 - 10, 60)),
        (Mark(Tool.HIGHLIGHT, ((0, 0), (50, 50))), (25, 25)),
    ],
)
def test_a_mark_changes_the_pixels_where_it_is_drawn_and_undo_removes_it(mark, where) -> None:
    blank = Image.new("RGB", (200, 120), "white")
    doc = MarkupDocument(blank)
    doc.add(mark)
    drawn = doc.render()
    changed = ImageChops.difference(blank, drawn).getbbox()
    assert changed is not None
    if where is not None:
        assert drawn.getpixel(where) != (255, 255, 255)
    doc.undo()
    assert ImageChops.difference(blank, doc.render()).getbbox() is None
    doc.redo()
    assert doc.render().tobytes() == drawn.tobytes()


def test_crop_cuts_the_image_and_later_marks_are_in_its_coordinates() -> None:
    doc = MarkupDocument(Image.new("RGB", (200, 120), "white"))
    doc.add(Mark(Tool.CROP, ((50, 20), (150, 100))))
    doc.add(Mark(Tool.FILL, ((0, 0), (10, 10))))
    out = doc.render()
    assert out.size == (100, 80)
    assert out.getpixel((5, 5)) == (0, 0, 0)
    assert out.getpixel((50, 50)) == (255, 255, 255)


def test_numbered_steps_count_up_and_a_new_mark_clears_redo() -> None:
    doc = MarkupDocument(Image.new("RGB", (200, 120), "white"))
    doc.add(Mark(Tool.STEP, ((30, 30),)))
    assert doc.next_step() == 2
    doc.add(Mark(Tool.STEP, ((90, 30),)))
    doc.undo()
    assert doc.can_redo()
    doc.add(Mark(Tool.LINE, ((0, 0), (5, 5))))
    assert not doc.can_redo()
    assert doc.next_step() == 2


def test_a_mark_being_drawn_is_shown_but_not_kept() -> None:
    doc = MarkupDocument(Image.new("RGB", (200, 120), "white"))
    doc.add(Mark(Tool.STEP, ((30, 30),)))
    before = doc.render()
    preview = doc.render(Mark(Tool.FILL, ((0, 0), (50, 50))))
    assert preview.getpixel((45, 45)) == (0, 0, 0)
    assert doc.render().tobytes() == before.tobytes()
    assert doc.render(Mark(Tool.STEP, ((120, 60),))).getpixel((120, 60)) != (255, 255, 255)
