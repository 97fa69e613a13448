"""Starting the real app under Xvfb and watching it from outside: when its window is shown, how
much memory it holds, what the window looks like. Used by the packaging tests (the frozen GUI
shows its window) and by `bench/bench_startup.py`. Linux only; needs Xvfb, xdotool and
ImageMagick's `import`.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

TOOLS = ("Xvfb", "xdotool", "import")


@contextlib.contextmanager
def xvfb(screen: str = "1280x900x24") -> Iterator[str]:
    """A private X server; yields its display (":N"), leaving os.environ alone.

    The display number is drawn from 100–999 rather than the first free one: other test runs
    on the same machine start X servers too, and the low numbers are where they meet. Xvfb
    writes the number to `-displayfd` once it accepts clients; a taken number makes it exit,
    and another is tried."""
    xvfb_program = shutil.which("Xvfb") or "Xvfb"
    for _attempt in range(20):
        wanted = random.randrange(100, 1000)
        if Path(f"/tmp/.X{wanted}-lock").exists():
            continue
        read_fd, write_fd = os.pipe()
        process = subprocess.Popen(
            [
                xvfb_program,
                f":{wanted}",
                "-displayfd",
                str(write_fd),
                "-screen",
                "0",
                screen,
                "-nolisten",
                "tcp",
            ],
            pass_fds=(write_fd,),
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()  # empty when the server exited instead
        if number:
            break
        process.wait(10)
    else:
        raise RuntimeError("Xvfb did not start")
    try:
        yield f":{number}"
    finally:
        process.terminate()
        process.wait(10)


def app_env(home: Path, display: str | None, base: Mapping[str, str] = os.environ) -> dict:
    """An environment for one run of the app with its own home, settings and data (so nothing
    of the developer's leaks in), on `display` with the xcb platform plugin."""
    env = {
        k: v
        for k, v in base.items()
        if not k.startswith(("PICDROP_", "QT_", "XDG_", "WAYLAND_")) and k != "DISPLAY"
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_STATE_HOME=str(home / "state"),
    )
    if display:
        env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
    else:
        env.update(QT_QPA_PLATFORM="offscreen")
    return env


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (a one-file build's app runs in a child of the bootloader)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree = [pid]
    for member in tree:
        tree.extend(parents.get(member, []))
    return tree


def visible_windows(pid: int, display: str) -> list[str]:
    """Ids of the mapped (viewable) top-level windows of process `pid` or its children
    (_NET_WM_PID)."""
    windows = []
    for member in process_tree(pid):
        result = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--pid", str(member)],
            env={**os.environ, "DISPLAY": display},
            capture_output=True,
            text=True,
            check=False,
        )
        windows += result.stdout.split()
    return windows


@dataclass
class Launch:
    process: subprocess.Popen
    window: str
    seconds: float  # from spawning the process to its window being viewable
    log: IO[bytes]  # the app's stderr
    retries: int = 0  # starts that could not reach the X server and were repeated

    def stop(self, timeout: float = 15.0) -> int:
        try:
            return stop(self.process, timeout)
        finally:
            self.log.close()


def launch_until_window(
    command: Sequence[str],
    env: Mapping[str, str],
    display: str,
    *,
    cwd: Path | None = None,
    timeout: float = 60.0,
    poll: float = 0.01,
    retries: int = 2,
) -> Launch:
    """Start `command` and wait until it shows a window; raises (after killing it) if it exits
    or shows nothing within `timeout`.

    A start that dies with Qt's "could not connect to display" is tried again (up to `retries`
    times, counted in `Launch.retries`): seen rarely here with the one-file build on a loaded
    machine, with the X server up and answering other clients; it says nothing about the app."""
    for attempt in range(retries + 1):
        try:
            launch = _launch_once(command, env, display, cwd, timeout, poll)
        except _NoDisplay:
            if attempt == retries:
                raise
            continue
        launch.retries = attempt
        return launch
    raise AssertionError("unreachable")


class _NoDisplay(RuntimeError):
    pass


def _launch_once(command, env, display, cwd, timeout, poll) -> Launch:
    # stderr to a file, not a pipe: a chatty app must never block on a full pipe
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by Launch.stop or on failure)
    started = time.perf_counter()
    process = subprocess.Popen(
        list(command), env=dict(env), cwd=cwd, stdout=subprocess.DEVNULL, stderr=log
    )
    deadline = started + timeout
    while time.perf_counter() < deadline:
        windows = visible_windows(process.pid, display)
        if windows:
            return Launch(process, windows[0], time.perf_counter() - started, log)
        if process.poll() is not None:
            log.seek(0)
            err = log.read().decode(errors="replace")
            log.close()
            error = _NoDisplay if "could not connect to display" in err else RuntimeError
            raise error(f"{command[0]} exited with {process.returncode}:\n{err[-3000:]}")
        time.sleep(poll)
    stop(process)
    log.close()
    raise RuntimeError(f"{command[0]} showed no window within {timeout:.0f} s")


def stop(process: subprocess.Popen, timeout: float = 15.0) -> int:
    """Quit the app the way Ctrl+C in its terminal does (SIGINT), then wait; kill if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def rss_mb(pid: int) -> float:
    """Resident memory of `pid` now (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def screenshot(window: str, display: str, out: Path) -> Path:
    """The window's pixels as PNG (ImageMagick `import`, straight from the X server)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["import", "-window", window, str(out)],
        env={**os.environ, "DISPLAY": display},
        check=True,
        capture_output=True,
    )
    return out
