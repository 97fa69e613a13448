"""Helpers for the browser tests: Debian's Chromium driven by Playwright, a watch on console
errors and CSP violations, screenshots, and pleasant sample pictures for them."""

from __future__ import annotations

import io
import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Runs in every page before its own scripts (CDP injects it, so the page's CSP does not apply):
# every CSP violation is handed to the test through an exposed binding.
WATCH_CSP = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__picdropViolation({
    directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile,
    line: e.lineNumber, sample: e.sample, document: e.documentURI,
  });
});
"""


@dataclass
class Watch:
    """Everything a page complained about; `expected` lists substrings of allowed messages."""

    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    violations: list[dict] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def attach(self, context) -> None:
        def on_violation(_source, report: dict) -> None:
            self.violations.append(report)

        try:
            context.expose_binding("__picdropViolation", on_violation)
            context.add_init_script(WATCH_CSP)
        except Exception:  # JavaScript disabled: bindings cannot exist; console still reports
            pass

    def attach_page(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

    def _console(self, message) -> None:
        if message.type in ("error", "assert"):
            location = message.location or {}
            self.console.append(f"{message.text} ({location.get('url', '')})")

    def allow(self, fragment: str) -> None:
        """An error the test provokes on purpose (e.g. the 404 of a deleted image)."""
        self.expected.append(fragment)

    def problems(self) -> list[str]:
        unexpected = [m for m in self.console if not any(e in m for e in self.expected)]
        return (
            [f"console: {m}" for m in unexpected]
            + [f"page error: {e}" for e in self.page_errors]
            + [f"CSP violation: {v}" for v in self.violations]
        )


def screenshot_dir(tmp_path: Path) -> Path:
    """docs/screenshots with PICDROP_SCREENSHOTS=1 (to refresh the committed ones), a directory
    with PICDROP_SCREENSHOTS=/some/dir, else the test's tmp_path (taken, but thrown away)."""
    setting = os.environ.get("PICDROP_SCREENSHOTS", "")
    if setting == "1":
        target = SCREENSHOT_DIR
    elif setting:
        target = Path(setting)
    else:
        target = tmp_path / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    return target


# -- sample pictures that look like something in a screenshot ----------------------------------

PALETTES = {
    "dusk": [(26, 32, 77), (232, 107, 91), (255, 196, 120)],
    "lagoon": [(12, 74, 110), (56, 189, 190), (220, 247, 232)],
    "forest": [(20, 48, 40), (94, 140, 97), (233, 226, 170)],
}


def _lerp(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, ...]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))


def scenery(
    size: tuple[int, int] = (1600, 1000), palette: str = "dusk", seed: int = 1
) -> Image.Image:
    """A calm landscape: sky gradient, a sun, three layers of hills."""
    w, h = size
    top, mid, glow = PALETTES[palette]
    rng = random.Random(seed)
    sky = Image.new("RGB", (1, 256))
    for y in range(256):
        t = y / 255
        colour = _lerp(top, mid, t * 0.9) if t < 0.75 else _lerp(mid, glow, (t - 0.75) * 4)
        sky.putpixel((0, y), colour)
    image = sky.resize((w, h), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image, "RGBA")
    sun_x, sun_y, r = int(w * (0.3 + 0.4 * rng.random())), int(h * 0.48), int(h * 0.09)
    for k in range(30, 10, -1):
        halo = r * k / 10
        draw.ellipse((sun_x - halo, sun_y - halo, sun_x + halo, sun_y + halo), fill=(*glow, 7))
    draw.ellipse((sun_x - r, sun_y - r, sun_x + r, sun_y + r), fill=(*glow, 255))
    for layer in range(3):
        base = h * (0.58 + 0.13 * layer)
        colour = _lerp(top, (8, 10, 20), 0.25 + 0.25 * layer)
        phase, amp = rng.random() * 6.28, h * (0.09 - 0.02 * layer)

        def ridge(x: float, phase: float = phase, amp: float = amp, base: float = base) -> float:
            wave = 0.6 * math.sin(x / w * 6 + phase) + 0.4 * math.sin(x / w * 17 + phase * 2)
            return base - amp * wave

        points = [(x, ridge(x)) for x in range(0, w + 20, 20)]
        draw.polygon([(0, h), *points, (w, h)], fill=(*colour, 255))
    return image.filter(ImageFilter.SMOOTH)


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()
