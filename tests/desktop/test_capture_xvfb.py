"""Capturing for real, under an X server with a window manager: the running app (tests/desktop/
capture_app.py) is driven by the `picdrop capture` command and by real input (xdotool); what
comes back is checked on the bytes the server serves and on the X clipboard."""

from __future__ import annotations

import io
import json
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from PIL import Image, ImageChops

from desktop.commands.status import EXIT_CANCELLED, EXIT_OK
from desktop.core.markup import RED, REDACT_FILL, block_size
from desktop.core.selection import Rect
from tests.conftest import require_program
from tests.desktop.conftest import HERE, REPO, child_env

WIDTH, HEIGHT = 240, 160
WAIT = 90  # seconds; two cores shared with other tests


def known_picture() -> Image.Image:
    """A busy pattern (each row shifted against the last): a selection off by one pixel shows,
    and no block of it is flat."""
    return Image.frombytes("RGB", (WIDTH, HEIGHT), bytes(range(256)) * (WIDTH * HEIGHT * 3 // 256))


def same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a, b).getbbox() is None


def flat(image: Image.Image) -> bool:
    return image.getcolors(maxcolors=1) is not None


def wait_for_window_manager(name: str) -> None:
    """Until a window manager announces itself on the root window (EWMH)."""
    from Xlib import X, display

    connection = display.Display(name)
    try:
        check = connection.intern_atom("_NET_SUPPORTING_WM_CHECK")
        root = connection.screen().root
        deadline = time.monotonic() + WAIT
        while root.get_full_property(check, X.AnyPropertyType) is None:
            assert time.monotonic() < deadline, "the window manager did not start"
            time.sleep(0.05)
    finally:
        connection.close()


class Desktop:
    """Xvfb with openbox, a known picture in another program's window, and the picdrop app."""

    def __init__(self, display: str, tmp_path, server_url: str, after: str) -> None:
        self.env = child_env(DISPLAY=display, QT_QPA_PLATFORM="xcb",
                             XDG_RUNTIME_DIR=str(tmp_path / "run"))  # fmt: skip
        (tmp_path / "run").mkdir(mode=0o700)
        self.data_dir = tmp_path / "client"
        self.data_dir.mkdir()
        self.processes: list[subprocess.Popen] = []
        self.app: subprocess.Popen | None = None
        try:
            self._start(display, tmp_path, server_url, after)
        except BaseException:
            self.close()  # nothing of a half-started desktop outlives the test
            raise

    def _start(self, display: str, tmp_path, server_url: str, after: str) -> None:
        self.processes.append(
            subprocess.Popen(["openbox"], env=self.env, stderr=subprocess.DEVNULL)
        )
        wait_for_window_manager(display)  # a window mapped before it manages is lost to it
        known_picture().save(tmp_path / "known.png")
        viewer = ["display", "-title", "known-window", "-geometry", "+40+60"]
        self.viewer_log = tmp_path / "viewer.log"
        with self.viewer_log.open("wb") as log:
            self.viewer = subprocess.Popen(
                [*viewer, str(tmp_path / "known.png")], env=self.env, stderr=log
            )
        self.processes.append(self.viewer)
        self.before_app = self.wait_for_known()
        self.app = subprocess.Popen(
            [sys.executable, str(HERE / "capture_app.py"), server_url, str(self.data_dir), after],
            cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.processes.append(self.app)
        x, y, w, h = self.expect("ready")
        self.app_window = (x, y, x + w, y + h)

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.kill()
            process.wait()
        if self.app is not None:
            self.app.stdout.close()
            self.app.stderr.close()

    # -- the screen --------------------------------------------------------------------------
    def xdo(self, *args: str) -> str:
        done = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True,
                              check=True, timeout=WAIT)  # fmt: skip
        return done.stdout

    def screen(self) -> Image.Image:
        grab = subprocess.run(["import", "-window", "root", "png:-"], env=self.env,
                              capture_output=True, check=True, timeout=WAIT)  # fmt: skip
        return Image.open(io.BytesIO(grab.stdout)).convert("RGB")

    def wait_for_known(self) -> Image.Image:
        """A screenshot once the known picture is drawn; sets `known_at` (its top-left)."""
        row = known_picture().crop((0, 0, WIDTH, 1)).tobytes()
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            shot = self.screen()
            data = shot.tobytes()
            index = data.find(row)
            while index >= 0 and index % 3:
                index = data.find(row, index + 1)
            if index >= 0:
                y, x = divmod(index // 3, shot.width)
                if same(shot.crop((x, y, x + WIDTH, y + HEIGHT)), known_picture()):
                    self.known_at = (x, y)
                    return shot
        viewer = self.viewer.poll()
        raise AssertionError(
            "the known picture never appeared on screen (its viewer "
            + ("is running" if viewer is None else f"exited with {viewer}")
            + f"; its errors: {self.viewer_log.read_text(errors='replace')[-2000:]!r})"
        )

    def clipboard(self, target: str = "UTF8_STRING") -> bytes:
        return subprocess.run(["xclip", "-o", "-selection", "clipboard", "-t", target],
                              env=self.env, capture_output=True, check=True,
                              timeout=WAIT).stdout  # fmt: skip

    # -- the app -----------------------------------------------------------------------------
    def expect(self, key: str) -> object:
        """The value of the app's next report holding `key` (other reports are skipped)."""
        deadline = time.monotonic() + WAIT
        with selectors.DefaultSelector() as selector:
            selector.register(self.app.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    break
                line = self.app.stdout.readline().decode()
                if not line:
                    break
                message = json.loads(line)
                if key in message:
                    return message[key]
        self.app.kill()
        pytest.fail(f"no {key!r} from the app\n{self.app.stderr.read().decode()[-3000:]}")

    def capture(self, *args: str) -> subprocess.Popen:
        """`picdrop capture ARGS` (as a desktop shortcut would run it)."""
        command = subprocess.Popen(
            [sys.executable, "-m", "desktop", "capture", *args, "--data-dir", str(self.data_dir)],
            cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.processes.append(command)
        return command

    def drag(self, start: tuple[int, int], end: tuple[int, int]) -> None:
        (ax, ay), (bx, by) = start, end
        self.xdo("mousemove", str(ax), str(ay), "mousedown", "1",
                 "mousemove", str((ax + bx) // 2), str((ay + by) // 2),
                 "mousemove", str(bx), str(by), "mouseup", "1")  # fmt: skip


@contextmanager
def desktop(xvfb: str, tmp_path, live_server, after: str) -> Iterator[Desktop]:
    for program in ("openbox", "display", "import", "xdotool", "xclip"):
        require_program(program)
    session = Desktop(xvfb, tmp_path, live_server.url, after)
    try:
        yield session
    finally:
        session.close()


def finished(command: subprocess.Popen) -> tuple[int, str, str]:
    out, err = command.communicate(timeout=WAIT)
    return command.returncode, out.strip(), err


def served(url: str) -> Image.Image:
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    return Image.open(io.BytesIO(answer.content)).convert("RGB")


def select_known_region(session: Desktop, cli: subprocess.Popen) -> None:
    """A selection made a few pixels off with the mouse, put right with the arrow keys
    (moving it, then resizing it with Shift), and taken with Enter."""
    session.expect("overlay")
    x, y = session.known_at
    session.drag((x + 3, y + 2), (x + WIDTH - 2, y + HEIGHT))  # (x+3, y+2), 5 and 2 too small
    session.xdo("key", "Left", "Left", "Left", "Up", "Up",
                *["shift+Right"] * 5, "shift+Down", "shift+Down", "Return")  # fmt: skip


@pytest.mark.xvfb
def test_region_adjusted_with_the_keyboard_uploads_exactly_the_pixels_on_screen(
    xvfb, tmp_path, live_server
) -> None:
    with desktop(xvfb, tmp_path, live_server, "upload") as session:
        cancelled = session.capture("region")
        session.expect("overlay")
        session.xdo("key", "Escape")
        status, out, err = finished(cancelled)
        assert (status, out) == (EXIT_CANCELLED, ""), err

        on_screen = session.screen()  # the same moment: nothing on screen moves meanwhile
        cli = session.capture("region")
        select_known_region(session, cli)
        status, url, err = finished(cli)
        assert status == EXIT_OK, err
        assert session.clipboard().decode() == url  # the app keeps the link on the clipboard

        # The same from the global hotkey (the default Ctrl+Shift+4, grabbed by the app on X).
        session.xdo("key", "ctrl+shift+4")
        select_known_region(session, cli)
        deadline = time.monotonic() + WAIT
        while (by_hotkey := session.clipboard().decode()) == url:  # a condition, polled
            assert time.monotonic() < deadline, "the hotkey's upload left no link"
            time.sleep(0.1)

    x, y = session.known_at
    for link in (url, by_hotkey):
        uploaded = served(link)
        assert uploaded.size == (WIDTH, HEIGHT)
        assert same(uploaded, on_screen.crop((x, y, x + WIDTH, y + HEIGHT)))
        assert same(uploaded, known_picture())


def copied_image(session: Desktop) -> Image.Image:
    return Image.open(io.BytesIO(session.clipboard("image/png"))).convert("RGB")


def holds_known_picture(image: Image.Image) -> bool:
    row = known_picture().crop((0, 0, WIDTH, 1)).tobytes()
    data = image.tobytes()
    index = data.find(row)
    if index < 0 or index % 3:
        return False
    y, x = divmod(index // 3, image.width)
    return same(image.crop((x, y, x + WIDTH, y + HEIGHT)), known_picture())


@pytest.mark.xvfb
def test_screen_and_window_captures_hide_picdrop_and_copy_the_image_only(
    xvfb, tmp_path, live_server
) -> None:
    with desktop(xvfb, tmp_path, live_server, "upload") as session:
        session.xdo("mousemove", "5", "5")
        status, out, err = finished(session.capture("screen", "--no-upload"))
        assert (status, out) == (EXIT_OK, ""), err
        screen = copied_image(session)
        shown_again = session.screen()

        x, y = session.known_at
        session.xdo("mousemove", str(x + 50), str(y + 50))  # over the known window
        status, out, err = finished(session.capture("window", "--delay", "0.5", "--no-upload"))
        assert (status, out) == (EXIT_OK, ""), err
        window = copied_image(session)

    # picdrop's window was on screen, but the capture shows the desktop as it was without it.
    assert screen.size == (1024, 768)
    frame = session.app_window
    assert not same(shown_again.crop(frame), session.before_app.crop(frame))
    assert same(screen.crop(frame), session.before_app.crop(frame))
    assert holds_known_picture(screen)
    # The window under the pointer: the known picture in its frame, and nothing much more.
    assert holds_known_picture(window)
    assert WIDTH <= window.width < WIDTH + 40 and HEIGHT <= window.height < HEIGHT + 60


def edit(session: Desktop, steps) -> None:
    """In the editor: (key, drag start, drag end or None for a click) per step, each waited on."""
    cx, cy = session.editor_at
    for key, start, end in steps:
        session.xdo("key", key)
        if end is None:
            session.xdo("mousemove", str(cx + start[0]), str(cy + start[1]), "click", "1")
        else:
            session.drag((cx + start[0], cy + start[1]), (cx + end[0], cy + end[1]))
        if key == "t":  # the text tool asks for the text
            session.xdo("search", "--sync", "--onlyvisible", "--name", "^Text$")
            session.xdo("type", "Hi")
            session.xdo("key", "Return")
        session.expect("changed")


def open_editor(session: Desktop) -> subprocess.Popen:
    cli = session.capture("region")
    session.expect("overlay")
    x, y = session.known_at
    session.drag((x, y), (x + WIDTH, y + HEIGHT))
    session.xdo("key", "Return")
    session.editor_at = cx, cy = tuple(session.expect("editor"))
    # A click gives the editor the keyboard (the default rectangle tool draws nothing on a click).
    session.xdo("mousemove", str(cx + 2), str(cy + 2), "click", "1")
    return cli


def outside_unchanged(before: Image.Image, after: Image.Image, areas: list[Rect]) -> bool:
    mask = Image.new("L", before.size, 255)
    for area in areas:
        mask.paste(0, area.box())
    diff = ImageChops.difference(before, after)
    return Image.composite(diff, Image.new("RGB", before.size), mask).getbbox() is None


@pytest.mark.xvfb
def test_redaction_in_the_editor_leaves_no_trace_in_the_served_bytes(
    xvfb, tmp_path, live_server
) -> None:
    fill, pixelated = Rect(10, 10, 100, 50), Rect(120, 70, 110, 80)
    with desktop(xvfb, tmp_path, live_server, "editor") as session:
        cli = open_editor(session)
        edit(session, [
            ("b", (fill.x, fill.y), (fill.right, fill.bottom)),
            ("p", (pixelated.right, pixelated.bottom), (pixelated.x, pixelated.y)),
        ])  # fmt: skip
        session.xdo("key", "ctrl+Return")
        status, url, err = finished(cli)
        assert status == EXIT_OK, err

    original, uploaded = known_picture(), served(url)
    assert uploaded.size == original.size
    assert flat(uploaded.crop(fill.box()))
    assert uploaded.getpixel((fill.x, fill.y)) == REDACT_FILL
    size = block_size(pixelated)
    for top in range(pixelated.y, pixelated.bottom, size):
        for left in range(pixelated.x, pixelated.right, size):
            box = (left, top, min(left + size, pixelated.right), min(top + size, pixelated.bottom))
            assert flat(uploaded.crop(box)), box
            assert uploaded.crop(box).tobytes() != original.crop(box).tobytes(), box
    assert outside_unchanged(original, uploaded, [fill, pixelated])


@pytest.mark.xvfb
def test_annotations_appear_where_drawn_and_undo_removes_them(xvfb, tmp_path, live_server) -> None:
    box, text_at = Rect(20, 20, 80, 60), (150, 110)
    arrow_from, arrow_to = (220, 30), (130, 90)
    with desktop(xvfb, tmp_path, live_server, "editor") as session:
        cli = open_editor(session)
        edit(session, [
            ("r", (box.x, box.y), (box.right, box.bottom)),
            ("a", arrow_from, arrow_to),
            ("t", text_at, None),
            ("n", (200, 140), None),  # a numbered step, then taken back
        ])  # fmt: skip
        session.xdo("key", "ctrl+z")
        session.expect("changed")
        session.xdo("key", "ctrl+Return")
        status, url, err = finished(cli)
        assert status == EXIT_OK, err

    original, uploaded = known_picture(), served(url)
    assert uploaded.getpixel((box.x + 1, box.y + 30)) == RED  # the rectangle's left edge
    assert uploaded.getpixel((box.x + 40, box.bottom - 2)) == RED  # its bottom edge
    assert same(uploaded.crop((box.x + 6, box.y + 6, box.right - 6, box.bottom - 6)),
                original.crop((box.x + 6, box.y + 6, box.right - 6, box.bottom - 6)))  # fmt: skip
    assert uploaded.getpixel((arrow_to[0] + 4, arrow_to[1] - 3)) == RED  # the arrow's head
    assert uploaded.getpixel(((arrow_from[0] + arrow_to[0]) // 2,
                              (arrow_from[1] + arrow_to[1]) // 2)) == RED  # fmt: skip
    text = uploaded.crop((text_at[0], text_at[1], text_at[0] + 30, text_at[1] + 26))
    assert RED in [c for _n, c in text.getcolors(maxcolors=4096)]
    undone = (184, 124, 216, 156)  # where the step was: as captured again
    assert same(uploaded.crop(undone), original.crop(undone))
