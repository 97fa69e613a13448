"""Turning whatever the user dropped or pasted into things to upload.

The drop zone reduces a QMimeData to plain values (file paths, image bytes, HTML, text); this module
decides what they mean. Downloads of http(s) URLs happen later, in a worker (`download_image`).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests

from desktop.core.api import USER_AGENT

IMAGE_SUFFIXES = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".apng",
        ".gif",
        ".webp",
        ".bmp",
        ".tif",
        ".tiff",
        ".heic",
        ".heif",
        ".avif",
    }
)
# Largest image fetched from a URL; the server's own default limit is 25 MB.
MAX_DOWNLOAD_BYTES = 25 * 1024 * 1024
_EXT_FOR_MIME = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/tiff": ".tiff",
}


class IntakeError(Exception):
    """A dropped thing that cannot be uploaded; the message is shown to the user."""


@dataclass(frozen=True)
class FileSource:
    path: Path

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class BytesSource:
    data: bytes
    name: str
    mime: str = ""


@dataclass(frozen=True)
class UrlSource:
    url: str

    @property
    def name(self) -> str:
        return Path(unquote(urlparse(self.url).path)).name or "image"


Source = FileSource | BytesSource | UrlSource


def file_sources(paths: Iterable[Path]) -> list[Source]:
    """Files and folders (expanded to their images when staged) as things to upload."""
    return [FileSource(Path(p)) for p in paths]


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given (the user chose them; the server judges the type), folders expanded to the
    image files inside them, recursively, in a stable order. Duplicates are dropped."""
    seen: set[Path] = set()
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                (p for p in path.rglob("*") if p.is_file() and is_image_name(p)),
                key=lambda p: str(p).lower(),
            )
        elif path.is_file():
            found = [path]
        else:
            continue
        for p in found:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                out.append(p)
    return out


def extension_for(mime: str) -> str:
    return _EXT_FOR_MIME.get(mime) or mimetypes.guess_extension(mime or "") or ".img"


def parse_data_uri(uri: str) -> BytesSource:
    """`data:image/png;base64,....` to bytes. Only images are accepted."""
    match = re.match(r"data:([^;,]*)((?:;[^;,]*)*),(.*)\Z", uri.strip(), re.S)
    if not match:
        raise IntakeError("This is not a valid data: link.")
    mime = (match.group(1) or "text/plain").lower()
    if not mime.startswith("image/"):
        raise IntakeError(f"The dropped data is {mime}, not an image.")
    payload = match.group(3)
    try:
        if ";base64" in match.group(2).lower():
            data = base64.b64decode(re.sub(r"\s+", "", unquote(payload)), validate=True)
        else:
            data = unquote(payload).encode("latin-1")
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise IntakeError("The dropped image data is damaged.") from exc
    return BytesSource(data, "pasted-image" + extension_for(mime), mime)


class _ImgSrcParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            src = dict(attrs).get("src")
            if src:
                self.sources.append(src.strip())


def image_sources_in_html(html: str) -> list[str]:
    parser = _ImgSrcParser()
    parser.feed(html)
    parser.close()
    return parser.sources


def is_web_url(text: str) -> bool:
    parsed = urlparse(text.strip())
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def sources_from_drop(
    *,
    paths: Iterable[Path] = (),
    urls: Iterable[str] = (),
    html: str = "",
    text: str = "",
    image: tuple[bytes, str] | None = None,
) -> list[Source]:
    """What a drop or paste means, best source first.

    Local files win (the user's own originals). Then the HTML's `<img>`: a `data:` URI carries the
    original bytes, an http(s) src is the full image a browser drag points at. Then raw image
    bytes (re-encoded by the source app, so less faithful), then a plain http(s) URL.
    """
    local = list(paths)
    if local:
        # Folders are expanded later, by `expand_paths` in a worker: no disk walk in the GUI.
        return [FileSource(p) for p in local]
    sources: list[Source] = []
    for src in image_sources_in_html(html) if html else []:
        if src.startswith("data:"):
            try:
                sources.append(parse_data_uri(src))
            except IntakeError:
                continue
        elif is_web_url(src):
            sources.append(UrlSource(src))
    if sources:
        return sources
    if image is not None:
        data, mime = image
        return [BytesSource(data, "pasted-image" + extension_for(mime), mime)]
    candidates = [u for u in urls if is_web_url(u)]
    candidates += [line.strip() for line in text.splitlines() if is_web_url(line)]
    seen: set[str] = set()
    for url in candidates:
        if url.startswith("data:"):
            continue
        if url not in seen:
            seen.add(url)
            sources.append(UrlSource(url))
    if not sources:
        for line in (text or "").splitlines():
            if line.strip().startswith("data:image/"):
                sources.append(parse_data_uri(line))
    return sources


def download_problem(exc: requests.RequestException) -> str:
    """What went wrong, in words (never an exception's class name)."""
    if isinstance(exc, requests.exceptions.SSLError):
        return "its secure connection could not be verified"
    if isinstance(exc, requests.exceptions.Timeout):
        return "the site took too long to answer"
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return "the site redirected too many times"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "the site could not be reached"
    return "the site's answer could not be read"


def download_image(
    url: str,
    *,
    session: requests.Session | None = None,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
    timeout: tuple[float, float] = (10.0, 30.0),
) -> BytesSource:
    """Fetch an image from the web: refuses non-image content types and stops reading at
    `max_bytes`, so a hostile or mistaken link cannot fill memory."""
    if not is_web_url(url):
        raise IntakeError(f"Only http and https links can be downloaded, not {url!r}.")
    session = session or requests.Session()
    try:
        with session.get(
            url, stream=True, timeout=timeout, headers={"User-Agent": USER_AGENT}
        ) as response:
            if response.status_code >= 400:
                raise IntakeError(
                    f"Could not download {url}: the site answered {response.status_code}."
                )
            mime = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if not mime.startswith("image/"):
                raise IntakeError(
                    f"{url} is not an image (the site says it is {mime or 'of no known type'})."
                )
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise IntakeError(f"{url} is too large (over {max_bytes // (1024 * 1024)} MB).")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise IntakeError(f"{url} is too large (over {max_bytes // (1024 * 1024)} MB).")
                chunks.append(chunk)
    except requests.RequestException as exc:
        raise IntakeError(
            f"Could not download {url}: {download_problem(exc)}. Check the link, or save the "
            "image and drop the file."
        ) from exc
    name = UrlSource(url).name
    if not Path(name).suffix:
        name += extension_for(mime)
    return BytesSource(b"".join(chunks), name, mime)
