"""Pixel, frame and structure budgets, checked from headers and container walks before
anything is decoded."""

from __future__ import annotations

from dataclasses import dataclass

from backend.images.errors import TooComplex, TooManyFrames, TooManyPixels


@dataclass(frozen=True)
class Limits:
    """What one upload may cost to decode. Byte limits belong to the HTTP layer."""

    max_side: int = 16384
    max_pixels: int = 50_000_000
    max_frames: int = 500
    # Sum over frames of the canvas each frame is composed onto: what a decoder really produces.
    max_total_pixels: int = 500_000_000
    # A decoder redoes a progressive JPEG's work once per scan, over the whole image, so copied
    # scans multiply the cost. Encoders write at most 18 (libjpeg: 10 for colour photos, 6 for
    # grey, 14 for RGB and 18 for CMYK; mozjpeg and Photoshop fewer); 32 leaves room.
    max_scans: int = 32
    # JPEG marker segments, PNG chunks, WebP chunks (frames' inner chunks included) and GIF
    # blocks: each is a step of our own walkers and of the decoder. Real files have a few dozen
    # to a few thousand (a 25 MB PNG in 8 KB IDAT chunks: 3,200).
    max_chunks: int = 100_000
    # GIF data sub-blocks (at most 255 bytes each): 100,000 in a 25 MB GIF, millions when an
    # attacker writes them one byte long.
    max_sub_blocks: int = 1_000_000


def count(n: int) -> str:
    """A pixel count as people say it: '900 million', '2.5 million', '40,000'."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}".removesuffix(".0") + " million"
    return f"{n:,}"


def check_size(width: int, height: int, limits: Limits) -> None:
    if width > limits.max_side or height > limits.max_side:
        raise TooManyPixels(
            f"This image is {width}×{height} pixels; "
            f"the limit is {limits.max_side} pixels per side."
        )
    if width * height > limits.max_pixels:
        raise TooManyPixels(
            f"This image has {count(width * height)} pixels ({width}×{height}); "
            f"the limit is {count(limits.max_pixels)}."
        )


def check_frame_count(frames: int, limits: Limits) -> None:
    """Called while frames are being counted, so walkers can stop at the first one too many."""
    if frames > limits.max_frames:
        raise TooManyFrames(
            f"This animation has more than {limits.max_frames} frames; "
            f"the limit is {limits.max_frames}."
        )


def check_parts(found: int, limit: int, fmt: str, what: str) -> None:
    """Called while walking a container, so walkers stop at the first part too many."""
    if found > limit:
        raise TooComplex(
            f"This {fmt} has more than {limit:,} {what}; at most {limit:,} are allowed."
        )


def check_total(frames: int, width: int, height: int, limits: Limits) -> None:
    total = frames * width * height
    if total > limits.max_total_pixels:
        raise TooManyFrames(
            f"This animation has {frames} frames of {width}×{height} pixels, "
            f"{count(total)} pixels in all; the limit is {count(limits.max_total_pixels)}."
        )
