"""The image pipeline (backend.images): detection, limits, stripping, verification, thumbnails.

Stripping is checked on the bytes themselves (walking segments and chunks), not only through
Pillow, and pixels are compared frame by frame before and after.
"""

from __future__ import annotations

import hashlib
import io
import random
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable

import pytest
from PIL import Image, ImageFile, ImageOps, ImageStat

from backend.images import (
    FORMATS,
    BrokenImage,
    EmptyImage,
    ImageInfo,
    ImageRejected,
    Limits,
    TooManyFrames,
    TooManyPixels,
    UnsupportedType,
    detect_format,
    make_thumbnail,
    probe,
    process,
    strip_metadata,
    verify_decode,
)
from tests.backend import imagesamples as samples

LIMITS = Limits()


def strip(data: bytes) -> bytes:
    return strip_metadata(data, probe(data, LIMITS)).data


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of the segments before the first SOS, walking the lengths."""
    assert data[:2] == b"\xff\xd8"
    out, pos = [], 2
    while data[pos + 1] != 0xDA:
        marker = data[pos + 1]
        length = struct.unpack_from(">H", data, pos + 2)[0]
        out.append((marker, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
    return out


def riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 12
    while pos + 8 <= len(data):
        fourcc, size = struct.unpack_from("<4sI", data, pos)
        out.append((fourcc, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return out


def gif_extensions(data: bytes) -> list[bytes]:
    """The application identifiers / labels of every extension block, walking sub-blocks."""
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    found = []
    while data[pos] != 0x3B:
        if data[pos] == 0x21:
            label = data[pos + 1]
            found.append(data[pos + 3 : pos + 14] if label == 0xFF else bytes([label]))
            pos += 2
        else:
            packed = data[pos + 9]
            pos += 11 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    assert pos == len(data) - 1, "the trailer must be the last byte"
    return found


# -- detection and probing -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR", "png"),
        (b"GIF87a\x01\x00", "gif"),
        (b"GIF89a\x01\x00", "gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"),
        (b"RIFF\x10\x00\x00\x00AVI LIST", None),
        (b"\xff\xd8", None),
        (b"<svg xmlns=", None),
        (b"%PDF-1.7", None),
        (b"II*\x00", None),
        (b"", None),
    ],
)
def test_detect_format_uses_magic_bytes_only(head: bytes, expected: str | None) -> None:
    assert detect_format(head) == expected


def test_formats_allow_list_and_info_properties() -> None:
    assert FORMATS == {
        "jpeg": ("image/jpeg", "jpg"),
        "png": ("image/png", "png"),
        "gif": ("image/gif", "gif"),
        "webp": ("image/webp", "webp"),
    }
    info = ImageInfo("webp", 10, 20, 3, True, 1)
    assert (info.mime, info.ext) == ("image/webp", "webp")
    assert Limits() == Limits(16384, 50_000_000, 500, 500_000_000)


PROBES: list[tuple[str, Callable[[], bytes], str, tuple[int, int], int, int]] = [
    ("jpeg", lambda: samples.plain_jpeg((64, 48)), "jpeg", (64, 48), 1, 1),
    ("jpeg-orientation-6", lambda: samples.jpeg_with_metadata((64, 48), 6), "jpeg", (48, 64), 1, 6),
    ("jpeg-orientation-3", lambda: samples.jpeg_with_metadata((64, 48), 3), "jpeg", (64, 48), 1, 3),
    ("jpeg-progressive", lambda: samples.progressive_jpeg((50, 30)), "jpeg", (50, 30), 1, 1),
    ("jpeg-cmyk", lambda: samples.cmyk_jpeg((40, 30)), "jpeg", (40, 30), 1, 1),
    ("png", lambda: samples.plain_png((32, 24)), "png", (32, 24), 1, 1),
    ("png-exif-orientation-8", lambda: samples.png_with_text((32, 24), 8), "png", (24, 32), 1, 8),
    ("png-16bit", lambda: samples.png_16bit((32, 24)), "png", (32, 24), 1, 1),
    ("png-interlaced", lambda: samples.interlaced_png((33, 21)), "png", (33, 21), 1, 1),
    ("apng", lambda: samples.animated_png(4, (16, 12)), "png", (16, 12), 4, 1),
    ("gif", lambda: samples.still_gif((16, 12)), "gif", (16, 12), 1, 1),
    ("gif-animated", lambda: samples.animated_gif(5, (16, 12)), "gif", (16, 12), 5, 1),
    ("webp-lossy", lambda: samples.still_webp((32, 24)), "webp", (32, 24), 1, 1),
    ("webp-lossless", lambda: samples.still_webp((31, 23), lossless=True), "webp", (31, 23), 1, 1),
    ("webp-extended", lambda: samples.still_webp((32, 24), metadata=True), "webp", (32, 24), 1, 1),
    ("webp-animated", lambda: samples.animated_webp(3, (16, 12)), "webp", (16, 12), 3, 1),
    (
        "webp-animated-6",
        lambda: samples.animated_webp(3, (16, 12), orientation=6),
        "webp",
        (12, 16),
        3,
        6,
    ),
]


@pytest.mark.parametrize(
    ("build", "fmt", "size", "frames", "orientation"),
    [case[1:] for case in PROBES],
    ids=[case[0] for case in PROBES],
)
def test_probe_reads_headers(
    build: Callable[[], bytes], fmt: str, size: tuple[int, int], frames: int, orientation: int
) -> None:
    info = probe(build(), LIMITS)
    assert (info.format, (info.width, info.height)) == (fmt, size)
    assert (info.frames, info.animated, info.orientation) == (frames, frames > 1, orientation)


# -- stripping: every format keeps its pixels and is idempotent ------------------------------

ACCEPTED: dict[str, Callable[[], bytes]] = {
    "jpeg-metadata": lambda: samples.jpeg_with_metadata(),
    "jpeg-metadata-progressive": lambda: samples.jpeg_with_metadata(progressive=True),
    "jpeg-restart-markers": lambda: samples.restart_marker_jpeg(),
    "jpeg-comment-between-scans": lambda: samples.jpeg_with_comment_between_scans(),
    "jpeg-cmyk": lambda: samples.cmyk_jpeg(),
    "jpeg-grey": lambda: samples.grey_jpeg(),
    "jpeg-jfif-thumbnail": lambda: samples.jpeg_with_jfif_thumbnail(),
    "jpeg-trailing": lambda: samples.with_trailing(samples.plain_jpeg()),
    "png-text-trailing-html": lambda: samples.with_trailing(samples.png_with_text(), samples.HTML),
    "png-orientation": lambda: samples.png_with_text(orientation=6),
    "png-16bit": lambda: samples.png_16bit(),
    "png-rgb-16bit": lambda: samples.png_rgb16(),
    "png-palette-transparency": lambda: samples.palette_png_with_transparency(),
    "png-rgba": lambda: samples.rgba_png(),
    "png-interlaced": lambda: samples.interlaced_png(),
    "png-zip": lambda: samples.png_followed_by_zip(),
    "apng": lambda: samples.animated_png(),
    "gif-animated-metadata": lambda: samples.animated_gif(),
    "gif-trailing-script": lambda: samples.with_trailing(samples.animated_gif()),
    "gif-no-trailer": lambda: samples.animated_gif(metadata=False)[:-1],
    "webp-animated-metadata": lambda: samples.animated_webp(),
    "webp-animated-orientation": lambda: samples.animated_webp(orientation=6),
    "webp-still-metadata": lambda: samples.still_webp(metadata=True),
    "webp-trailing": lambda: samples.with_trailing(samples.still_webp()),
}


@pytest.mark.parametrize("build", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_strip_keeps_every_frame_bit_exact(build: Callable[[], bytes]) -> None:
    original = build()
    stripped = strip(original)
    assert samples.frames_pixels(stripped) == samples.frames_pixels(original)


@pytest.mark.parametrize("build", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_strip_is_idempotent(build: Callable[[], bytes]) -> None:
    once = strip(build())
    again = strip_metadata(once, probe(once, LIMITS))
    assert again.data == once
    assert again.removed == ()


@pytest.mark.parametrize("build", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_process_returns_stripped_bytes_and_their_hash(build: Callable[[], bytes]) -> None:
    original = build()
    result = process(original, LIMITS)
    assert result.data == strip(original)
    assert result.sha256 == hashlib.sha256(result.data).hexdigest()
    assert result.info == probe(original, LIMITS)


def test_strip_reports_nothing_for_a_clean_image() -> None:
    clean = samples.plain_png()
    result = strip_metadata(clean, probe(clean, LIMITS))
    assert (result.data, result.removed) == (clean, ())


@pytest.mark.parametrize(
    ("build", "unchanged"),
    [
        (samples.plain_jpeg, True),
        (samples.plain_png, True),
        (samples.jpeg_with_metadata, False),
        (lambda: samples.jpeg_with_metadata(orientation=6), False),  # orientation rewritten
        (samples.png_with_text, False),
        (lambda: samples.png_with_text(orientation=6), False),
    ],
)
def test_strip_hands_back_the_very_bytes_when_it_changes_nothing(build, unchanged) -> None:
    """No second copy of a big image in memory when there is nothing to remove."""
    original = build()
    assert (strip(original) is original) is unchanged


# -- JPEG ------------------------------------------------------------------------------------


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_jpeg_metadata_is_gone_but_orientation_and_icc_stay(progressive: bool) -> None:
    original = samples.jpeg_with_metadata((64, 48), orientation=6, progressive=progressive)
    result = strip_metadata(original, probe(original, LIMITS))
    out = result.data

    for secret in (
        samples.CAMERA_MAKE.encode(),
        samples.CAMERA_MODEL.encode(),
        samples.SERIAL_NUMBER.encode(),
        samples.DATE_TAKEN.encode(),
        samples.COMMENT,
        samples.IPTC_BYLINE,
        samples.XMP_NAMESPACE,
        b"http://ns.adobe.com/xap",
        b"Photoshop 3.0",
    ):
        assert secret in original
        assert secret not in out

    segments = jpeg_segments(out)
    markers = [marker for marker, _ in segments]
    assert 0xFE not in markers  # COM
    assert 0xED not in markers  # APP13 (IPTC)
    exif_segments = [p for m, p in segments if m == 0xE1]
    assert len(exif_segments) == 1 and exif_segments[0].startswith(b"Exif\x00\x00")
    assert out.count(b"Exif\x00\x00") == 1
    tiff = exif_segments[0][6:]
    assert len(tiff) == 26  # one IFD entry: Orientation
    assert b"\x88\x25" not in tiff and b"\x25\x88" not in tiff  # GPS IFD pointer tag
    assert any(m == 0xE2 and p.startswith(b"ICC_PROFILE\x00") for m, p in segments)
    assert markers[0] == 0xE0 and markers[1] == 0xE1  # JFIF first, then the EXIF

    # The entropy-coded data is copied, not re-encoded.
    scan = original[original.index(b"\xff\xda") :]
    assert out.endswith(scan)

    with Image.open(io.BytesIO(out)) as image:
        exif = image.getexif()
        assert dict(exif) == {0x0112: 6}
        assert exif.get_ifd(0x8825) == {}
        assert image.info.get("icc_profile") == samples.srgb_icc()
        upright = ImageOps.exif_transpose(image)
    with Image.open(io.BytesIO(original)) as image:
        expected = ImageOps.exif_transpose(image)
    assert upright.size == (48, 64)
    assert upright.tobytes() == expected.tobytes()

    assert result.removed == (
        "GPS location",
        "camera make and model",
        "camera serial number",
        "date taken",
        "EXIF data",
        "XMP metadata",
        "IPTC metadata",
        "comment",
    )


def test_jpeg_orientation_1_leaves_no_exif_at_all() -> None:
    out = strip(samples.jpeg_with_metadata(orientation=1))
    assert b"Exif" not in out
    with Image.open(io.BytesIO(out)) as image:
        assert dict(image.getexif()) == {}


def test_jpeg_trailing_bytes_are_dropped_and_counted() -> None:
    original = samples.plain_jpeg()
    extra = b"<script>alert(1)</script>" + b"\xff\xd9"
    result = strip_metadata(original + extra, probe(original + extra, LIMITS))
    assert result.data == original
    assert result.removed == (f"trailing data ({len(extra)} bytes)",)


def test_jpeg_multi_picture_extra_image_and_its_exif_are_dropped() -> None:
    original = samples.jpeg_with_mpf_image()
    assert original.count(b"\xff\xd8\xff") == 2
    out = strip(original)
    assert out.count(b"\xff\xd8") == 1 and out.endswith(b"\xff\xd9")
    assert b"Exif" not in out and b"MPF\x00" not in out
    assert samples.CAMERA_MODEL.encode() not in out


def test_jpeg_comment_between_progressive_scans_is_dropped() -> None:
    original = samples.jpeg_with_comment_between_scans()
    assert samples.COMMENT in original
    assert samples.COMMENT not in strip(original)


def test_jpeg_cmyk_keeps_adobe_segment() -> None:
    original = samples.cmyk_jpeg()
    out = strip(original)
    assert any(m == 0xEE and p.startswith(b"Adobe") for m, p in jpeg_segments(out))
    assert out == original  # nothing to remove


def test_jpeg_jfif_embedded_preview_is_removed() -> None:
    original = samples.jpeg_with_jfif_thumbnail()
    result = strip_metadata(original, probe(original, LIMITS))
    marker, payload = jpeg_segments(result.data)[0]
    assert (marker, payload[:5], payload[12:]) == (0xE0, b"JFIF\x00", b"\x00\x00")
    assert result.removed == ("embedded thumbnail",)


# -- PNG -------------------------------------------------------------------------------------


def test_png_text_chunks_and_trailing_html_are_gone() -> None:
    original = samples.with_trailing(samples.png_with_text(), samples.HTML)
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"} <= set(samples.png_chunk_types(original))
    result = strip_metadata(original, probe(original, LIMITS))
    out = result.data
    assert samples.png_chunk_types(out) == [b"IHDR", b"IDAT", b"IEND"]
    assert out.endswith(samples.png_chunk(b"IEND", b""))
    for secret in (samples.TEXT_SECRET.encode(), samples.XMP_NAMESPACE, b"<script>", b"Exif"):
        assert secret not in out
    assert "text chunks" in result.removed and "GPS location" in result.removed
    assert result.removed[-1] == f"trailing data ({len(samples.HTML)} bytes)"


def test_png_orientation_is_kept_as_a_minimal_exif_chunk() -> None:
    out = strip(samples.png_with_text(orientation=6))
    assert samples.png_chunk_types(out) == [b"IHDR", b"eXIf", b"IDAT", b"IEND"]
    assert samples.CAMERA_MODEL.encode() not in out
    with Image.open(io.BytesIO(out)) as image:
        image.load()
        assert dict(image.getexif()) == {0x0112: 6}
        assert ImageOps.exif_transpose(image).size == (24, 32)


def test_png_followed_by_a_zip_ends_with_iend() -> None:
    original = samples.png_followed_by_zip()
    assert b"PK\x03\x04" in original
    out = strip(original)
    assert out.endswith(b"IEND\xaeB`\x82")
    assert b"PK" not in out[out.rindex(b"IEND") :]
    assert out == samples.plain_png()


def test_apng_keeps_its_animation_chunks() -> None:
    original = samples.animated_png(3)
    types = samples.png_chunk_types(strip(original))
    assert types.count(b"fcTL") == 3 and b"acTL" in types and b"fdAT" in types


# -- GIF -------------------------------------------------------------------------------------


def test_gif_comment_xmp_and_trailing_script_are_gone_loop_stays() -> None:
    original = samples.with_trailing(samples.animated_gif(3))
    assert b"XMP DataXMP" in original and samples.COMMENT in original
    result = strip_metadata(original, probe(original, LIMITS))
    out = result.data
    assert gif_extensions(out) == [b"NETSCAPE2.0"] + [b"\xf9"] * 3
    for secret in (samples.COMMENT, b"XMP DataXMP", samples.XMP_NAMESPACE, b"<script>"):
        assert secret not in out
    assert out.endswith(b";")
    assert "comment" in result.removed and "XMP metadata" in result.removed
    assert result.removed[-1].startswith("trailing data (")


def test_gif_without_trailer_gets_one() -> None:
    whole = samples.animated_gif(metadata=False)
    assert strip(whole[:-1]) == whole


# -- WebP ------------------------------------------------------------------------------------


@pytest.mark.parametrize("animated", [False, True], ids=["still", "animated"])
def test_webp_exif_and_xmp_chunks_and_flags_are_gone(animated: bool) -> None:
    original = samples.animated_webp() if animated else samples.still_webp(metadata=True)
    original = samples.with_trailing(original)
    assert {b"EXIF", b"XMP "} <= {c for c, _ in riff_chunks(original)}
    result = strip_metadata(original, probe(original, LIMITS))
    out = result.data
    assert result.removed[:2] == ("GPS location", "camera make and model")
    trailing = len(samples.with_trailing(b""))
    assert result.removed[-1] == f"trailing data ({trailing} bytes)"
    chunks = riff_chunks(out)
    assert not {b"EXIF", b"XMP "} & {c for c, _ in chunks}
    assert chunks[0][0] == b"VP8X" and chunks[0][1][0] & 0x0C == 0  # EXIF and XMP flags
    assert struct.unpack_from("<I", out, 4)[0] == len(out) - 8
    for secret in (samples.CAMERA_MODEL.encode(), samples.XMP_NAMESPACE, b"<script>"):
        assert secret not in out


def test_webp_orientation_is_kept_as_a_minimal_exif_chunk() -> None:
    out = strip(samples.animated_webp(orientation=6))
    exif = [payload for fourcc, payload in riff_chunks(out) if fourcc == b"EXIF"]
    assert len(exif) == 1 and len(exif[0]) == 26
    assert riff_chunks(out)[0][1][0] & 0x08  # the EXIF flag matches the chunk
    with Image.open(io.BytesIO(out)) as image:
        assert dict(image.getexif()) == {0x0112: 6}


# -- refusals --------------------------------------------------------------------------------

REFUSED: dict[
    str, tuple[Callable[[], bytes], type[ImageRejected] | tuple[type[ImageRejected], ...]]
] = {
    "empty": (lambda: b"", EmptyImage),
    "text": (lambda: samples.TEXT, UnsupportedType),
    "html": (lambda: samples.HTML, UnsupportedType),
    "svg": (lambda: samples.SVG, UnsupportedType),
    "svg-xml-declaration": (lambda: samples.SVG_WITH_XML_DECLARATION, UnsupportedType),
    "pdf": (lambda: samples.PDF, UnsupportedType),
    "tiff": (samples.tiff, UnsupportedType),
    "bmp": (samples.bmp, UnsupportedType),
    "html-behind-png-signature": (
        lambda: samples.HTML_WITH_PNG_SIGNATURE,
        (BrokenImage, UnsupportedType),
    ),
    "html-behind-gif-header": (
        lambda: b"GIF89a\x01\x00\x01\x00\x00\x00\x00" + samples.HTML,
        (BrokenImage, UnsupportedType),
    ),
    "png-header-bomb": (lambda: samples.header_bomb_png(60000, 60000), TooManyPixels),
    "png-1bit-30000x30000": (lambda: samples.one_bit_png(30000, 30000), TooManyPixels),
    "png-1bit-60-megapixels": (lambda: samples.one_bit_png(10000, 6000), TooManyPixels),
    "gif-5000-frames": (lambda: samples.many_frame_gif(5000), TooManyFrames),
    "jpeg-truncated": (lambda: samples.truncated(samples.plain_jpeg((128, 96))), BrokenImage),
    "jpeg-truncated-progressive": (
        lambda: samples.truncated(samples.progressive_jpeg((128, 96))),
        BrokenImage,
    ),
    "png-flipped-data-byte": (lambda: samples.png_with_flipped_data_byte(), BrokenImage),
    "png-flipped-byte-crc-fixed": (
        lambda: samples.png_with_flipped_data_byte(fix_crc=True),
        BrokenImage,
    ),
    "png-bad-crc": (lambda: samples.png_with_bad_crc(), BrokenImage),
    "png-truncated": (lambda: samples.truncated(samples.plain_png((64, 48))), BrokenImage),
    "png-no-iend": (lambda: samples.plain_png()[:-12], BrokenImage),
    "gif-truncated": (lambda: samples.truncated(samples.animated_gif()), BrokenImage),
    "webp-truncated": (lambda: samples.truncated(samples.animated_webp()), BrokenImage),
}


@pytest.mark.parametrize(("build", "error"), REFUSED.values(), ids=REFUSED.keys())
def test_process_refuses(build: Callable[[], bytes], error: type[ImageRejected]) -> None:
    with pytest.raises(error) as caught:
        process(build(), LIMITS)
    message = caught.value.message
    assert message[0].isupper() and message.endswith(".")  # a sentence, for people


def test_unsupported_type_names_the_allowed_ones() -> None:
    with pytest.raises(UnsupportedType, match="only JPEG, PNG, GIF and WebP are allowed"):
        probe(samples.SVG, LIMITS)


def test_header_bomb_is_refused_from_the_header_quickly_and_cheaply() -> None:
    bomb = samples.header_bomb_png(60000, 60000)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(TooManyPixels, match="60000×60000 pixels; the limit is 16384"):
            probe(bomb, LIMITS)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 256 * 1024


def test_pixel_count_limit_names_the_numbers() -> None:
    with pytest.raises(TooManyPixels, match=r"60 million pixels \(10000×6000\); the limit is 50"):
        probe(samples.one_bit_png(10000, 6000), LIMITS)


def test_frame_limits() -> None:
    with pytest.raises(TooManyFrames, match="more than 500 frames"):
        probe(samples.many_frame_gif(5000), LIMITS)
    assert probe(samples.many_frame_gif(500), LIMITS).frames == 500
    with pytest.raises(TooManyFrames, match="more than 2 frames"):
        probe(samples.animated_png(3), Limits(max_frames=2))


def test_animated_webp_over_the_frame_pixel_budget() -> None:
    webp = samples.animated_webp(10, (16, 16))
    assert probe(webp, Limits(max_total_pixels=2560)).frames == 10
    with pytest.raises(TooManyFrames, match=r"10 frames of 16×16 pixels, 2,560 pixels in all"):
        probe(webp, Limits(max_total_pixels=2559))


def test_gif_frame_pixel_budget_counts_the_canvas() -> None:
    gif = samples.animated_gif(4, (20, 10))
    with pytest.raises(TooManyFrames):
        probe(gif, Limits(max_total_pixels=4 * 200 - 1))


@pytest.mark.parametrize(
    "name",
    [
        "jpeg-metadata-progressive",
        "png-orientation",
        "apng",
        "gif-animated-metadata",
        "webp-animated-orientation",
    ],
)
def test_damaged_input_is_refused_or_accepted_never_a_crash(name: str) -> None:
    """Client garbage must never become a 5xx: truncations, flipped, inserted, deleted bytes."""
    source = ACCEPTED[name]()
    rng = random.Random(name)
    for _ in range(80):
        data = bytearray(source)
        at = rng.randrange(len(data))
        match rng.randrange(4):
            case 0:
                del data[at:]
            case 1:
                data[at] ^= 1 << rng.randrange(8)
            case 2:
                data[at:at] = rng.randbytes(rng.randrange(1, 16))
            case _:
                del data[at : at + rng.randrange(1, 40)]
        try:
            result = process(bytes(data), LIMITS)
        except ImageRejected:
            continue
        make_thumbnail(result.data)
        assert process(result.data, LIMITS).data == result.data


# -- verify_decode ---------------------------------------------------------------------------

CORRUPT: dict[str, tuple[Callable[[], bytes], Callable[[bytes], bytes]]] = {
    "jpeg-truncated": (lambda: samples.plain_jpeg((128, 96)), samples.truncated),
    "jpeg-progressive-truncated": (lambda: samples.progressive_jpeg((128, 96)), samples.truncated),
    "png-flipped": (lambda: samples.plain_png((64, 48)), samples.png_with_flipped_data_byte),
    "png-flipped-crc-fixed": (
        lambda: samples.plain_png((64, 48)),
        lambda png: samples.png_with_flipped_data_byte(png, fix_crc=True),
    ),
    "png-bad-crc": (lambda: samples.plain_png(), samples.png_with_bad_crc),
    "gif-truncated": (lambda: samples.animated_gif(), samples.truncated),
    "webp-truncated": (lambda: samples.animated_webp(), samples.truncated),
}


@pytest.mark.parametrize(("build", "corrupt"), CORRUPT.values(), ids=CORRUPT.keys())
def test_verify_decode_rejects_corrupt_data_with_broken_image_only(
    build: Callable[[], bytes], corrupt: Callable[[bytes], bytes]
) -> None:
    good = build()
    info = probe(good, LIMITS)
    verify_decode(good, info, LIMITS)
    with pytest.raises(BrokenImage):
        verify_decode(corrupt(good), info, LIMITS)


def test_verify_decode_rejects_a_png_stream_with_missing_rows() -> None:
    png = samples.plain_png((16, 16))
    start = png.index(b"IDAT") - 4
    end = start + 12 + struct.unpack_from(">I", png, start)[0]
    short = samples.png_chunk(b"IDAT", zlib.compress(b"\x00" * 49 * 15))
    damaged = png[:start] + short + png[end:]
    with pytest.raises(BrokenImage, match="cut off"):
        verify_decode(damaged, probe(png, LIMITS), LIMITS)


def test_pipeline_leaves_truncated_loading_off() -> None:
    process(samples.jpeg_with_metadata(), LIMITS)
    with pytest.raises(BrokenImage):
        process(samples.truncated(samples.plain_jpeg()), LIMITS)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_limits_above_pillows_own_do_not_leak_its_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    data = samples.plain_jpeg((64, 48))  # 3072 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # Pillow would warn (warnings are errors)
    assert process(data, Limits(max_pixels=10_000)).info.width == 64
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow would refuse outright
    with pytest.raises(TooManyPixels):
        process(data, Limits(max_pixels=10_000))


# -- thumbnails ------------------------------------------------------------------------------

THUMBNAILS: dict[str, tuple[Callable[[], bytes], tuple[int, int], str]] = {
    "jpeg-landscape": (lambda: samples.plain_jpeg((1000, 600)), (320, 192), "RGB"),
    "jpeg-rotated-is-tall": (lambda: samples.jpeg_with_metadata((800, 600), 6), (240, 320), "RGB"),
    "jpeg-small-not-upscaled": (lambda: samples.plain_jpeg((64, 48)), (64, 48), "RGB"),
    "jpeg-small-rotated": (lambda: samples.jpeg_with_metadata((64, 48), 8), (48, 64), "RGB"),
    "jpeg-cmyk": (lambda: samples.cmyk_jpeg((640, 400)), (320, 200), "RGB"),
    "png-palette-transparency": (
        lambda: samples.palette_png_with_transparency((400, 400)),
        (320, 320),
        "RGBA",
    ),
    "png-rgba": (lambda: samples.rgba_png((100, 50)), (100, 50), "RGBA"),
    "png-16bit": (lambda: samples.png_16bit((64, 640)), (32, 320), "RGB"),
    "gif-animated-first-frame": (lambda: samples.animated_gif(3, (400, 200)), (320, 160), "RGB"),
    "webp-animated": (lambda: samples.animated_webp(2, (500, 100)), (320, 64), "RGB"),
}


@pytest.mark.parametrize(("build", "size", "mode"), THUMBNAILS.values(), ids=THUMBNAILS.keys())
def test_thumbnail_is_webp_upright_and_bounded(
    build: Callable[[], bytes], size: tuple[int, int], mode: str
) -> None:
    thumb = make_thumbnail(process(build(), LIMITS).data)
    assert thumb[:4] == b"RIFF" and thumb[8:12] == b"WEBP"
    with Image.open(io.BytesIO(thumb)) as image:
        assert (image.format, image.size) == ("WEBP", size)
        assert image.mode == mode
        assert getattr(image, "n_frames", 1) == 1


def test_thumbnail_of_a_rotated_photo_shows_it_upright() -> None:
    # Left half dark, right half light; orientation 6 means "rotate 90° clockwise to view".
    image = Image.new("L", (400, 200), 0)
    image.paste(255, (200, 0, 400, 200))
    stored = io.BytesIO()
    image.convert("RGB").save(stored, "JPEG", exif=samples.exif_bytes(6, private=False))
    with Image.open(io.BytesIO(make_thumbnail(stored.getvalue()))) as thumb:
        grey = thumb.convert("L")
        assert grey.size == (160, 320)
        assert grey.getpixel((80, 40)) < 64 and grey.getpixel((80, 280)) > 192


def test_thumbnail_of_16bit_png_scales_instead_of_clipping() -> None:
    with Image.open(io.BytesIO(make_thumbnail(samples.png_16bit((40, 30))))) as thumb:
        mean = ImageStat.Stat(thumb.convert("L")).mean[0]
    expected = ImageStat.Stat(samples.picture((40, 30), "L")).mean[0]
    assert abs(mean - expected) < 3  # clipping to 8 bits would make almost everything 255


def test_thumbnail_of_garbage_is_a_rejection() -> None:
    with pytest.raises(UnsupportedType):
        make_thumbnail(samples.HTML)
    with pytest.raises(BrokenImage):
        make_thumbnail(samples.truncated(samples.plain_jpeg((128, 96))))


def test_process_reuses_the_callers_digest_only_for_unchanged_bytes() -> None:
    plain = samples.plain_jpeg((64, 48))
    digest = hashlib.sha256(plain).hexdigest()
    assert process(plain, LIMITS, digest).sha256 == digest
    tagged = samples.jpeg_with_metadata()
    processed = process(tagged, LIMITS, hashlib.sha256(tagged).hexdigest())
    assert processed.data != tagged
    assert processed.sha256 == hashlib.sha256(processed.data).hexdigest()
