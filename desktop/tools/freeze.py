"""What goes into the packaged app: the rules `build.spec` applies, kept here as plain functions
so that tests can check them without running PyInstaller (and without Qt).

The rules, in short (docs/PACKAGING.md explains every one):
- Python modules the app never runs are excluded: the scale-out extras (boto3, psycopg, redis),
  uvloop (the embedded server runs on asyncio), websockets (the server has no WebSocket route),
  test tools, Tk, and Pillow's AVIF codec and FreeType text rendering.
- Qt plugins are kept by allow-list: the platforms (xcb, wayland, offscreen; windows; cocoa), the
  Wayland shell and decorations, the image formats picdrop reads (jpeg, gif, webp, svg, ico),
  the SVG icon engine, the TLS backends, the input methods (compose, ibus) and the XDG desktop
  portal theme (dark mode, native dialogs under Flatpak). Everything else is dropped (QML
  tooling, SQL drivers, print support, PDF, EGL device integrations, network information...).
- Qt libraries nothing of the above needs are dropped (QML, Quick, PDF, OpenGL, the Wayland
  compositor, Designer...); Qt's translations are dropped (the UI is English only).
- ICU's data library (Linux; 31 MB) is rebuilt without the parts Qt never asks ICU for: Qt calls
  ICU only for collation, text codecs, case mapping and time-zone names (the `_73` symbols its
  libraries import), so the break-iterator dictionaries and the display names of languages,
  regions, currencies and units, transliteration and number spell-out rules go (15 MB).
- Linux system libraries that every desktop has and that must match the running system (X11, the
  graphics stack, fontconfig/freetype, glib, libstdc++) are not shipped; the xcb utility libraries
  and xkbcommon, which many minimal installs lack and Qt's xcb plugin needs, are.
"""

from __future__ import annotations

import ast
import posixpath
import re
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[2]

EXCLUDED_MODULES = [
    # scale-out extras: optional, never used by the embedded server
    "boto3",
    "botocore",
    "s3transfer",
    "psycopg",
    "psycopg_binary",
    "psycopg_pool",
    "psycopg2",
    "redis",
    "pymongo",
    "pymemcache",
    "coredis",
    "valkey",
    # server extras uvicorn would pick up if installed
    "uvloop",
    "websockets",
    "wsproto",
    "watchfiles",
    "dotenv",
    "yaml",
    # pretty printers that pydantic and mako load only when present
    "rich",
    "pygments",
    "markdown_it",
    "mdurl",
    # urllib3's optional pyOpenSSL backend (requests uses the standard ssl module)
    "urllib3.contrib.pyopenssl",
    "urllib3.contrib.emscripten",
    "OpenSSL",
    "cryptography",
    # the development environment
    "pytest",
    "_pytest",
    "hypothesis",
    "moto",
    "schemathesis",
    "playwright",
    "PyInstaller",
    "IPython",
    "setuptools",
    "pip",
    "tkinter",
    "_tkinter",
    "pydoc_data",
    # Pillow parts picdrop does not use: AVIF codec (libavif), text rendering (FreeType,
    # HarfBuzz), colour management (LittleCMS), Tk and Qt bridges, screen grabbing
    "PIL._avif",
    "PIL.AvifImagePlugin",
    "PIL._imagingft",
    "PIL._imagingtk",
    "PIL._imagingcms",
    "PIL.ImageCms",
    "PIL.ImageTk",
    "PIL.ImageQt",
    "PIL.ImageGrab",
    "PIL.ImageShow",
    # Qt for Python modules the app does not import (their hooks would drag libraries in)
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtQuickWidgets",
    "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets",
    "PySide6.QtPdf",
    "PySide6.QtPdfWidgets",
    "PySide6.QtPrintSupport",
    "PySide6.QtSql",
    "PySide6.QtTest",
    "PySide6.QtUiTools",
    "PySide6.QtDesigner",
    "PySide6.QtHelp",
    "PySide6.QtXml",
    "PySide6.QtConcurrent",
    "PySide6.QtStateMachine",
    "PySide6.QtSvgWidgets",
]

# Qt plugins to keep, by plugin directory; file names are compared without "lib" and extension.
KEEP_QT_PLUGINS: dict[str, set[str] | None] = {
    "platforms": {"qxcb", "qwayland", "qoffscreen", "qwindows", "qcocoa"},
    "platformthemes": {"qxdgdesktopportal"},  # not qgtk3: it would pull GTK into the bundle
    "platforminputcontexts": {
        "composeplatforminputcontextplugin",
        "ibusplatforminputcontextplugin",
    },
    "wayland-shell-integration": {"xdg-shell"},
    "wayland-decoration-client": {"bradient", "adwaita"},
    "imageformats": {"qjpeg", "qgif", "qwebp", "qsvg", "qico"},
    "iconengines": {"qsvgicon"},
    "tls": {"qopensslbackend", "qcertonlybackend", "qschannelbackend", "qsecuretransportbackend"},
    "styles": None,  # Windows: the native widget styles (None = all of the folder)
}

# Qt libraries that only dropped plugins or unused modules need (name without lib/Qt6/extension).
DROP_QT_LIBRARIES = re.compile(
    r"^(?:lib)?Qt6(?:Qml\w*|Quick\w*|Pdf\w*|OpenGL\w*|Designer\w*|Help|UiTools|Test|Sql|Xml|"
    r"VirtualKeyboard\w*|Lottie|LabsStyleKit\w*|ShaderTools|WaylandCompositor\w*|"
    r"WlShellIntegration|PrintSupport|Concurrent|StateMachine\w*|SvgWidgets|EglFsKmsSupport|"
    r"EglFSDeviceIntegration|EglFsKmsGbmSupport)(?:\.|$)"
)

# Linux system libraries the target system provides (and must provide: they are tied to its X
# server, graphics driver, font configuration or compiler runtime).
SYSTEM_LIBRARIES = re.compile(
    r"^(?:libX11|libX11-xcb|libXau|libXdmcp|libXext|libXrender|libXi|libXfixes|libSM|libICE|"
    r"libfontconfig|libfreetype|libexpat|libpng16|libharfbuzz|libgraphite2|libbrotli\w*|"
    r"libglib-2\.0|libgthread-2\.0|libgobject-2\.0|libgio-2\.0|libgmodule-2\.0|libpcre2-8|"
    r"libstdc\+\+|libgcc_s|libz|libuuid|libbsd|libmd|libdbus-1|libsystemd|libcap|"
    r"libgcrypt|libgpg-error|liblz4|liblzma|libzstd|libselinux|libmount|libblkid|"
    r"libEGL|libGL|libGLX|libGLdispatch|libOpenGL|libdrm|libgbm|libvulkan)\.so(?:\.|$)"
)


def app_metadata(init_file: Path = REPO / "desktop" / "__init__.py") -> dict[str, str]:
    """Name, display name, id and version from `desktop/__init__.py`, read without importing."""
    wanted = {"APP_NAME", "APP_DISPLAY_NAME", "APP_ID", "ORG_NAME", "__version__"}
    found: dict[str, str] = {}
    for node in ast.parse(init_file.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in wanted:
                    found[target.id] = str(node.value.value)
    missing = wanted - found.keys()
    if missing:
        raise ValueError(f"{init_file} does not define {', '.join(sorted(missing))}")
    return found


def numeric_version(version: str) -> tuple[int, int, int, int]:
    """ "1.2.3rc1" → (1, 2, 3, 0): the four numbers Windows version resources want."""
    numbers = [int(n) for n in re.findall(r"\d+", version.split("+")[0])[:3]]
    return (*numbers, *([0] * (4 - len(numbers))))[:4]  # type: ignore[return-value]


def plugin_kept(dest: str) -> bool | None:
    """For a Qt plugin (`PySide6/Qt/plugins/<folder>/<file>`; `PySide6/plugins/...` on Windows):
    keep it? None when `dest` is not a Qt plugin."""
    parts = PurePosixPath(dest.replace("\\", "/")).parts
    for i in range(len(parts) - 3, 0, -1):
        if parts[i] == "plugins" and parts[i - 1] in ("Qt", "PySide6"):
            folder, name = parts[i + 1], parts[-1]
            break
    else:
        return None
    if folder not in KEEP_QT_PLUGINS:
        return False
    keep = KEEP_QT_PLUGINS[folder]
    stem = name.split(".", 1)[0]
    return keep is None or stem in keep or stem.removeprefix("lib") in keep


def keep_entry(dest: str) -> bool:
    """Whether a file of the analysis (its destination path in the bundle) is shipped."""
    path = PurePosixPath(dest.replace("\\", "/"))
    name = path.name
    kept = plugin_kept(dest)
    if kept is not None:
        return kept
    if "translations" in path.parts and name.endswith(".qm"):
        return False
    if DROP_QT_LIBRARIES.match(name):
        return False
    # PySide6's binding modules for dropped Qt modules (QtQml.abi3.so, QtOpenGL.pyd...)
    if path.parent.name == "PySide6" and re.match(
        r"^Qt(?:Qml|Quick\w*|OpenGL\w*|Pdf\w*|Sql|Test|UiTools|Designer|Help|Xml|PrintSupport)\.",
        name,
    ):
        return False
    return not (len(path.parts) == 1 and SYSTEM_LIBRARIES.match(name))


def filter_toc(entries: Iterable[tuple]) -> tuple[list[tuple], list[tuple]]:
    """Split PyInstaller TOC entries `(dest, src, typecode)` into (kept, dropped)."""
    kept, dropped = [], []
    for entry in entries:
        (kept if keep_entry(entry[0]) else dropped).append(entry)
    return kept, dropped


SHARED_LIBRARY = re.compile(r"\.so(?:\.[\d.]+)?$")


def prune_unreferenced(
    entries: Iterable[tuple], needed_of: Callable[[str], Iterable[str]]
) -> tuple[list[tuple], list[tuple]]:
    """Linux: drop the shared libraries that no kept extension module or Qt plugin needs.

    PyInstaller resolves the dependencies of every plugin its hooks collect before `filter_toc`
    drops the unwanted plugins, so their libraries (GTK for the gtk3 theme, for one) would stay.
    `needed_of(src)` names the libraries a file needs (ldd: the whole closure); a library is kept
    when a root (an extension module, a kept plugin, libpython) needs it, or needs it through
    another kept library. Symbolic links are kept with their targets.
    """
    entries = list(entries)

    def name(entry: tuple) -> str:
        return PurePosixPath(entry[0].replace("\\", "/")).name

    def is_library(entry: tuple) -> bool:
        return entry[2] in ("BINARY", "SYMLINK") and bool(SHARED_LIBRARY.search(name(entry)))

    def is_root(entry: tuple) -> bool:
        return (
            entry[2] == "EXTENSION"
            or plugin_kept(entry[0]) is True
            or name(entry).startswith("libpython")
            or not is_library(entry)
        )

    by_name: dict[str, list[tuple]] = {}
    by_dest = {entry[0]: entry for entry in entries}
    for entry in entries:
        by_name.setdefault(name(entry), []).append(entry)
    keep: set[tuple] = set()
    queue = [entry for entry in entries if is_root(entry)]
    while queue:
        entry = queue.pop()
        if entry in keep:
            continue
        keep.add(entry)
        if entry[2] == "SYMLINK":
            target = posixpath.normpath(posixpath.join(posixpath.dirname(entry[0]), entry[1]))
            if target in by_dest:
                queue.append(by_dest[target])
            continue
        for needed in needed_of(entry[1]):
            queue.extend(by_name.get(needed, ()))
    kept = [e for e in entries if e in keep]
    dropped = [e for e in entries if e not in keep]
    return kept, dropped


# Top-level trees of ICU's data package that no ICU function Qt calls reads: break iterators
# (ubrk_*), unit, currency, language and region display names (unum_*, uldn_*), transliteration
# (utrans_*), rule-based number formats (unum with RBNF). Qt 6 imports ucol_* (collation: coll/),
# ucnv_* (codecs: *.cnv), u_strToUpper/Lower (compiled into libicuuc), ucal_* (time-zone names:
# zone/ and the locale tree): those stay.
ICU_UNUSED_TREES = ("brkitr", "unit", "curr", "lang", "region", "translit", "rbnf")
ICU_TOOLS = ("icupkg", "genccode", "ld")


def elf_symbol_bytes(path: Path, name: str) -> bytes:
    """The bytes of a dynamic symbol (an object) of a 64-bit little-endian ELF library."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path} is not a 64-bit little-endian ELF file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    # (name, type, flags, addr, offset, size, link, info, addralign, entsize)
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)
    ]
    for section in sections:
        if section[1] != 11:  # SHT_DYNSYM
            continue
        strtab = sections[section[6]][4]
        for offset in range(section[4], section[4] + section[5], 24):
            st_name, _info, _other, shndx, value, size = struct.unpack_from("<IBBHQQ", data, offset)
            end = data.index(b"\0", strtab + st_name)
            if data[strtab + st_name : end] == name.encode():
                target = sections[shndx]
                start = target[4] + value - target[3]
                return data[start : start + size]
    raise KeyError(f"{name} not in {path}")


def slim_icu_data(library: Path, workdir: Path) -> tuple[Path, int]:
    """Rebuild `libicudata.so.NN` without ICU_UNUSED_TREES; returns the new library and the
    number of items removed. Needs ICU's icupkg and genccode (Debian: icu-devtools; their ICU
    version does not matter, the package format is stable) and binutils' ld."""
    missing = [tool for tool in ICU_TOOLS if shutil.which(tool) is None]
    if missing:
        raise FileNotFoundError(f"not installed: {', '.join(missing)}")
    library, workdir = library.resolve(), workdir.resolve()
    match = re.fullmatch(r"libicudata\.so\.(\d+)", library.name)
    if match is None:
        raise ValueError(f"not an ICU data library: {library}")
    version = match.group(1)
    workdir.mkdir(parents=True, exist_ok=True)
    full, slim = workdir / "full", workdir / "slim"
    full.mkdir(exist_ok=True)
    slim.mkdir(exist_ok=True)
    package = f"icudt{version}l.dat"
    (full / package).write_bytes(elf_symbol_bytes(library, f"icudt{version}_dat"))

    def run(*command: str | Path) -> str:
        return subprocess.run(
            [str(c) for c in command], cwd=workdir, check=True, capture_output=True, text=True
        ).stdout

    items = run("icupkg", "-l", full / package).split()
    remove = [item for item in items if item.split("/", 1)[0] in ICU_UNUSED_TREES]
    (workdir / "remove.txt").write_text("\n".join(remove) + "\n")
    run("icupkg", "-r", workdir / "remove.txt", full / package, slim / package)
    run(
        "genccode",
        "-q",
        "-o",
        "-e",
        f"icudt{version}",
        "-m",
        library,
        "-d",
        workdir,
        slim / package,
    )
    output = workdir / library.name
    run("ld", "-shared", "-soname", library.name, "-o", output, workdir / f"icudt{version}l_dat.o")
    if elf_symbol_bytes(output, f"icudt{version}_dat") != (slim / package).read_bytes():
        raise RuntimeError(f"{output} does not hold the trimmed ICU data")
    return output, len(remove)


def asset_datas(root: Path = REPO) -> list[tuple[str, str]]:
    """`datas` for PyInstaller: assets/ (without generator scripts and the executable icons),
    and the backend's templates, static files and Alembic migrations (loaded by path)."""
    datas = []
    for path in sorted((root / "assets").rglob("*")):
        if path.is_file() and path.suffix not in (".py", ".ico", ".icns", ".pyc"):
            datas.append((str(path), str(path.parent.relative_to(root))))
    for folder in ("backend/http/templates", "backend/http/static", "backend/catalog/migrations"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                datas.append((str(path), str(path.parent.relative_to(root))))
    return datas


def info_plist(meta: dict[str, str]) -> dict:
    """The macOS bundle's Info.plist additions."""
    version = meta["__version__"]
    image_types = {
        "public.jpeg": "JPEG image",
        "public.png": "PNG image",
        "com.compuserve.gif": "GIF image",
        "org.webmproject.webp": "WebP image",
    }
    return {
        "CFBundleName": meta["APP_DISPLAY_NAME"],
        "CFBundleDisplayName": meta["APP_DISPLAY_NAME"],
        "CFBundleIdentifier": meta["APP_ID"],
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "LSApplicationCategoryType": "public.app-category.photography",
        "LSMinimumSystemVersion": "11.0",
        # A normal Dock app that can also live in the menu bar (tray): LSUIElement would hide
        # the Dock icon and the menu bar, leaving no way back when the tray icon is hidden.
        "LSUIElement": False,
        "NSHighResolutionCapable": True,
        "NSSupportsAutomaticGraphicsSwitching": True,
        "NSRequiresAquaSystemAppearance": False,  # follow dark mode
        "NSPrincipalClass": "NSApplication",
        "NSHumanReadableCopyright": "MIT licence",
        # "Open With" in Finder: picdrop uploads what it is given, it does not own the types.
        "CFBundleDocumentTypes": [
            {
                "CFBundleTypeName": label,
                "CFBundleTypeRole": "Viewer",
                "LSHandlerRank": "Alternate",
                "LSItemContentTypes": [uti],
            }
            for uti, label in image_types.items()
        ],
    }
