"""Structure limits and kept structures (backend.images): what a decoder would repeat is
counted before anything is decoded, and what the strippers keep is kept only when it parses
as what it claims, so no payload rides along inside it.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import pytest
from PIL import Image

from backend.images import Limits, TooComplex, probe, process
from tests.backend import imagesamples as samples

LIMITS = Limits()
ZIP = samples.html_zip()
# What must not survive: the archive's signature, the file name and the script inside it.
ZIP_TRACES = (b"PK\x03\x04", b"payload.html", ZIP[30:60])


# -- structure limits ------------------------------------------------------------------------

BOMBS: dict[str, tuple[Callable[[], bytes], str]] = {
    # 10 scans of libjpeg's script, then its last scan copied 23 times: 33 scans.
    "jpeg-33-scans": (lambda: samples.jpeg_with_repeated_scans(23), "more than 32 scans"),
    "jpeg-100001-segments": (
        lambda: samples.jpeg_with_segments(samples.jpeg_segment(0xFE, b"") * 100_001),
        "more than 100,000 marker segments",
    ),
    "png-100001-chunks": (
        lambda: samples.png_with_many_chunks(100_001),
        "more than 100,000 chunks",
    ),
    "gif-1000001-sub-blocks": (
        lambda: samples.gif_with_comment_sub_blocks(1_000_001),
        "more than 1,000,000 data sub-blocks",
    ),
    "webp-100001-chunks": (
        lambda: samples.webp_with_many_chunks(100_001),
        "more than 100,000 chunks",
    ),
}


@pytest.mark.parametrize(("build", "message"), BOMBS.values(), ids=BOMBS.keys())
def test_structure_bombs_are_refused_from_the_container_walk(
    build: Callable[[], bytes], message: str
) -> None:
    bomb = build()
    with pytest.raises(TooComplex, match=message):
        probe(bomb, LIMITS)  # probe walks containers and never decodes pixels
    with pytest.raises(TooComplex) as caught:
        process(bomb, LIMITS)
    error = caught.value
    assert (error.status, error.code) == (422, "too_complex")
    assert error.message[0].isupper() and error.message.endswith("are allowed.")


def test_scan_limit_is_exact() -> None:
    at_limit = samples.jpeg_with_repeated_scans(22)
    assert samples.jpeg_scan_count(at_limit) == 32
    assert process(at_limit, LIMITS).data == at_limit
    with pytest.raises(TooComplex):
        process(samples.jpeg_with_repeated_scans(3), Limits(max_scans=12))


def test_scan_bomb_over_http_is_422_and_nothing_is_stored(client) -> None:
    r = client.upload(samples.jpeg_with_repeated_scans(300), filename="scans.jpg")
    assert r.status_code == 422, r.text
    assert r.json() == {
        "error": "This JPEG has more than 32 scans; at most 32 are allowed.",
        "code": "too_complex",
    }
    assert client.rows() == [] and client.blob_files() == []


# -- payloads inside kept structures ---------------------------------------------------------


def _icc_in_two_segments(icc: bytes) -> bytes:
    half = len(icc) // 2
    return samples.jpeg_with_segments(
        *(
            samples.jpeg_segment(0xE2, b"ICC_PROFILE\x00" + bytes([i + 1, 2]) + part)
            for i, part in enumerate((icc[:half], icc[half:]))
        )
    )


def _png_with_icc(profile: bytes) -> bytes:
    return samples.png_with_chunk(b"iCCP", b"sRGB\x00\x00" + zlib.compress(profile, 0))


def _adobe_app14_followed_by(extra: bytes) -> bytes:
    jpeg = samples.cmyk_jpeg()
    start = jpeg.index(b"\xff\xeeAdobe"[:2])
    end = start + 2 + struct.unpack_from(">H", jpeg, start + 2)[0]
    return jpeg[:start] + samples.jpeg_segment(0xEE, jpeg[start + 4 : end] + extra) + jpeg[end:]


def _gif_graphic_control_with(extra: bytes) -> bytes:
    gif = samples.animated_gif(metadata=False)
    start = gif.index(b"!\xf9\x04")
    return gif[: start + 7] + bytes([len(extra)]) + extra + gif[start + 7 :]


def _webp_frame_with(extra_chunk: bytes) -> bytes:
    """The first ANMF frame of an animated WebP with an unknown chunk after its image."""
    chunks = samples.webp_chunks(samples.animated_webp(metadata=False))
    out = []
    for fourcc, chunk in chunks:
        if fourcc == b"ANMF" and not any(c.startswith(b"ANMF") for c in out):
            payload = chunk[8 : 8 + struct.unpack_from("<I", chunk, 4)[0]]
            chunk = samples.riff_chunk(
                b"ANMF", payload + (b"\x00" * (len(payload) & 1)) + extra_chunk
            )
        out.append(chunk)
    return samples.riff(*out)


# name: (the image with a ZIP inside a structure the stripper keeps, the same image without it)
PAYLOADS: dict[str, tuple[Callable[[], bytes], Callable[[], bytes]]] = {
    "jpeg-app2-fake-icc": (lambda: samples.jpeg_with_fake_icc(ZIP), samples.plain_jpeg),
    "jpeg-adobe-app14-longer": (lambda: _adobe_app14_followed_by(ZIP), samples.cmyk_jpeg),
    "jpeg-dnl-segment": (
        lambda: samples.jpeg_with_segments(samples.jpeg_segment(0xDC, ZIP)),
        samples.plain_jpeg,
    ),
    "png-after-adler-in-last-idat": (
        lambda: samples.png_with_idat_extra(ZIP, own_chunk=False),
        samples.plain_png,
    ),
    "png-idat-after-the-stream": (
        lambda: samples.png_with_idat_extra(ZIP, own_chunk=True),
        samples.plain_png,
    ),
    **{
        f"png-{ctype.decode().lower()}-wrong-size": (
            lambda ctype=ctype: samples.png_with_chunk(ctype, ZIP),
            samples.plain_png,
        )
        for ctype in (b"bKGD", b"gAMA", b"cHRM", b"pHYs", b"tRNS", b"sRGB", b"sBIT")
    },
    "png-palette-in-a-truecolour-image": (
        lambda: samples.png_with_chunk(b"PLTE", ZIP + b"\x00" * (-len(ZIP) % 3)),
        samples.plain_png,
    ),
    "png-iccp-not-a-profile": (lambda: _png_with_icc(ZIP), samples.plain_png),
    "png-iend-with-data": (
        lambda: samples.plain_png()[:-12] + samples.png_chunk(b"IEND", ZIP),
        samples.plain_png,
    ),
    "webp-iccp-not-a-profile": (
        lambda: samples.webp_with_icc(ZIP),
        lambda: samples.still_webp(metadata=True),
    ),
    "webp-alpha-chunk-without-alpha": (
        lambda: samples.webp_with_chunk_after_header(samples.riff_chunk(b"ALPH", ZIP)),
        lambda: samples.still_webp(metadata=True),
    ),
    "webp-unknown-chunk-in-frame": (
        lambda: _webp_frame_with(samples.riff_chunk(b"prIv", ZIP)),
        lambda: samples.animated_webp(metadata=False),
    ),
    "gif-netscape-extra-sub-blocks": (
        lambda: samples.gif_with_loop_extension(b"\x01\x00\x00", ZIP[:80], ZIP[80:]),
        lambda: samples.animated_gif(metadata=False),
    ),
    "gif-graphic-control-extra-sub-block": (
        lambda: _gif_graphic_control_with(ZIP[:200]),
        lambda: samples.animated_gif(metadata=False),
    ),
}


@pytest.mark.parametrize(("build", "clean"), PAYLOADS.values(), ids=PAYLOADS.keys())
def test_payloads_in_kept_structures_are_not_stored(
    build: Callable[[], bytes], clean: Callable[[], bytes]
) -> None:
    original = build()
    assert all(trace in original for trace in ZIP_TRACES)
    stored = process(original, LIMITS).data
    assert not [trace for trace in ZIP_TRACES if trace in stored]
    assert samples.frames_pixels(stored) == samples.frames_pixels(clean())
    assert process(stored, LIMITS).data == stored  # and stripping again changes nothing


def _profile(data: bytes) -> bytes | None:
    with Image.open(io.BytesIO(data)) as image:
        return image.info.get("icc_profile")


PROFILES: dict[str, Callable[[bytes], bytes]] = {
    "jpeg-two-segments": _icc_in_two_segments,
    "png-iccp": _png_with_icc,
    "webp-iccp": samples.webp_with_icc,
}


@pytest.mark.parametrize("build", PROFILES.values(), ids=PROFILES.keys())
def test_a_real_colour_profile_stays_and_a_lookalike_goes(build: Callable[[bytes], bytes]) -> None:
    real = samples.srgb_icc()
    assert _profile(process(build(real), LIMITS).data) == real
    # The same profile with bytes after the size its header declares is not that profile.
    lookalike = build(real + ZIP)
    assert b"payload.html" in lookalike
    stored = process(lookalike, LIMITS).data
    assert _profile(stored) is None and b"payload.html" not in stored
    assert samples.frames_pixels(stored) == samples.frames_pixels(lookalike)
