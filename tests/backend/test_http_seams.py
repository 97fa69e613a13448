"""The HTTP layer uses the image service through its methods, never through the parts the
service is made of (its catalog, blob store, byte cache or settings): source code, no server."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import backend.http

HTTP_MODULES = sorted(Path(backend.http.__file__).parent.glob("*.py"))
SERVICE_PARTS = {"catalog", "store", "cache", "settings"}


def _reaches_into_the_service(node: ast.AST) -> bool:
    """`service.catalog`, `self.service.store`, `request.app.state.service.cache`..."""
    if not isinstance(node, ast.Attribute) or node.attr not in SERVICE_PARTS:
        return False
    owner = node.value
    name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
    return name == "service"


@pytest.mark.parametrize("module", HTTP_MODULES, ids=lambda path: path.name)
def test_http_modules_use_the_service_through_its_methods(module):
    tree = ast.parse(module.read_text(encoding="utf-8"))
    reached = [
        f"{module.name}:{node.lineno}: .service.{node.attr}"
        for node in ast.walk(tree)
        if _reaches_into_the_service(node)
    ]
    assert reached == []
