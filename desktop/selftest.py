"""`picdrop --self-test`: prove that this installation works, from source or frozen.

Starts the built-in server on a free port of 127.0.0.1 (data in a temporary directory), uploads the
sample photo from `assets/samples/` through the real client, fetches it back through its link and
checks the bytes and that the camera's metadata is gone, then checks the pieces a packaged build
most easily loses: assets, templates, static files and migrations (data files), the Qt platform
plugins, the image-format plugins, the SVG icon engine and both TLS stacks (Python's `ssl` with
certifi's CA bundle, which `requests` uses, and Qt's TLS backend). Prints one line per check and
exits 0 when every check passed, 1 otherwise.

No window is shown: without a display (no DISPLAY / WAYLAND_DISPLAY) Qt runs `offscreen`; the
other platform plugins are still loaded as libraries, so a bundle that lost one fails here.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import platform
import re
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from desktop import __version__

SAMPLE = "samples/camera.jpg"
# What the sample carries (assets/samples/make_samples.py) and the served copy must not.
SAMPLE_SECRETS = (b"Pixelphone", b"SN-0042-7731", b"Jane Doe", b"taken at home")
REQUIRED_IMAGE_FORMATS = ("jpeg", "gif", "webp", "svg", "png")
# Platform plugins a build must carry, per OS (file stems under plugins/platforms).
PLATFORM_PLUGINS = {
    "linux": ("qxcb", "qwayland", "qoffscreen"),
    "win32": ("qwindows", "qoffscreen"),
    "darwin": ("qcocoa", "qoffscreen"),
}
QT_TLS_BACKENDS = {"linux": "openssl", "win32": "schannel", "darwin": "securetransport"}


class CheckFailed(Exception):
    """A check's verdict, with the sentence to print."""


@dataclass
class Report:
    out: TextIO
    results: list[tuple[str, bool]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str, func: Callable[[], str]) -> bool:
        started = time.perf_counter()
        try:
            detail = func()
            ok = True
        except CheckFailed as exc:
            detail, ok = str(exc), False
        except Exception as exc:
            detail, ok = f"{type(exc).__name__}: {exc}", False
            if os.environ.get("PICDROP_SELFTEST_TRACEBACK"):
                traceback.print_exc(file=self.out)
        ms = (time.perf_counter() - started) * 1000
        self.results.append((name, ok))
        self.line("ok" if ok else "FAIL", name, f"{detail} ({ms:.0f} ms)")
        return ok

    def info(self, name: str, detail: str) -> None:
        self.line("info", name, detail)

    def line(self, status: str, name: str, detail: str) -> None:
        print(f"  {status:<5} {name:<14} {detail}", file=self.out, flush=True)

    @property
    def failed(self) -> list[str]:
        return [name for name, ok in self.results if not ok]


def require(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def _platform_key() -> str:
    return "linux" if sys.platform.startswith("linux") else sys.platform


def choose_qt_platform(environ: dict[str, str] | os._Environ = os.environ) -> str | None:
    """The Qt platform to force, if any: `offscreen` on Linux without a display (Qt would
    otherwise abort trying xcb), nothing when the user chose one or a display exists."""
    if environ.get("QT_QPA_PLATFORM"):
        return None
    if _platform_key() == "linux" and not (
        environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")
    ):
        return "offscreen"
    return None


# -- data files and the round trip ------------------------------------------------------------
def check_assets() -> str:
    from desktop.assets import asset_path, assets_root

    names = [
        "icons/picdrop.svg",
        "icons/upload.svg",
        "icons/tray/tray-light.svg",
        "icons/tray/tray-dark.svg",
        "icons/tray/tray-busy.svg",
        "icons/app/picdrop-256.png",
        SAMPLE,
    ]
    for name in names:
        asset_path(name)  # raises FileNotFoundError naming the path
    return f"{len(names)} files under {assets_root()}"


def check_backend_data() -> str:
    from backend.catalog.catalog import MIGRATIONS
    from backend.http.pages import HERE as HTTP_DIR

    required = [
        MIGRATIONS / "env.py",
        HTTP_DIR / "templates" / "viewer.html",
        HTTP_DIR / "static" / "picdrop.css",
    ]
    missing = [str(p) for p in required if not p.is_file()]
    require(not missing, f"missing: {', '.join(missing)}")
    versions = _migration_chain(MIGRATIONS)
    templates = len(list((HTTP_DIR / "templates").glob("*.html")))
    return f"{len(versions)} migration(s), {templates} templates, static files"


def _migration_chain(migrations: Path) -> list[str]:
    """The revisions from the newest back to the first; a missing link is a broken bundle."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrations))
    try:
        chain = [rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()]
    except Exception as exc:  # alembic names the revision that is missing
        require(False, f"migrations incomplete: {exc}")
    require(chain and chain[-1] == "0001", f"migrations incomplete under {migrations}")
    return chain


def check_server(report: Report, tmp: Path) -> str:
    from desktop.embedded import start_embedded_server

    started = time.perf_counter()
    server = start_embedded_server(tmp / "server")
    report.context["server"] = server
    return f"{server.url} up in {(time.perf_counter() - started) * 1000:.0f} ms"


def check_upload(report: Report) -> str:
    from desktop.assets import asset_path
    from desktop.core.api import PicdropClient

    server = report.context.get("server")
    require(server is not None, "no server")
    original = asset_path(SAMPLE).read_bytes()
    client = PicdropClient(server.url, timeout=(5.0, 30.0))
    report.context["client"] = client
    result = client.upload(
        original, "camera.jpg", "image/jpeg", idempotency_key=uuid.uuid4().hex, expires="1h"
    )
    report.context.update(original=original, result=result)
    require(result.mime == "image/jpeg", f"server says {result.mime}, not image/jpeg")
    require((result.width, result.height) == (480, 320), f"size {result.width}x{result.height}")
    return f"201 {result.id} ({len(original):,} B sent, {result.size:,} B stored)"


def check_fetch(report: Report) -> str:
    client, result = report.context.get("client"), report.context.get("result")
    require(result is not None, "nothing uploaded")
    response = client.session.get(result.url, timeout=10)
    require(response.status_code == 200, f"GET {result.url} answered {response.status_code}")
    served = response.content
    report.context["served"] = served
    require(
        response.headers.get("content-type") == "image/jpeg",
        f"Content-Type {response.headers.get('content-type')}",
    )
    require(len(served) == result.size, f"{len(served)} bytes, server said {result.size}")
    digest = hashlib.sha256(served).hexdigest()
    require(digest == result.sha256, f"sha256 {digest[:12]}…, server said {result.sha256[:12]}…")
    return f"{result.url} → {len(served):,} B, sha256 matches"


def jpeg_segments(data: bytes) -> list[int]:
    """The marker bytes of a JPEG's segments before the scan (APPn, COM, DQT, ...)."""
    require(data[:2] == b"\xff\xd8", "not a JPEG")
    markers, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return markers


def check_metadata(report: Report) -> str:
    from PIL import Image

    original, served = report.context.get("original"), report.context.get("served")
    require(served is not None, "nothing fetched")
    for secret in SAMPLE_SECRETS:
        require(secret not in served, f"{secret.decode()!r} is still in the served file")
    kept = [f"APP{m - 0xE0}" for m in jpeg_segments(served) if 0xE1 <= m <= 0xEF]
    kept += ["COM"] * jpeg_segments(served).count(0xFE)
    require(not kept, f"segments left: {', '.join(kept)}")
    image = Image.open(io.BytesIO(served))
    require(not image.getexif(), "EXIF left")
    require(not image.info.get("xmp"), "XMP left")
    before = Image.open(io.BytesIO(original))
    require(before.tobytes() == image.tobytes(), "pixels changed")
    removed = len(original) - len(served)
    return f"EXIF, GPS, serial, XMP and comment removed ({removed:,} B), pixels identical"


def check_pages(report: Report) -> str:
    from PIL import Image

    client, result = report.context.get("client"), report.context.get("result")
    require(result is not None, "nothing uploaded")
    page = client.session.get(result.page_url, timeout=10)
    require(page.status_code == 200 and result.id in page.text, f"viewer {page.status_code}")
    thumb = client.session.get(result.thumbnail_url, timeout=10)
    require(thumb.status_code == 200, f"thumbnail {thumb.status_code}")
    require(Image.open(io.BytesIO(thumb.content)).format == "WEBP", "thumbnail is not WebP")
    # Asset names carry a content hash: take the stylesheet's from the page itself.
    sheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text)
    require(sheet is not None, "the viewer page links no stylesheet")
    css = client.session.get(client.base_url + sheet.group(1), timeout=10)
    require(css.status_code == 200, f"static file {css.status_code}")
    client.delete(result.id, result.delete_token)
    gone = client.session.get(result.url, timeout=10)
    require(gone.status_code == 404, f"after delete the image answers {gone.status_code}")
    return "viewer page, WebP thumbnail, static file, delete → 404"


# -- TLS -----------------------------------------------------------------------------------------
def check_python_tls() -> str:
    import ssl

    import certifi
    import requests.certs

    bundle = Path(certifi.where())
    require(bundle.is_file(), f"certifi's CA bundle is missing: {bundle}")
    require(Path(requests.certs.where()) == bundle, "requests does not use certifi's bundle")
    context = ssl.create_default_context(cafile=str(bundle))
    authorities = context.cert_store_stats()["x509_ca"]
    require(authorities >= 100, f"only {authorities} CA certificates loaded")
    return f"{ssl.OPENSSL_VERSION}, {authorities} CAs from certifi"


def check_qt_tls() -> str:
    from PySide6.QtNetwork import QSslSocket

    backends = QSslSocket.availableBackends()
    expected = QT_TLS_BACKENDS.get(_platform_key())
    require(expected in backends, f"no {expected} TLS backend (have: {', '.join(backends)})")
    require(QSslSocket.supportsSsl(), f"{QSslSocket.activeBackend()} backend cannot do TLS")
    return f"{QSslSocket.activeBackend()} ({QSslSocket.sslLibraryVersionString()})"


# -- Qt -------------------------------------------------------------------------------------------
def check_qt_app(report: Report) -> str:
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "picdrop"])
    report.context["qt_app"] = app
    return f"Qt {qVersion()} (PySide6 {pyside_version}), platform {app.platformName()}"


def plugins_dir() -> Path:
    from PySide6.QtCore import QLibraryInfo

    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))


def plugin_file(folder: Path, stem: str) -> Path | None:
    for candidate in sorted(folder.glob(f"*{stem}*")):
        if candidate.stem in (stem, f"lib{stem}") or candidate.stem.startswith(f"lib{stem}."):
            return candidate
    return None


def check_platform_plugins() -> str:
    """Every platform plugin this OS's build must carry loads as a library. A system library the
    plugin needs but the machine lacks (xcb-cursor, wayland-client...) is the machine's problem
    and only reported; a missing plugin or a missing Qt library is the bundle's and fails."""
    from PySide6.QtCore import QPluginLoader

    folder = plugins_dir() / "platforms"
    loaded, notes = [], []
    for stem in PLATFORM_PLUGINS.get(_platform_key(), ()):
        path = plugin_file(folder, stem)
        require(path is not None, f"{stem} plugin missing from {folder}")
        loader = QPluginLoader(str(path))
        if loader.load():
            loaded.append(stem.removeprefix("q"))
            continue
        error = loader.errorString()
        missing = _missing_library(error)
        require(missing and not missing.startswith("libQt"), f"{stem}: {error}")
        notes.append(f"{stem.removeprefix('q')} needs {missing} from the system")
    return ", ".join(loaded) + " load" + (f"; {'; '.join(notes)}" if notes else "")


def _missing_library(error: str) -> str | None:
    # "Cannot load library /x/libqxcb.so: (libxcb-cursor.so.0: cannot open shared object file...)"
    marker = ": cannot open shared object file"
    if marker not in error:
        return None
    return error.split(marker)[0].rsplit("(", 1)[-1].rsplit(" ", 1)[-1]


def check_image_formats() -> str:
    from PIL import Image
    from PySide6.QtCore import QByteArray, QSize
    from PySide6.QtGui import QIcon, QImage, QImageReader

    from desktop.assets import asset_path

    supported = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
    missing = [f for f in REQUIRED_IMAGE_FORMATS if f not in supported]
    require(not missing, f"no Qt image plugin for {', '.join(missing)} (plugins: {plugins_dir()})")
    decoded = []
    jpeg = QImage(str(asset_path(SAMPLE)))
    require(not jpeg.isNull() and jpeg.width() == 480, "the sample JPEG does not decode")
    decoded.append("jpeg")
    for fmt in ("GIF", "WEBP"):
        out = io.BytesIO()
        Image.new("RGB", (7, 5), "teal").save(out, fmt)
        image = QImage.fromData(QByteArray(out.getvalue()))
        require(not image.isNull() and image.width() == 7, f"a {fmt} does not decode")
        decoded.append(fmt.lower())
    icon = QIcon(str(asset_path("icons/picdrop.svg")))
    pixmap = icon.pixmap(QSize(64, 64))
    require(not pixmap.isNull() and pixmap.width() == 64, "the SVG icon engine does not render")
    decoded.append("svg icon")
    return f"decoded {', '.join(decoded)}"


def check_qt_text() -> str:
    """What Qt asks ICU for on Linux (the bundle ships a trimmed ICU data library, see
    desktop/tools/freeze.py): collation, legacy text codecs, time-zone names, locale case rules."""
    from PySide6.QtCore import QCollator, QDateTime, QLocale, QStringDecoder, QTimeZone

    require(QCollator(QLocale("de_DE")).compare("ä", "b") < 0, "German collation: ä after b")
    require(QCollator(QLocale("sv_SE")).compare("ä", "z") > 0, "Swedish collation: ä before z")
    codecs = ("Shift_JIS", "GB18030", "EUC-KR", "windows-1251", "ISO-8859-2")
    broken = [name for name in codecs if not QStringDecoder(name).isValid()]
    require(not broken, f"no text codec for {', '.join(broken)}")
    name = QTimeZone(b"Europe/Berlin").displayName(
        QDateTime.currentDateTime(), QTimeZone.NameType.LongName, QLocale("de_DE")
    )
    require(name and "Europe/Berlin" not in name, f"no German name for Europe/Berlin: {name!r}")
    if _platform_key() == "linux":  # locale case rules come from ICU, which Linux Qt uses
        require(QLocale("tr_TR").toUpper("i") == "İ", "Turkish upper case of i")
    return f"collation, {len(codecs)} codecs, time-zone names ({name}), case rules"


def check_tray_support(report: Report) -> None:
    """Information only: whether a tray host exists depends on the desktop, not the build."""
    from PySide6.QtWidgets import QSystemTrayIcon

    if report.context.get("qt_app") is None:
        return
    available = QSystemTrayIcon.isSystemTrayAvailable()
    bus = "session bus" if os.environ.get("DBUS_SESSION_BUS_ADDRESS") else "no session bus"
    report.info("tray", f"{'available' if available else 'no tray host'} ({bus})")


# -- the run --------------------------------------------------------------------------------------
@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="picdrop-selftest-") as tmp:
        yield Path(tmp)


def run(out: TextIO | None = None) -> int:
    out = out or sys.stdout
    forced = choose_qt_platform()
    if forced:
        os.environ["QT_QPA_PLATFORM"] = forced
    report = Report(out)
    frozen = "frozen" if getattr(sys, "frozen", False) else "source"
    print(
        f"picdrop {__version__} self-test ({frozen}, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()})",
        file=out,
        flush=True,
    )
    started = time.perf_counter()
    with _scratch() as tmp:
        try:
            report.check("assets", check_assets)
            report.check("backend data", check_backend_data)
            report.check("server", lambda: check_server(report, tmp))
            report.check("upload", lambda: check_upload(report))
            report.check("fetch", lambda: check_fetch(report))
            report.check("metadata", lambda: check_metadata(report))
            report.check("pages", lambda: check_pages(report))
            report.check("tls (python)", check_python_tls)
            report.check("qt", lambda: check_qt_app(report))
            report.check("qt platforms", check_platform_plugins)
            report.check("image formats", check_image_formats)
            report.check("qt text", check_qt_text)
            report.check("tls (qt)", check_qt_tls)
            check_tray_support(report)
        finally:
            if report.context.get("client") is not None:
                report.context["client"].close()
            if report.context.get("server") is not None:
                report.context["server"].stop()
    seconds = time.perf_counter() - started
    total, failed = len(report.results), report.failed
    if failed:
        print(f"self-test FAILED: {len(failed)} of {total} checks ({', '.join(failed)})", file=out)
        return 1
    print(f"self-test passed: {total} checks in {seconds:.1f} s", file=out, flush=True)
    return 0


def main() -> int:
    return run()


if __name__ == "__main__":
    sys.exit(main())
