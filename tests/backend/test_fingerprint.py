"""The perceptual hash behind the blocklist: copies match, distinct pictures do not.

`test_false_positive_rate` measures the rate on 240 distinct pictures at the default
PICDROP_BLOCK_DISTANCE and prints it (docs/SECURITY.md quotes the figure).
"""

from __future__ import annotations

import io
import itertools

import pytest
from PIL import Image

from backend.images import Limits, process
from backend.images.fingerprint import BITS, distance
from backend.settings import Settings
from tests.backend import imagesamples as samples

THRESHOLD = Settings().block_distance
LIMITS = Limits()


def dhash(data: bytes) -> str:
    result = process(data, LIMITS).dhash
    assert result is not None
    return result


def variants(image: Image.Image) -> dict[str, bytes]:
    w, h = image.size
    rotated = samples.encode(image.transpose(Image.Transpose.ROTATE_90), quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": the camera's way of storing it
    return {
        "jpeg q40": samples.encode(image, quality=40),
        "half size jpeg": samples.encode(image.resize((w // 2, h // 2)), quality=75),
        "quarter size png": samples.encode(image.resize((w // 4, h // 4)), "PNG"),
        "webp q50": samples.encode(image, "WEBP", quality=50),
        "1.5x upscaled": samples.encode(image.resize((w * 3 // 2, h * 3 // 2)), quality=85),
        "256-colour gif": samples.encode(image.convert("P", palette=Image.Palette.ADAPTIVE), "GIF"),
        "greyscale": samples.encode(image.convert("L"), quality=90),
        "stored rotated + EXIF orientation": _with_exif(rotated, exif),
    }


def _with_exif(jpeg: bytes, exif: Image.Exif) -> bytes:
    with Image.open(io.BytesIO(jpeg)) as im:
        out = io.BytesIO()
        im.save(out, "JPEG", quality=95, exif=exif.tobytes())
        return out.getvalue()


def test_copies_stay_within_the_threshold():
    worst: dict[str, int] = {}
    for seed in range(30):
        image = samples.varied_picture(seed)
        original = dhash(samples.encode(image, quality=92))
        for name, data in variants(image).items():
            worst[name] = max(worst.get(name, 0), distance(original, dhash(data)))
    print(f"\nworst distance of a copy (threshold {THRESHOLD}): {worst}")
    assert max(worst.values()) <= THRESHOLD, worst


def test_false_positive_rate():
    hashes = [
        dhash(samples.encode(samples.varied_picture(seed), quality=90)) for seed in range(240)
    ]
    distances = [distance(a, b) for a, b in itertools.combinations(hashes, 2)]
    false_positives = sum(d <= THRESHOLD for d in distances)
    rate = false_positives / len(distances)
    print(
        f"\nperceptual hash: {len(hashes)} distinct pictures, {len(distances)} pairs; "
        f"closest pair {min(distances)} of {BITS} bits apart; at threshold {THRESHOLD}: "
        f"{false_positives} false positives (rate {rate:.2e})"
    )
    assert len(set(hashes)) == len(hashes)
    assert rate < 1e-4
    # The margin: the closest distinct pictures are well beyond the threshold.
    assert min(distances) > THRESHOLD + 4


@pytest.mark.parametrize(
    "build",
    [
        lambda: Image.new("RGB", (300, 200), (40, 90, 200)),
        lambda: Image.new("L", (300, 200), 0),
        lambda: Image.linear_gradient("L").resize((300, 200)).point(lambda v: 100 + v // 128),
    ],
    ids=["flat colour", "black", "faint gradient"],
)
def test_plain_pictures_get_no_hash(build):
    """Blocking a plain picture would block every other plain picture."""
    assert process(samples.encode(build(), "PNG"), LIMITS).dhash is None


@pytest.mark.parametrize(
    "build",
    [
        samples.palette_png_with_transparency,
        samples.rgba_png,
        samples.png_16bit,
        samples.cmyk_jpeg,
        samples.animated_gif,
        samples.animated_webp,
    ],
)
def test_every_accepted_kind_gets_a_hash(build):
    result = process(build(), LIMITS).dhash
    assert result is not None and len(result) == BITS // 4


def test_one_decode_verifies_and_hashes_a_jpeg_like_the_two_separate_steps() -> None:
    from backend.images import BrokenImage, Limits, probe, verify_decode
    from backend.images.fingerprint import perceptual_hash
    from backend.images.verify import verify_and_hash

    limits = Limits()
    for size in ((800, 600), (300, 200), (120, 90)):  # 1/8 scale, and the smaller drafts
        data = samples.unique_jpeg(size=size)
        info = probe(data, limits)
        verify_decode(data, info, limits)
        assert verify_and_hash(data, info, limits) == perceptual_hash(data, info)
    for data in (samples.plain_jpeg((800, 600)), samples.progressive_jpeg((800, 600))):
        info = probe(data, limits)
        with pytest.raises(BrokenImage):
            verify_and_hash(samples.truncated(data), info, limits)
