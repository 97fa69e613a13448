"""The install layout: `pip install picdrop-*.whl` is the server alone (no Qt, no test tools) and
serves uploads; the desktop app comes with the `desktop` extra.

A wheel is built once from a copy of the source, then installed into a fresh venv with the
versions of constraints.txt, as an operator would (docs/DEPLOY.md)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import requests
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.backend import imagesamples as samples
from tests.services import ServerProcess

REPO = Path(__file__).resolve().parents[2]


def _run(*argv: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{argv}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_constraints_pin_every_requirement_within_its_range():
    """constraints.txt is regenerated (make constraints) whenever pyproject.toml's ranges move."""
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        requirements += [Requirement(r) for r in extra if not r.startswith("picdrop[")]
    unpinned = [
        str(r)
        for r in requirements
        if not r.specifier.contains(pins.get(canonicalize_name(r.name), "none"), prereleases=True)
    ]
    assert unpinned == []


@pytest.fixture(scope="module")
def server_venv(tmp_path_factory) -> Path:
    """A venv with only the wheel (and its base requirements) installed."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"
    for part in ("backend", "desktop"):
        shutil.copytree(REPO / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    _run(
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", root / "wheels", source
    )
    (wheel,) = (root / "wheels").glob("picdrop-*.whl")
    venv = root / "venv"
    _run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    _run(python, "-m", "pip", "install", "--quiet", "-c", REPO / "constraints.txt", wheel)
    return venv


def _in_venv(venv: Path, code: str):
    return json.loads(_run(venv / "bin" / "python", "-c", code, cwd=venv))


@pytest.mark.slow
def test_the_base_install_has_no_desktop_or_test_dependencies(server_venv):
    found = _in_venv(
        server_venv,
        "import importlib.util, json; print(json.dumps({m: importlib.util.find_spec(m) is not None"
        " for m in ('backend', 'PySide6', 'shiboken6', 'requests_toolbelt', 'pytest')}))",
    )
    assert found == {
        "backend": True,
        "PySide6": False,
        "shiboken6": False,
        "requests_toolbelt": False,
        "pytest": False,
    }


@pytest.mark.slow
def test_the_desktop_extra_brings_pyside6_and_the_base_does_not(server_venv):
    requires = _in_venv(
        server_venv,
        "import importlib.metadata as m, json; print(json.dumps(m.requires('picdrop')))",
    )
    pyside = [r for r in requires if r.lower().startswith("pyside6")]
    assert pyside and all('extra == "desktop"' in r for r in pyside), pyside
    assert all("!=6.12.0" in r for r in pyside), "the excluded PySide6 release must stay excluded"
    toolbelt = [r for r in requires if r.startswith("requests-toolbelt")]
    assert toolbelt and all('extra == "dev"' in r for r in toolbelt), toolbelt
    base = [r for r in requires if "extra ==" not in r]
    assert not any(r.lower().startswith(("pyside6", "requests", "psycopg", "boto3")) for r in base)


@pytest.mark.slow
def test_the_base_install_serves_an_upload(server_venv, tmp_path):
    server = ServerProcess(
        {}, tmp_path, "wheel", command=[str(server_venv / "bin" / "picdrop-server"), "serve"]
    )
    server.start().wait()
    try:
        data = samples.plain_jpeg()
        created = requests.post(
            f"{server.url}/api/upload", files={"file": ("a.jpg", data)}, timeout=30
        )
        assert created.status_code == 201, created.text
        image = requests.get(created.json()["url"], timeout=30)
        assert image.status_code == 200
        assert hashlib.sha256(image.content).hexdigest() == created.json()["sha256"]
    finally:
        server.stop()


# The backend's own tests, run by the installed server's venv against the installed package (the
# copy of the tests has no `backend` beside it): the server needs nothing of the desktop's.
BACKEND_TESTS = ("test_upload_http.py", "test_serve_http.py", "test_delete_http.py")


@pytest.mark.slow
def test_the_backend_tests_pass_on_the_base_install(server_venv, tmp_path):
    python = server_venv / "bin" / "python"
    tools = ("pytest", "pytest-timeout", "requests")
    _run(python, "-m", "pip", "install", "--quiet", "-c", REPO / "constraints.txt", *tools)
    suite = tmp_path / "suite"
    shutil.copytree(
        REPO / "tests" / "backend",
        suite / "tests" / "backend",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for name in ("__init__.py", "conftest.py", "services.py"):
        shutil.copy(REPO / "tests" / name, suite / "tests" / name)
    (suite / "pytest.ini").write_text(
        "[pytest]\npythonpath = .\naddopts = -p no:cacheprovider\nfilterwarnings = error\n"
        "timeout = 300\nmarkers =\n    slow: long-running\n"
    )
    tests = [f"tests/backend/{name}" for name in BACKEND_TESTS]
    output = _run(python, "-m", "pytest", "-q", *tests, cwd=suite)
    assert " passed" in output and " failed" not in output
