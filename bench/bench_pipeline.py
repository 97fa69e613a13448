"""Timings of the image pipeline, each next to Pillow's full decode of the same image.

    python -m bench.bench_pipeline          # prints every step of every image
    from bench.bench_pipeline import run    # rows for `make bench`

Every figure is the median of several runs in this process. The reference is a full Pillow
decode (`Image.open(...).load()`, every frame for animations: the work that "decoding the
image" means), measured in the same run, so ratios compare across machines.
"""

from __future__ import annotations

import hashlib
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageSequence

from backend.images import (
    Limits,
    make_thumbnail,
    probe,
    process,
    strip_metadata,
    verify_decode,
)
from bench.harness import Row
from tests.backend import imagesamples

RUNS = 7


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm caches and lazy imports
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _full_decode(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        for frame in ImageSequence.Iterator(image):
            frame.load()


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def samples() -> dict[str, bytes]:
    """The benchmark images: two camera-like JPEGs, a screenshot-like PNG, an animated GIF."""
    exif = imagesamples.exif_bytes(orientation=6)
    return {
        "JPEG 1920x1080": _save(imagesamples.photo((1920, 1080)), "JPEG", quality=90),
        "JPEG 4000x3000 (12 MP, EXIF)": _save(
            imagesamples.photo((4000, 3000)),
            "JPEG",
            quality=90,
            exif=exif,
            xmp=imagesamples.XMP_PACKET,
            icc_profile=imagesamples.srgb_icc(),
        ),
        "PNG 1920x1080": _save(imagesamples.picture((1920, 1080)), "PNG"),
        "GIF 320x240, 30 frames": imagesamples.animated_gif(30, (320, 240)),
    }


def measure(runs: int = RUNS) -> list[dict[str, object]]:
    """One row per (image, step): name, metric, value_ms, reference_ms, ratio."""
    limits = Limits()
    rows: list[dict[str, object]] = []
    for name, data in samples().items():
        info = probe(data, limits)
        stripped = strip_metadata(data, info).data
        steps: dict[str, Callable[[], object]] = {
            "probe": lambda d=data: probe(d, limits),
            "strip": lambda d=data, i=info: strip_metadata(d, i),
            "verify": lambda d=stripped, i=info: verify_decode(d, i, limits),
            "thumbnail": lambda d=stripped: make_thumbnail(d),
            "sha256": lambda d=stripped: hashlib.sha256(d).hexdigest(),
            "process": lambda d=data: process(d, limits),
        }
        reference = _median_ms(lambda d=data: _full_decode(d), runs)
        label = f"{name}, {len(data) / 1e6:.2f} MB"
        for metric, fn in steps.items():
            value = _median_ms(fn, runs)
            rows.append(
                {
                    "name": label,
                    "metric": metric,
                    "value_ms": round(value, 3),
                    "reference_ms": round(reference, 3),
                    "ratio": round(value / reference, 3),
                }
            )
    return rows


def run(runs: int = RUNS) -> list[Row]:
    """Rows for the suite's table: per image the upload path (`process`: probe, strip, verify by
    a reduced decode, SHA-256, perceptual hash) and the thumbnail (made on first view, off the
    upload path), each against Pillow's full decode; and the strip step of the 12 MP JPEG."""
    rows = []
    for m in measure(runs):
        name, metric = str(m["name"]), m["metric"]
        short = name.split(",")[0] if "12 MP" not in name else "JPEG 12 MP"
        bench = f"pipeline {short}"
        value, ref = float(m["value_ms"]), float(m["reference_ms"])
        if metric == "process":
            rows.append(
                Row(bench, "upload path", value, "ms", "full decode",
                    ref, target="<= 0.6x", goal=("<=", "ratio", 0.6))
            )  # fmt: skip
        elif metric == "thumbnail":
            rows.append(Row(bench, "thumbnail (on first view)", value, "ms", "full decode", ref))
        elif metric == "strip" and "12 MP" in name:
            rows.append(
                Row(bench, "metadata strip", value, "ms", "full decode", ref,
                    target="<= 2 ms", goal=("<=", "value", 2.0))
            )  # fmt: skip
    return rows


def main() -> None:
    rows = measure()
    print(f"{'image':<42} {'step':<10} {'ms':>9} {'decode ms':>10} {'ratio':>7}")
    for row in rows:
        print(
            f"{row['name']:<42} {row['metric']:<10} {row['value_ms']:>9.2f} "
            f"{row['reference_ms']:>10.2f} {row['ratio']:>7.3f}"
        )


if __name__ == "__main__":
    main()
