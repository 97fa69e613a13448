"""The perceptual hash behind the blocklist: copies match, distinct pictures do not.

`test_false_positive_rate` measures the rate on 240 distinct pictures at the default
PICDROP_BLOCK_DISTANCE, against each other upright and in all eight orientations, and prints it
(docs/SECURITY.md quotes the figure). Copies hidden in a frame of an animation, mirrored or
turned, land near one of the hashes a removal blocks (`dihedral_hashes`).
"""

from __future__ import annotations

import io
import itertools

import pytest
from PIL import Image

from backend.images import Limits, process
from backend.images.fingerprint import BITS, dihedral_hashes, distance, frame_hashes
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


def animation(fmt: str, frames: list[Image.Image], **options: object) -> bytes:
    out = io.BytesIO()
    frames[0].save(out, fmt, save_all=True, append_images=frames[1:], loop=0, **options)
    return out.getvalue()


# The eight orientations, less the upright one.
TURNS = {
    "mirrored": Image.Transpose.FLIP_LEFT_RIGHT,
    "upside down": Image.Transpose.FLIP_TOP_BOTTOM,
    "rotated 90": Image.Transpose.ROTATE_90,
    "rotated 180": Image.Transpose.ROTATE_180,
    "rotated 270": Image.Transpose.ROTATE_270,
    "transposed": Image.Transpose.TRANSPOSE,
    "transversed": Image.Transpose.TRANSVERSE,
}


def disguises(picture: Image.Image, decoy: Image.Image) -> dict[str, bytes]:
    """The picture where the first frame, upright, does not show it."""
    brief_decoy = {"duration": [20, 5000]}  # ms: the decoy flashes by, the picture stays
    mirrored = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    found = {
        # The default image is what a viewer without APNG shows; browsers show only the frame.
        "apng: decoy default image, the picture its only frame": animation(
            "PNG", [decoy, picture], default_image=True, duration=1000
        ),
        "gif: decoy for 20 ms, then the picture": animation(
            "GIF", [_gif(decoy), _gif(picture)], **brief_decoy
        ),
        "webp: decoy for 20 ms, then the picture": animation(
            "WEBP", [decoy, picture], quality=80, **brief_decoy
        ),
        "gif: decoy, then the picture mirrored": animation(
            "GIF", [_gif(decoy), _gif(mirrored)], **brief_decoy
        ),
    }
    for name, method in TURNS.items():
        found[name] = samples.encode(picture.transpose(method), quality=85)
    return found


def _gif(frame: Image.Image) -> Image.Image:
    return frame.convert("P", palette=Image.Palette.ADAPTIVE)


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


def blocked_hashes(data: bytes) -> tuple[str, ...]:
    """What removing a still image blocks: its hash in each orientation, upright first."""
    processed = process(data, LIMITS)
    [hashes] = dihedral_hashes(processed.data, processed.info, LIMITS)
    return hashes


def test_false_positive_rate():
    blocked = [
        blocked_hashes(samples.encode(samples.varied_picture(seed), quality=90))
        for seed in range(240)
    ]
    hashes = [b[0] for b in blocked]
    distances = [distance(a, b) for a, b in itertools.combinations(hashes, 2)]
    false_positives = sum(d <= THRESHOLD for d in distances)
    rate = false_positives / len(distances)
    # An upload is compared with every orientation of every blocked picture: 8 times the pairs.
    turned = [
        distance(hashes[upload], h)
        for upload, block in itertools.permutations(range(len(blocked)), 2)
        for h in blocked[block]
    ]
    turned_positives = sum(d <= THRESHOLD for d in turned)
    turned_rate = turned_positives / len(turned)
    print(
        f"\nperceptual hash: {len(hashes)} distinct pictures, {len(distances)} pairs; "
        f"closest pair {min(distances)} of {BITS} bits apart; at threshold {THRESHOLD}: "
        f"{false_positives} false positives (rate {rate:.2e}); against all eight orientations: "
        f"{len(turned)} comparisons, closest {min(turned)}, {turned_positives} false positives "
        f"(rate {turned_rate:.2e})"
    )
    assert len(set(hashes)) == len(hashes)
    assert all(len(b) >= 4 for b in blocked)  # turned copies of a picture hash differently
    assert rate < 1e-4 and turned_rate < 1e-4
    # The margin: the closest distinct pictures are well beyond the threshold, in any orientation.
    assert min(distances) > THRESHOLD + 4
    assert min(turned) > THRESHOLD + 4


def test_disguised_copies_are_near_a_blocked_hash():
    """Every disguise has a frame within the threshold of one of the blocked picture's hashes;
    upright and first-frame only (what was compared before), it is far from it."""
    worst: dict[str, int] = {}
    for seed in range(12):
        picture = samples.varied_picture(seed).resize((320, 240))
        decoy = samples.varied_picture(seed + 1000).resize((320, 240))
        blocked = blocked_hashes(samples.encode(picture, quality=90))
        for name, data in disguises(picture, decoy).items():
            processed = process(data, LIMITS)
            frames = frame_hashes(processed.data, processed.info, LIMITS)
            assert distance(processed.dhash, blocked[0]) > THRESHOLD, (seed, name)
            found = min(distance(f, h) for f in frames for h in blocked)
            worst[name] = max(worst.get(name, 0), found)
    print(f"\nworst distance of a disguised copy (threshold {THRESHOLD}): {worst}")
    assert max(worst.values()) <= THRESHOLD, worst


@pytest.mark.parametrize(
    "build",
    [
        lambda: samples.encode(samples.varied_picture(3), quality=90),
        lambda: samples.encode(samples.varied_picture(4), "PNG"),
        samples.rgba_png,
        samples.cmyk_jpeg,
        samples.animated_gif,
        samples.animated_webp,
        samples.animated_png,
        lambda: _with_exif(samples.unique_jpeg(size=(300, 200)), _orientation(6)),
    ],
)
def test_first_frame_hash_is_the_uploads_hash(build):
    """So content blocked before frames were hashed matches as it did (EXIF orientation
    applied)."""
    processed = process(build(), LIMITS)
    frames = frame_hashes(processed.data, processed.info, LIMITS)
    assert frames[0] == processed.dhash
    assert len(frames) == len(set(frames)) == processed.info.frames


@pytest.mark.parametrize(
    ("build", "decoded"),
    [
        (lambda: samples.encode(samples.varied_picture(5), "PNG"), False),
        (samples.animated_gif, True),
        # One frame by its animation control, two to show: the default image is not part of it.
        (
            lambda: animation("PNG", _pictures(6, 2), default_image=True, duration=100),
            True,
        ),
    ],
    ids=["still png", "gif", "apng with a default image"],
)
def test_a_known_first_hash_spares_only_a_still_image_a_second_decode(build, decoded):
    known = "0123456789abcdef" * 2
    processed = process(build(), LIMITS)
    hashes = frame_hashes(processed.data, processed.info, LIMITS, first=known)
    if decoded:
        assert hashes == frame_hashes(processed.data, processed.info, LIMITS)
        assert len(hashes) > 1 and known not in hashes
    else:
        assert hashes == [known]


def _pictures(seed: int, count: int) -> list[Image.Image]:
    return [samples.varied_picture(seed + i).resize((160, 120)) for i in range(count)]


def test_frame_hashes_stop_at_the_frame_limit():
    data = process(animation("GIF", _pictures(0, 6), duration=50), LIMITS)
    assert len(frame_hashes(data.data, data.info, LIMITS)) == 6
    assert len(frame_hashes(data.data, data.info, Limits(max_frames=3))) == 4


def _orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif


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
