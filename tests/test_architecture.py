"""The seams between the parts, read from the source: no module imports another module's or
package's private names, and the server never imports the desktop app or Qt.

Tests are held to the first rule too: a test that needs a private name is testing an inside,
not a seam.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("backend", "desktop", "bench", "tests")
QT = ("PySide6", "shiboken6", "desktop")


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    module: str  # what is imported from, absolute
    names: tuple[str, ...]  # the names taken from it ("" for a plain `import module`)

    def __str__(self) -> str:
        where = f"{self.path.relative_to(ROOT)}:{self.line}"
        return f"{where}: from {self.module} import {', '.join(self.names)}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    """The package a module belongs to: its own name for an __init__, else its parent's."""
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imports(path: Path, source: str | None = None) -> Iterator[Import]:
    """The imports of the module at `path` (its text, or `source` in its place)."""
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name, ("",))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: from the importer's package, `level - 1` up
                base = package_of(path).split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, module] if module else base)
            yield Import(path, node.lineno, module, tuple(a.name for a in node.names))


def sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_reach(imp: Import) -> str | None:
    """The private name `imp` takes across a seam, if any.

    A private module (`_gif`) is private to its package: the package's modules may import it.
    A private name in a module (`_helper`) is private to that module; a package's modules may
    take private names from its own `__init__` (`from . import _gif`).
    """
    own = package_of(imp.path)
    parts = imp.module.split(".")
    for i, part in enumerate(parts):
        if is_private(part) and ".".join(parts[:i]) != own:
            return imp.module
    for name in imp.names:
        if is_private(name) and imp.module != own:
            return f"{imp.module}.{name}"
    return None


@pytest.mark.parametrize(
    ("source", "reach"),
    [
        ("from backend.catalog.catalog import _writing", "backend.catalog.catalog._writing"),
        ("from backend.images.thumbnail import _helper", "backend.images.thumbnail._helper"),
        ("from backend.storage._s3 import S3", "backend.storage._s3"),
        ("import backend.catalog._internal", "backend.catalog._internal"),
        ("from ..catalog import _writing", "backend.catalog._writing"),
        ("from backend.images._limits import Limits", None),  # its own package's private module
        ("from backend.images._gif import _frames", "backend.images._gif._frames"),
        ("from . import _gif", None),
        ("from backend.images import process", None),
        ("from backend import __version__", None),
    ],
)
def test_the_rule_judges_each_kind_of_import(source, reach):
    """As if written in backend/images/pipeline.py."""
    (imp,) = imports(ROOT / "backend" / "images" / "pipeline.py", source)
    assert private_reach(imp) == reach


@pytest.mark.parametrize("folder", CHECKED)
def test_no_module_imports_another_packages_private_names(folder):
    reaches = [f"{imp}  ({reach})" for p in sources(folder) for imp in imports(p)
               if (reach := private_reach(imp))]  # fmt: skip
    assert not reaches, "private names imported across a seam:\n" + "\n".join(reaches)


def test_the_server_never_imports_the_desktop_app_or_qt():
    found = [
        str(imp) for p in sources("backend") for imp in imports(p) if imp.module.split(".")[0] in QT
    ]
    assert not found, "the server must run without the desktop app and Qt:\n" + "\n".join(found)


# Public API despite the underscore: SQLAlchemy's Row._mapping, and the methods of a namedtuple
# (urllib's SplitResult._replace, say), underscored only to stay clear of field names.
PUBLIC_UNDERSCORED = {"_mapping", "_replace", "_asdict", "_fields", "_make"}


def test_the_server_reaches_into_no_other_objects_insides():
    """`catalog._writing()` from the moderation tables, `service._delete_blob` from moderation:
    what an object keeps private is used by that object (`self`, `cls`) only."""
    found = [
        f"{p.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}"
        for p in sources("backend")
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute)
        and is_private(node.attr)
        and node.attr not in PUBLIC_UNDERSCORED
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]
    assert not found, "private attributes used from outside:\n" + "\n".join(found)


# The parts that make up a running backend: only backend/assembly.py puts them together.
ASSEMBLED = {"ImageService", "Moderation", "store_from_settings"}


def called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def test_the_backend_is_assembled_in_one_place():
    found = [
        f"{p.relative_to(ROOT)}:{node.lineno}: {called_name(node)}(...)"
        for p in sources("backend", "desktop", "bench")
        if p != ROOT / "backend" / "assembly.py"
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and called_name(node) in ASSEMBLED
    ]
    assert not found, "assembled outside backend.assembly.build:\n" + "\n".join(found)
