"""The packaged app's size, start-up time to a shown window and idle memory, beside the same
figures for running from source.

    python -m bench.bench_startup [--runs 5] [--build]     # or: make bench-startup
    from bench.bench_startup import run                     # rows for `make bench`

Sizes: the one-folder build `dist/picdrop/`, the one-file build `dist/onefile/picdrop` and the
Linux tarball, as `make dist` / `make dist-onefile` left them; a build that is missing (or all of
them with `--build`) is made with PyInstaller into a temporary directory first.

Start-up: each variant (frozen one-folder, frozen one-file, `python -m desktop` from source) is
started under a private Xvfb with its own empty home; the first start (which creates the data
directory and migrates the database) is reported on its own, then `--runs` more starts with that
home measure the usual start: from spawning the process to its main window being viewable
(xdotool sees it mapped), and the resident memory 3 s later with the window idle (for the one-file
build: its bootloader process plus the app process it unpacks and starts). Medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Row, print_table
from desktop import APP_NAME, __version__
from desktop.tools import gui_probe

ROOT = Path(__file__).resolve().parent.parent
IDLE_SECONDS = 3.0


def tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir())


def is_current(executable: Path) -> bool:
    """A build in dist/ may be measured only if nothing it is made of changed since."""
    if not executable.is_file():
        return False
    sources = [ROOT / "build.spec", *ROOT.glob("backend/**/*"), *ROOT.glob("desktop/**/*"),
               *ROOT.glob("assets/**/*")]  # fmt: skip
    # Bytecode caches appear whenever the sources first run (a fresh clone, the tests): no build
    # is made of them.
    newest = max(p.stat().st_mtime for p in sources if p.is_file() and "__pycache__" not in p.parts)
    return executable.stat().st_mtime >= newest


def build(out: Path, onefile: bool) -> Path:
    """PyInstaller build of build.spec into `out`; the executable's path."""
    env = {**os.environ, "PICDROP_ONEFILE": "1" if onefile else "0"}
    subprocess.run(
        [
            *(sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN"),
            *("--workpath", str(out / "build"), "--distpath", str(out / "dist"), "build.spec"),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return out / "dist" / APP_NAME if onefile else out / "dist" / APP_NAME / APP_NAME


def rss_tree_mb(pid: int) -> float:
    """Resident memory of `pid` and its descendants (the one-file bootloader and its app)."""
    return sum(gui_probe.rss_mb(p) for p in gui_probe.process_tree(pid))


def measure(command: list[str], runs: int, cwd: Path | None = None) -> dict[str, float]:
    """Start-up seconds (first and median of warm starts) and idle MiB (median)."""
    starts, memory = [], []
    first, retries = 0.0, 0
    with tempfile.TemporaryDirectory(prefix="picdrop-bench-home-") as home, gui_probe.xvfb() as d:
        env = gui_probe.app_env(Path(home), d)
        for attempt in range(runs + 1):
            launch = gui_probe.launch_until_window(command, env, d, cwd=cwd)
            retries += launch.retries
            try:
                time.sleep(IDLE_SECONDS)
                idle = rss_tree_mb(launch.process.pid)
            finally:
                launch.stop()
            if attempt == 0:
                first = launch.seconds
            else:
                starts.append(launch.seconds)
                memory.append(idle)
    if retries:
        print(f"{command[-1]}: {retries} start(s) could not reach Xvfb, repeated", file=sys.stderr)
    return {
        "first": first,
        "start": statistics.median(starts),
        "idle_mb": statistics.median(memory),
    }


def run(runs: int = 5, force_build: bool = False) -> list[Row]:
    rows: list[Row] = []
    with ExitStack() as stack:
        onefolder = ROOT / "dist" / APP_NAME / APP_NAME
        onefile = ROOT / "dist" / "onefile" / APP_NAME
        if force_build or not is_current(onefolder):
            onefolder = build(Path(stack.enter_context(tempfile.TemporaryDirectory())), False)
        if force_build or not is_current(onefile):
            onefile = build(Path(stack.enter_context(tempfile.TemporaryDirectory())), True)
        folder_mb = tree_size(onefolder.parent) / 2**20
        rows.append(Row("size", "one-folder build", folder_mb, "MiB", target="< 80 MB (goal)"))
        rows.append(Row("size", "one-file build", tree_size(onefile) / 2**20, "MiB"))
        tarball = ROOT / "dist" / f"{APP_NAME}-{__version__}-linux-x86_64.tar.gz"
        if tarball.is_file():
            rows.append(Row("size", "Linux tarball (.tar.gz)", tree_size(tarball) / 2**20, "MiB"))

        source = measure([sys.executable, "-m", "desktop"], runs, cwd=ROOT)
        for label, program in (("frozen one-folder", onefolder), ("frozen one-file", onefile)):
            frozen = measure([str(program)], runs)
            for key, metric, unit in (
                ("first", "first start", "s"),
                ("start", "window shown", "s"),
                ("idle_mb", "idle RSS", "MiB"),
            ):
                rows.append(
                    Row("startup", f"{metric}, {label}", frozen[key], unit, "source", source[key])
                )
        rows += [
            Row("startup", "first start, source", source["first"], "s"),
            Row("startup", "window shown, source", source["start"], "s"),
            Row("startup", "idle RSS, source", source["idle_mb"], "MiB"),
        ]
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="warm starts per variant (median)")
    parser.add_argument("--build", action="store_true", help="build both variants afresh")
    args = parser.parse_args()
    print_table(run(args.runs, args.build))
