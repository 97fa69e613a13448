"""Writes `camera.jpg`, the self-test's sample: a small landscape photo as a phone would save it,
with a camera make/model, a serial number, a GPS position, an XMP packet and a JPEG comment —
everything the server must strip. Run once; the JPEG is committed (`picdrop --self-test` uploads
it and checks that none of this comes back).

    python assets/samples/make_samples.py
"""

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="Jane Doe"/>'
    b"</rdf:RDF></x:xmpmeta>"
)


def landscape(width: int = 480, height: int = 320) -> Image.Image:
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / height
        draw.line([(0, y), (width, y)], fill=(int(90 + 150 * t), int(150 + 80 * t), 255))
    draw.ellipse([310, 50, 370, 110], fill=(255, 214, 120))
    draw.polygon([(0, height), (140, 150), (230, 250), (330, 170), (width, height)], (60, 120, 80))
    return image


def main() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Pixelphone"  # Make
    exif[0x0110] = "Pixelphone 9 Pro"  # Model
    exif[0x0131] = "picdrop sample"  # Software
    exif.get_ifd(0x8769)[0xA431] = "SN-0042-7731"  # BodySerialNumber
    exif.get_ifd(0x8825).update({1: "N", 2: (46.0, 33.0, 0.0), 3: "E", 4: (7.0, 58.0, 0.0)})
    landscape().save(
        HERE / "camera.jpg", "JPEG", quality=88, exif=exif, xmp=XMP, comment=b"taken at home"
    )


if __name__ == "__main__":
    main()
