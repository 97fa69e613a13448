"""Sample images built in memory with Pillow (no files, no Qt), returned as bytes.

Shared by the image pipeline tests and the HTTP tests: every builder has a plain name and is
deterministic, so the same call gives the same bytes (and the same sha256).
"""

from __future__ import annotations

import io
import itertools
import random
import struct
import zipfile
import zlib

from PIL import Image, ImageCms, ImageDraw, ImageSequence
from PIL.PngImagePlugin import PngInfo

# Strings planted in the samples, so tests can check the stripped bytes for them.
CAMERA_MAKE = "Picdrop Camera Co"
CAMERA_MODEL = "Snapper X100"
SERIAL_NUMBER = "SN-20240501-7731"
DATE_TAKEN = "2024:05:01 12:34:56"
COMMENT = b"secret comment: taken at home"
TEXT_SECRET = "Jane Doe, 12 Secret Lane"
XMP_NAMESPACE = b"http://ns.adobe.com/xap/1.0/"
XMP_PACKET = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
    b'xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
    b'exif:GPSLatitude="52,31.2N" exif:GPSLongitude="13,24.0E" tiff:Model="Snapper X100" '
    b'xmp:CreatorTool="Secret Editor 1.0"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)
IPTC_BYLINE = b"Jane Doe (IPTC)"
GPS_IFD_TAG = 0x8825
# What must not survive stripping `jpeg_with_metadata()`, as bytes to look for in served files.
JPEG_SECRETS = (
    CAMERA_MAKE.encode(),
    CAMERA_MODEL.encode(),
    SERIAL_NUMBER.encode(),
    DATE_TAKEN.encode(),
    COMMENT,
    XMP_NAMESPACE,
    IPTC_BYLINE,
)


# -- building blocks -------------------------------------------------------------------------


def picture(size: tuple[int, int] = (64, 48), mode: str = "RGB", seed: int = 0) -> Image.Image:
    """A busy deterministic picture (gradients plus shapes), so codecs have real work to do."""
    w, h = size
    rng = random.Random(seed)
    gradient = Image.linear_gradient("L").resize(size)
    radial = Image.radial_gradient("L").resize(size)
    image = Image.merge("RGB", (gradient, radial, gradient.transpose(Image.Transpose.ROTATE_180)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        x1, y1 = x0 + rng.randrange(1, w // 2 + 2), y0 + rng.randrange(1, h // 2 + 2)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.rectangle((x0, y0, x1, y1), fill=colour)
    return image.convert(mode) if mode != "RGB" else image


def photo(size: tuple[int, int] = (4000, 3000), seed: int = 0) -> Image.Image:
    """Photo-like content (smooth areas plus grain) that compresses like a camera picture."""
    w, h = size
    base = picture((max(8, w // 8), max(8, h // 8)), seed=seed).resize(
        size, Image.Resampling.BICUBIC
    )
    grain = Image.effect_noise(size, 24).convert("RGB")  # 12 MP at quality 90: about 3.5 MB
    return Image.blend(base, grain, 0.3)


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_bytes(orientation: int = 1, *, private: bool = True) -> bytes:
    """EXIF with GPS, make/model, dates and a serial number (private=False: orientation only)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    if private:
        exif[0x010F] = CAMERA_MAKE
        exif[0x0110] = CAMERA_MODEL
        exif[0x0132] = DATE_TAKEN
        sub = exif.get_ifd(0x8769)
        sub[0x9003] = DATE_TAKEN  # DateTimeOriginal
        sub[0xA431] = SERIAL_NUMBER  # BodySerialNumber
        gps = exif.get_ifd(GPS_IFD_TAG)
        gps[1], gps[2] = "N", (52.0, 31.0, 12.0)
        gps[3], gps[4] = "E", (13.0, 24.0, 0.0)
    return exif.tobytes()


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _insert_after_soi(jpeg: bytes, *segments: bytes) -> bytes:
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def png_chunk(ctype: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + ctype
        + payload
        + struct.pack(">I", zlib.crc32(ctype + payload))
    )


def png_chunk_types(data: bytes) -> list[bytes]:
    """Chunk types in file order, walking the chunk lengths (not a substring search)."""
    types, pos = [], 8
    while pos + 8 <= len(data):
        length, ctype = struct.unpack_from(">I4s", data, pos)
        types.append(ctype)
        pos += 12 + length
        if ctype == b"IEND":
            break
    return types


# -- JPEG ------------------------------------------------------------------------------------


def plain_jpeg(size: tuple[int, int] = (64, 48), **options: object) -> bytes:
    return _save(picture(size), "JPEG", quality=90, **options)


_fresh_seeds = itertools.count(1_000_000)


def unique_jpeg(seed: int | None = None, size: tuple[int, int] = (64, 48)) -> bytes:
    """A different small picture (hence a different sha256) for every seed; without a seed, a
    new one on every call."""
    if seed is None:
        seed = next(_fresh_seeds)
    return _save(picture(size, seed=seed + 1), "JPEG", quality=90)


def progressive_jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    return plain_jpeg(size, progressive=True)


def restart_marker_jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    """Baseline JPEG with RST markers every MCU row inside the scan."""
    return plain_jpeg(size, restart_marker_rows=1)


def jpeg_with_comment_between_scans(size: tuple[int, int] = (64, 48)) -> bytes:
    """A progressive JPEG with a COM segment between two of its scans."""
    jpeg = progressive_jpeg(size)
    first = jpeg.index(b"\xff\xda")
    second = jpeg.index(b"\xff\xda", first + 2)  # 0xFF 0xDA cannot occur inside scan data
    return jpeg[:second] + _jpeg_segment(0xFE, COMMENT) + jpeg[second:]


def jpeg_with_segments(*segments: bytes, jpeg: bytes | None = None) -> bytes:
    """Segments inserted right after SOI."""
    return _insert_after_soi(jpeg or plain_jpeg(), *segments)


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    return _jpeg_segment(marker, payload)


def jpeg_with_fake_icc(payload: bytes) -> bytes:
    """An APP2 segment that merely starts like an ICC profile chunk (1 of 1)."""
    return jpeg_with_segments(_jpeg_segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + payload))


def jpeg_with_repeated_scans(copies: int, size: tuple[int, int] = (64, 48)) -> bytes:
    """A progressive JPEG whose last scan (header and data) is repeated `copies` more times:
    every copy makes the decoder go over the whole image again."""
    jpeg = progressive_jpeg(size)
    last_scan = jpeg.rindex(b"\xff\xda")  # 0xFF 0xDA cannot occur inside scan data
    eoi = len(jpeg) - 2
    return jpeg[:eoi] + jpeg[last_scan:eoi] * copies + jpeg[eoi:]


def jpeg_scan_count(data: bytes) -> int:
    return data.count(b"\xff\xda")


def cmyk_jpeg(size: tuple[int, int] = (40, 30)) -> bytes:
    """CMYK JPEG; Pillow writes the Adobe APP14 segment that must survive stripping."""
    return _save(picture(size, "CMYK"), "JPEG", quality=90)


def grey_jpeg(size: tuple[int, int] = (40, 30)) -> bytes:
    return _save(picture(size, "L"), "JPEG", quality=90)


def jpeg_with_metadata(
    size: tuple[int, int] = (64, 48), orientation: int = 6, *, progressive: bool = False
) -> bytes:
    """EXIF (GPS, make/model, date taken, serial, orientation), XMP, IPTC, a COM comment and an
    ICC profile: everything a phone or an editor leaves in a JPEG."""
    jpeg = _save(
        picture(size),
        "JPEG",
        quality=90,
        progressive=progressive,
        exif=exif_bytes(orientation),
        icc_profile=srgb_icc(),
        comment=COMMENT,
        xmp=XMP_PACKET,
    )
    iptc = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00" + struct.pack(">I", 20) + b"\x1c\x02\x50"
    iptc += struct.pack(">H", len(IPTC_BYLINE)) + IPTC_BYLINE
    return _insert_after_soi(jpeg, _jpeg_segment(0xED, iptc))


def jpeg_with_jfif_thumbnail(size: tuple[int, int] = (32, 24)) -> bytes:
    """A JFIF APP0 segment carrying a 2x2 uncompressed preview."""
    jpeg = plain_jpeg(size)
    assert jpeg[2:4] == b"\xff\xe0"
    app0_end = 4 + struct.unpack_from(">H", jpeg, 4)[0]
    jfif = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01" + b"\x02\x02" + bytes(range(12))
    return jpeg[:2] + _jpeg_segment(0xE0, jfif) + jpeg[app0_end:]


def jpeg_with_mpf_image(size: tuple[int, int] = (48, 32)) -> bytes:
    """A multi-picture (MPO) file as phones write them: the primary JPEG with an MPF APP2
    index, then a second JPEG carrying its own EXIF, which is trailing data to the primary."""
    second = picture(size, seed=7)
    return _save(picture(size), "MPO", save_all=True, append_images=[second], exif=exif_bytes(1))


# -- PNG -------------------------------------------------------------------------------------


def plain_png(size: tuple[int, int] = (32, 24), mode: str = "RGB") -> bytes:
    return _save(picture(size, mode), "PNG")


def png_with_text(size: tuple[int, int] = (32, 24), orientation: int = 1) -> bytes:
    """tEXt, zTXt, iTXt (XMP), eXIf (GPS and camera) and tIME chunks around the image."""
    info = PngInfo()
    info.add_text("Comment", TEXT_SECRET)
    info.add_text("Author", TEXT_SECRET, zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP_PACKET.decode("utf-8"))
    info.add(b"tIME", struct.pack(">HBBBBB", 2024, 5, 1, 12, 34, 56))
    png = _save(picture(size), "PNG", pnginfo=info, exif=exif_bytes(orientation))
    # A text chunk after the image data too: they are allowed anywhere before IEND.
    iend = png.rindex(b"IEND") - 4
    return png[:iend] + png_chunk(b"tEXt", b"Software\x00" + TEXT_SECRET.encode()) + png[iend:]


def png_16bit(size: tuple[int, int] = (32, 24)) -> bytes:
    """16-bit greyscale (Pillow mode I;16)."""
    grey = picture(size, "L").convert("I").point(lambda v: v * 257)
    return _save(grey.convert("I;16"), "PNG")


def png_rgb16(size: tuple[int, int] = (8, 6)) -> bytes:
    """16-bit RGB, written by hand (Pillow cannot write it)."""
    w, h = size
    rows = b"".join(
        b"\x00"
        + b"".join(struct.pack(">HHH", x * 4000, y * 9000, (x * y * 77) % 65536) for x in range(w))
        for y in range(h)
    )
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def interlaced_png(size: tuple[int, int] = (33, 21)) -> bytes:
    """Adam7 interlaced RGB PNG, written by hand (Pillow cannot write interlaced PNG)."""
    image = picture(size)
    w, h = size
    passes = (
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    )
    raw = b""
    for x0, y0, dx, dy in passes:
        for y in range(y0, h, dy):
            row = b"".join(bytes(image.getpixel((x, y))) for x in range(x0, w, dx))
            if row:
                raw += b"\x00" + row
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )


def palette_png_with_transparency(size: tuple[int, int] = (32, 24)) -> bytes:
    image = picture(size).quantize(16)
    return _save(image, "PNG", transparency=0)


def rgba_png(size: tuple[int, int] = (32, 24)) -> bytes:
    image = picture(size).convert("RGBA")
    image.putalpha(Image.linear_gradient("L").resize(size))
    return _save(image, "PNG")


def animated_png(frames: int = 3, size: tuple[int, int] = (16, 16)) -> bytes:
    images = [picture(size, seed=i) for i in range(frames)]
    return _save(images[0], "PNG", save_all=True, append_images=images[1:], duration=100, loop=0)


def header_bomb_png(width: int = 60000, height: int = 60000) -> bytes:
    """A tiny file whose IHDR claims a huge image (a decompression bomb's calling card)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def zero_png(width: int, height: int, *, bit_depth: int, colour_type: int, row_bytes: int) -> bytes:
    """A real, complete PNG whose every pixel is zero: a tiny file for a huge image."""
    deflate = zlib.compressobj(9)
    row = bytes(1 + row_bytes)  # filter byte 0, then the row's zero samples
    body = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", body)
        + png_chunk(b"IEND", b"")
    )


def one_bit_png(width: int = 30000, height: int = 30000) -> bytes:
    """A real, complete 1-bit black image: ~100 KB of file for width*height pixels."""
    return zero_png(width, height, bit_depth=1, colour_type=0, row_bytes=(width + 7) // 8)


def _idat_span(png: bytes) -> tuple[int, int]:
    """Start and end of the first IDAT chunk's data."""
    pos = png.index(b"IDAT") - 4
    length = struct.unpack_from(">I", png, pos)[0]
    return pos + 8, pos + 8 + length


def png_with_flipped_data_byte(png: bytes | None = None, *, fix_crc: bool = False) -> bytes:
    """One bit of compressed image data flipped; fix_crc=True recomputes the chunk CRC so only
    the zlib stream (or the pixels) can tell."""
    png = png or plain_png((64, 48))
    start, end = _idat_span(png)
    data = bytearray(png)
    data[(start + end) // 2] ^= 0x10
    if fix_crc:
        struct.pack_into(">I", data, end, zlib.crc32(bytes(data[start - 4 : end])))
    return bytes(data)


def png_with_bad_crc(png: bytes | None = None) -> bytes:
    png = png or plain_png()
    _, end = _idat_span(png)
    data = bytearray(png)
    data[end] ^= 0xFF
    return bytes(data)


def html_zip() -> bytes:
    """A ZIP archive with an HTML file inside: the payload hidden in images by polyglot tricks."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("payload.html", "<html><script>alert(1)</script></html>")
    return archive.getvalue()


def png_followed_by_zip() -> bytes:
    return plain_png() + html_zip()


def png_with_chunk(ctype: bytes, payload: bytes, png: bytes | None = None) -> bytes:
    """A chunk inserted right after IHDR (where the colour chunks go)."""
    png = png or plain_png()
    return png[:33] + png_chunk(ctype, payload) + png[33:]


def png_with_idat_extra(extra: bytes, *, own_chunk: bool, png: bytes | None = None) -> bytes:
    """Bytes after the end of the image data's zlib stream (its Adler-32 checksum): in the
    last IDAT chunk itself, or in an IDAT chunk of their own after it."""
    png = png or plain_png()
    start, end = _idat_span(png)
    chunks = [png[start:end], extra] if own_chunk else [png[start:end] + extra]
    return png[: start - 8] + b"".join(png_chunk(b"IDAT", c) for c in chunks) + png[end + 4 :]


def png_with_many_chunks(count: int) -> bytes:
    png = plain_png()
    return png[:33] + png_chunk(b"prIv", b"") * count + png[33:]


# -- GIF -------------------------------------------------------------------------------------

_ONE_PIXEL_FRAME = b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00"


def _gif_sub_blocks(payload: bytes) -> bytes:
    pieces = [payload[i : i + 255] for i in range(0, len(payload), 255)]
    return b"".join(bytes([len(piece)]) + piece for piece in pieces) + b"\x00"


def animated_gif(
    frames: int = 3, size: tuple[int, int] = (16, 16), *, metadata: bool = True
) -> bytes:
    """Looping GIF; with metadata: a comment extension and an XMP application extension."""
    images = [picture(size, seed=i).convert("P") for i in range(frames)]
    options: dict[str, object] = {"comment": COMMENT} if metadata else {}
    gif = _save(
        images[0], "GIF", save_all=True, append_images=images[1:], duration=80, loop=0, **options
    )
    if not metadata:
        return gif
    assert gif.endswith(b";")
    # Application extension: an 11-byte identifier block, then data sub-blocks.
    xmp = b"!\xff\x0bXMP DataXMP" + _gif_sub_blocks(XMP_PACKET)
    return gif[:-1] + xmp + b";"


def gif_with_loop_extension(*sub_blocks: bytes) -> bytes:
    """A looping GIF whose NETSCAPE2.0 extension has these sub-blocks (the real one: 1, loop
    count) instead of Pillow's."""
    gif = animated_gif(metadata=False)
    start = gif.index(b"!\xff\x0bNETSCAPE2.0")
    end = gif.index(b"\x00", start + 14 + 4)  # Pillow writes the one 3-byte sub-block
    blocks = b"".join(bytes([len(b)]) + b for b in sub_blocks) + b"\x00"
    return gif[:start] + b"!\xff\x0bNETSCAPE2.0" + blocks + gif[end + 1 :]


def gif_with_comment_sub_blocks(count: int, size: int = 1) -> bytes:
    """A still GIF with a comment extension of `count` sub-blocks of `size` bytes each."""
    gif = still_gif()
    header_end = 13 + (3 << ((gif[10] & 7) + 1) if gif[10] & 0x80 else 0)
    body = (bytes([size]) + b"c" * size) * count + b"\x00"
    return gif[:header_end] + b"!\xfe" + body + gif[header_end:]


def still_gif(size: tuple[int, int] = (16, 16)) -> bytes:
    return _save(picture(size).convert("P"), "GIF")


def many_frame_gif(frames: int) -> bytes:
    """A GIF of `frames` 1x1 frames, built without Pillow so 5000 frames cost nothing."""
    head = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
    return head + _ONE_PIXEL_FRAME * frames + b";"


# -- WebP ------------------------------------------------------------------------------------


def still_webp(
    size: tuple[int, int] = (32, 24), *, lossless: bool = False, metadata: bool = False
) -> bytes:
    options: dict[str, object] = {"exif": exif_bytes(1), "xmp": XMP_PACKET} if metadata else {}
    return _save(picture(size), "WEBP", lossless=lossless, quality=80, **options)


def animated_webp(
    frames: int = 3,
    size: tuple[int, int] = (16, 16),
    *,
    metadata: bool = True,
    orientation: int = 1,
) -> bytes:
    """Animated WebP; with metadata: EXIF (GPS, camera) and XMP chunks."""
    images = [picture(size, seed=i) for i in range(frames)]
    options: dict[str, object] = (
        {"exif": exif_bytes(orientation), "xmp": XMP_PACKET} if metadata else {}
    )
    return _save(
        images[0],
        "WEBP",
        save_all=True,
        append_images=images[1:],
        duration=80,
        loop=0,
        lossless=True,
        **options,
    )


def riff(*chunks: bytes) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def riff_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(fourcc, chunk with header and padding) of each top-level chunk."""
    out, pos = [], 12
    while pos + 8 <= len(data):
        fourcc, size = struct.unpack_from("<4sI", data, pos)
        end = pos + 8 + size + (size & 1)
        out.append((fourcc, data[pos:end]))
        pos = end
    return out


def webp_with_chunk_after_header(chunk: bytes, flags: int = 0) -> bytes:
    """An extended still WebP with `chunk` right after its VP8X header (`flags` added there)."""
    vp8x, *rest = [chunk for _, chunk in webp_chunks(still_webp(metadata=True))]
    return riff(vp8x[:8] + bytes([vp8x[8] | flags]) + vp8x[9:], chunk, *rest)


def webp_with_icc(profile: bytes) -> bytes:
    """An extended still WebP with an ICCP chunk (and the ICC flag) holding `profile`."""
    return webp_with_chunk_after_header(riff_chunk(b"ICCP", profile), flags=0x20)


def webp_with_many_chunks(count: int) -> bytes:
    vp8x, *rest = [chunk for _, chunk in webp_chunks(still_webp(metadata=True))]
    return riff(vp8x, riff_chunk(b"prIv", b"") * count, *rest)


# -- helpers for any format ------------------------------------------------------------------


def with_trailing(data: bytes, extra: bytes = b"<script>alert('hi')</script>") -> bytes:
    return data + extra


def truncated(data: bytes, fraction: float = 0.6) -> bytes:
    return data[: int(len(data) * fraction)]


def frames_pixels(data: bytes) -> list[tuple[str, tuple[int, int], bytes]]:
    """(mode, size, raw pixels) of every frame as Pillow decodes it: for bit-exact comparisons."""
    with Image.open(io.BytesIO(data)) as image:
        return [(f.mode, f.size, f.tobytes()) for f in ImageSequence.Iterator(image)]


# -- things that are not allowed images ------------------------------------------------------

SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script></svg>"
)
SVG_WITH_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n' + SVG
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
HTML_WITH_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n" + HTML
TEXT = b"just some text, not an image\n"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def tiff() -> bytes:
    return _save(picture((8, 8)), "TIFF")


def bmp() -> bytes:
    return _save(picture((8, 8)), "BMP")


def varied_picture(seed: int) -> Image.Image:
    """One of many distinct pictures of varied kinds and sizes (for perceptual-hash tests):
    gradient scenes, photo-like grain, and flat backgrounds with random shapes."""
    rng = random.Random(seed)
    size = rng.choice([(640, 480), (480, 640), (800, 600), (500, 500)])
    kind = seed % 3
    if kind == 0:
        return picture(size, seed=seed)
    if kind == 1:
        return photo(size, seed=seed)
    w, h = size
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randrange(3, 30)):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        box = (x0, y0, x0 + rng.randrange(10, w // 2), y0 + rng.randrange(10, h // 2))
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = rng.choice("rel")
        if shape == "r":
            draw.rectangle(box, fill=colour)
        elif shape == "e":
            draw.ellipse(box, fill=colour)
        else:
            draw.line(box, fill=colour, width=rng.randrange(1, 20))
    return image


def encode(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    """The picture saved in a format (public twin of _save for tests that build variants)."""
    if fmt in ("JPEG",) and image.mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")
    return _save(image, fmt, **options)
