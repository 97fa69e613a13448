"""Every text (labels and enabled buttons) on the window and in Settings reads at WCAG AA
(4.5:1), measured on rendered pixels, in four palettes: picdrop's own light and dark, and the
system's light and dark (GTK's Adwaita and Adwaita:dark as Qt's gtk3 platform theme delivers
them, set on the application); and under a real X server with the real gtk3 platform theme, the
same checks in the palette it gives ("system": the application's palette left as the platform
made it)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QAbstractButton, QLabel, QStyleFactory, QWidget

from desktop.core.api import UploadResult
from desktop.core.config import AppConfig
from desktop.core.jobs import Job, JobState
from desktop.ui import theme
from desktop.ui.queue import UploadRow
from desktop.ui.settings_dialog import SettingsDialog
from desktop.ui.toast import Toast
from tests.desktop.conftest import REPO

AA = 4.5
UNREACHABLE = "http://127.0.0.1:9"
Role = QPalette.ColorRole

# What Qt's gtk3 platform theme reads from GTK (seen under Xvfb with GTK_THEME=Adwaita[:dark]).
GTK = {
    "gtk-light": {
        Role.Window: "#faf9f8", Role.WindowText: "#000000", Role.Base: "#faf9f8",
        Role.Text: "#000000", Role.Highlight: "#3584e4", Role.HighlightedText: "#ffffff",
        Role.Link: "#0000ff", Role.Button: "#faf9f8", Role.ButtonText: "#000000",
        Role.PlaceholderText: "#646464",
    },
    "gtk-dark": {
        Role.Window: "#323232", Role.WindowText: "#ffffff", Role.Base: "#323232",
        Role.Text: "#ffffff", Role.Highlight: "#15539e", Role.HighlightedText: "#ffffff",
        Role.Link: "#308cc6", Role.Button: "#323232", Role.ButtonText: "#ffffff",
        Role.PlaceholderText: "#9b9b9b",
    },
}  # fmt: skip


def palette(name: str) -> QPalette:
    if name == "own-light":
        return QStyleFactory.create("Fusion").standardPalette()
    if name == "own-dark":
        return theme.dark_palette()
    result = QPalette(QColor(GTK[name][Role.Button]), QColor(GTK[name][Role.Window]))
    for role, color in GTK[name].items():
        result.setColor(role, QColor(color))
    return result


# Set by the Xvfb test below for its child run: the scheme the real platform theme must give.
EXPECTED_SCHEME = "CONTRAST_EXPECTED_SCHEME"


@pytest.fixture(params=["own-light", "own-dark", "gtk-light", "gtk-dark", "system"])
def palette_name(request, qapp):
    before = qapp.palette()
    if request.param == "system":
        expected = os.environ.get(EXPECTED_SCHEME)
        if expected:
            assert theme.is_dark(before) is (expected == "dark")
    else:
        qapp.setPalette(palette(request.param))
    yield request.param
    qapp.setPalette(before)


def contrast(a: QColor, b: QColor) -> float:
    """WCAG 2 contrast ratio, written out here so the check does not trust the code checked."""

    def luminance(c: QColor) -> float:
        def lin(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        return 0.2126 * lin(c.redF()) + 0.7152 * lin(c.greenF()) + 0.0722 * lin(c.blueF())

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def text_contrast(image: QImage, widget: QWidget, top: QWidget) -> tuple[float, str, str]:
    """The contrast of what is drawn in `widget`'s area: its most common colour (the ground)
    against the pixel that differs from it most (the glyphs' cores)."""
    origin = widget.mapTo(top, widget.rect().topLeft())
    area = QRect(origin, widget.size()).intersected(image.rect())  # a dialog fitted to a screen
    colors = Counter(
        image.pixel(x, y)
        for x in range(area.left(), area.right() + 1)
        for y in range(area.top(), area.bottom() + 1)
    )
    ground = QColor.fromRgb(colors.most_common(1)[0][0])
    ink = max((QColor.fromRgb(c) for c in colors), key=lambda c: contrast(c, ground))
    return contrast(ink, ground), ink.name(), ground.name()


def texts(top: QWidget) -> list[QWidget]:
    """Labels and enabled buttons with text, and the painted notice ("Link copied")."""
    labels = [
        label
        for label in top.findChildren(QLabel)
        if label.isVisible()
        and label.text().strip()
        and label.pixmap().isNull()
        and not label.visibleRegion().isEmpty()
    ]
    # Disabled controls are exempt from WCAG's contrast minimum; enabled ones are not.
    buttons = [
        button
        for button in top.findChildren(QAbstractButton)
        if button.isVisible()
        and button.isEnabled()
        and button.text().strip()
        and not button.visibleRegion().isEmpty()
    ]
    return labels + buttons + [toast for toast in top.findChildren(Toast) if toast.isVisible()]


def job(state: JobState, **kw) -> Job:
    made = Job(key=state.value, name=f"{state.value}-photo.png", batch="b", size=48_000,
               state=state, ready=True, **kw)  # fmt: skip
    return made


def assert_readable(top: QWidget) -> None:
    image = top.grab().toImage()
    measured = texts(top)
    low = [(label.text()[:40], *text_contrast(image, label, top)) for label in measured]
    assert any(isinstance(w, QAbstractButton) for w in measured), "no button measured"
    failing = [entry for entry in low if entry[1] < AA]
    assert not failing, failing


def test_window_text_contrast(make_service, make_window, qtbot, palette_name) -> None:
    service = make_service(UNREACHABLE)
    service.set_paused(True)
    window = make_window(service)
    window.resize(760, 760)
    window.set_server_info(UNREACHABLE, "local")
    result = UploadResult(
        id="aB3dE5gH7j", url="http://127.0.0.1:9/aB3dE5gH7j.png", page_url="http://127.0.0.1:9/aB3dE5gH7j",
        thumbnail_url="", delete_url="", delete_token="t", width=4, height=4, size=48_000,
        mime="image/png", sha256="0" * 64,
    )  # fmt: skip
    rows = [
        job(JobState.DONE, result=result, removed=["GPS position"]),
        job(JobState.FAILED, error="Refused by the server: This file is too large."),
        job(JobState.UPLOADING, status="Cannot reach the server — retrying in 4 s", sent=100),
        job(JobState.UPLOADING, sent=20_000, speed=10_000.0),
        job(JobState.QUEUED),
    ]
    for made in rows:
        window.queue_view.add(UploadRow(made))
    qtbot.waitUntil(lambda: all(r.isVisible() for r in window.queue_view.rows().values()))
    window.show_notice("5 links copied")
    assert_readable(window)


def test_settings_text_contrast(qtbot, palette_name) -> None:
    settings = SettingsDialog(AppConfig(), "http://env.example")
    qtbot.addWidget(settings)
    settings.show()
    qtbot.waitExposed(settings)
    for ok, message in [(False, "Cannot reach the server."), (True, "Connected to picdrop")]:
        settings.show_test_result(ok, message)
        assert_readable(settings)


@pytest.mark.xvfb
@pytest.mark.parametrize(("gtk_theme", "scheme"), [("Adwaita:dark", "dark"), ("Adwaita", "light")])
def test_contrast_under_the_real_gtk3_platform_theme(xvfb, tmp_path, gtk_theme, scheme) -> None:
    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platformthemes" / "libqgtk3.so"
    if not plugin.exists():
        pytest.skip("this Qt has no gtk3 platform theme")
    env = {
        **os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb", "QT_QPA_PLATFORMTHEME": "gtk3",
        "GTK_THEME": gtk_theme, EXPECTED_SCHEME: scheme, "XDG_CONFIG_HOME": str(tmp_path),
    }  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
         "-k", "system and not real_gtk3"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:]
    assert "2 passed" in run.stdout
