"""The web upload page and the viewer, driven in Debian's Chromium (headless, through Playwright)
against a real backend on 127.0.0.1.

Every test watches the browser: a console error, an uncaught page error or a Content-Security-
Policy violation fails it (errors a test provokes on purpose, like the 404 of a deleted image, are
allowed by name). Screenshots go to docs/screenshots/ with PICDROP_SCREENSHOTS=1.
"""

from __future__ import annotations

import base64
import io
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from PIL import Image

from backend.server import EmbeddedServer
from backend.settings import Settings
from tests.backend import imagesamples as samples
from tests.conftest import require, require_program
from tests.e2e.browser import (
    CHROMIUM_ARGS,
    PALETTES,
    REPO,
    SCREENSHOT_DIR,
    Watch,
    encoded,
    scenery,
    screenshot_dir,
)

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the dev dependencies include it
    sync_playwright = None

ID = r"[0-9A-Za-z]{10,}"
TIMEOUT = 30_000
DESKTOP = {"viewport": {"width": 1280, "height": 860}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
CLIPBOARD = ["clipboard-read", "clipboard-write"]


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    chromium = require_program("chromium")
    require(sync_playwright is not None, "Playwright for Python")
    with sync_playwright() as playwright:
        # Playwright adds --headless itself and gives every launch a fresh --user-data-dir.
        args = [a for a in CHROMIUM_ARGS if a != "--headless"]
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=args)
        yield browser
        browser.close()


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def new_page(browser, watch: Watch) -> Iterator[Callable[..., Page]]:
    """new_page(**context_options): a page in a fresh browser context, watched."""
    contexts = []

    def make(**options) -> Page:
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT)
        contexts.append(context)
        if options.get("java_script_enabled", True):
            watch.attach(context)
        page = context.new_page()
        watch.attach_page(page)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def shots(tmp_path: Path) -> Callable[..., Path]:
    target = screenshot_dir(tmp_path)

    def shot(page: Page, name: str, *, full_page: bool = True) -> Path:
        page.wait_for_load_state("networkidle")
        # Images finish decoding and the focus ring from the last click goes away first.
        page.evaluate(
            "() => Promise.all([...document.images].map((i) => i.decode().catch(() => null)))"
        )
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        path = target / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        return path

    return shot


def assert_clean(watch: Watch) -> None:
    problems = watch.problems()
    assert not problems, "the browser reported:\n" + "\n".join(problems)


# -- helpers ---------------------------------------------------------------------------------------


def jpeg(palette: str = "dusk", size: tuple[int, int] = (1600, 1000), seed: int = 1) -> bytes:
    return encoded(scenery(size, palette, seed), "JPEG", quality=88)


def png(palette: str = "lagoon", size: tuple[int, int] = (1200, 800), seed: int = 4) -> bytes:
    return encoded(scenery(size, palette, seed), "PNG")


def file_payload(name: str, data: bytes, mime: str) -> dict:
    return {"name": name, "mimeType": mime, "buffer": data}


def done_items(page: Page):
    return page.locator('#results .item[data-state="done"]')


def clipboard(page: Page) -> str:
    return page.evaluate("() => navigator.clipboard.readText()")


def qr_code_loaded(page: Page, qr) -> None:
    """Wait for an opened result's QR code to be drawn.

    Its src is set by the disclosure's toggle event, which fires after the click returns, and an
    <img> without a src counts as "complete": so wait for the src, then for a decoded image.
    """
    expect(qr).to_have_attribute("src", re.compile(r"^/qr/"))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())


def upload_via_page(page: Page, files: list[dict]) -> list[dict]:
    """Upload through the file input; wait for every item; return what each one shows."""
    before = page.locator("#results .item").count()
    page.set_input_files("#file-input", files)
    expect(page.locator("#results .item")).to_have_count(before + len(files))
    expect(done_items(page)).to_have_count(before + len(files), timeout=TIMEOUT)
    shown = []
    for i in range(len(files)):
        item = page.locator("#results .item").nth(i)
        shown.append(
            {
                "name": item.locator(".item-name").inner_text(),
                "link": item.locator(".share-link").input_value(),
                "delete_url": item.locator(".delete-link").input_value(),
                "page_url": item.locator(".open-page").get_attribute("href"),
                "progress": item.locator("progress").evaluate("b => [b.value, b.max]"),
            }
        )
    return shown


# -- the whole journey -----------------------------------------------------------------------------


def test_upload_copy_view_report_delete(live_server, new_page, watch, shots):
    base = live_server.url
    page = new_page(**DESKTOP, permissions=CLIPBOARD)
    packed = []  # assets that arrived gzipped
    page.on(
        "response",
        lambda r: (
            "/static/" in r.url
            and r.headers.get("content-encoding") == "gzip"
            and packed.append(re.sub(r"\.[0-9a-f]{12}", "", r.url.rsplit("/", 1)[1]))
        ),
    )
    page.goto(base + "/")
    expect(page).to_have_title(re.compile("picdrop"))
    expect(page.get_by_role("button", name="Upload images")).to_be_visible()
    expect(page.get_by_role("button", name="Upload", exact=True)).to_be_hidden()  # the no-JS one

    # Two files through the file input: two progress bars that finish, two links.
    first, second = jpeg("dusk"), png("lagoon")
    shown = upload_via_page(
        page,
        [
            file_payload("dusk.jpg", first, "image/jpeg"),
            file_payload("lagoon.png", second, "image/png"),
        ],
    )
    assert [s["name"] for s in shown] == ["dusk.jpg", "lagoon.png"]  # in the order given
    for item, size in zip(shown, (len(first), len(second)), strict=True):
        value, maximum = item["progress"]
        # The bar's maximum is the body size the XHR reported, so progress events did arrive.
        assert value == maximum and maximum > size
        assert re.fullmatch(rf"{re.escape(base)}/{ID}\.(jpg|png)", item["link"]), item
        assert re.fullmatch(rf"{re.escape(base)}/delete/{ID}/\S+", item["delete_url"]), item
        assert item["link"].startswith(item["page_url"] + ".")
    assert requests.get(shown[1]["link"], timeout=10).headers["content-type"] == "image/png"
    dusk = shown[0]
    image_id = dusk["page_url"].rsplit("/", 1)[1]
    item = page.locator("#results .item").first
    expect(item.locator(".item-status")).to_have_text(re.compile(r"Done · 1600 × 1000"))
    expect(item.locator(".keep")).to_contain_text("Keep this delete link")
    expect(item.locator(".item-thumb")).to_have_attribute("src", f"{base}/t/{image_id}.webp")
    # Link checkers ask with HEAD; the page's CSS and JS came gzipped.
    for url in (f"{base}/", dusk["page_url"]):
        assert page.request.head(url).status == 200, url
    assert {"copy.js", "picdrop.css", "upload.js"} <= set(packed), packed

    shots(page, "upload-desktop")
    page.emulate_media(color_scheme="dark")
    shots(page, "upload-desktop-dark")
    page.emulate_media(color_scheme="light")

    # Copy a link, read it back from the clipboard.
    copy = item.locator(".item-share [data-copy]")
    copy.click()
    expect(copy).to_have_text("Copied!")
    assert clipboard(page) == dusk["link"]
    expect(page.locator("#announce")).to_contain_text("Copied to the clipboard.")

    # The other formats, and "copy all".
    item.get_by_text("Markdown", exact=True).click()
    markdown = f"[![Image {image_id}]({dusk['link']})]({dusk['page_url']})"
    expect(item.locator(".share-link")).to_have_value(markdown)
    item.get_by_text("BBCode", exact=True).click()
    expect(item.locator(".share-link")).to_have_value(
        f"[url={dusk['page_url']}][img]{dusk['link']}[/img][/url]"
    )
    item.get_by_text("Link", exact=True).click()
    page.get_by_role("button", name="Copy all links").click()
    assert clipboard(page) == f"{dusk['link']}\n{shown[1]['link']}"

    # The viewer page: the image is loaded, the preview tags are right.
    response = page.goto(dusk["page_url"])
    assert response is not None and response.status == 200
    image = page.locator("#image")
    page.wait_for_function("() => document.getElementById('image').complete")
    assert image.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [1600, 1000]
    assert image.evaluate("i => i.closest('a').href") == dusk["link"]  # click for full size

    def meta(selector: str) -> str | None:
        return page.locator(f"head meta[{selector}]").get_attribute("content")

    assert meta('property="og:image"') == dusk["link"]
    assert meta('property="og:image:width"') == "1600"
    assert meta('property="og:image:height"') == "1000"
    assert meta('property="og:image:type"') == "image/jpeg"
    assert meta('property="og:url"') == dusk["page_url"]
    assert meta('property="og:type"') == "website"
    assert meta('name="twitter:card"') == "summary_large_image"
    assert meta('name="twitter:image"') == dusk["link"]
    oembed_href = page.locator('link[rel="alternate"][type="application/json+oembed"]')
    oembed = page.request.get(oembed_href.get_attribute("href")).json()
    assert oembed["type"] == "photo" and oembed["url"] == dusk["link"]
    assert (oembed["width"], oembed["height"]) == (1600, 1000)
    expect(page.get_by_text("1600 × 1000 px")).to_be_visible()

    shots(page, "viewer-desktop")
    page.emulate_media(color_scheme="dark")
    shots(page, "viewer-desktop-dark")
    page.emulate_media(color_scheme="light")
    link_row = page.get_by_label("Link", exact=True)
    expect(link_row).to_have_value(dusk["link"])
    page.locator(".share-row", has=link_row).get_by_role("button", name="Copy").click()
    assert clipboard(page) == dusk["link"]

    # Report it: the form works without JavaScript, so it is a plain POST to /report/{id}.
    page.get_by_text("Report this image").click()
    form = page.locator("form.report-form")
    expect(form).to_be_visible()
    assert form.get_attribute("method") == "post"
    assert form.get_attribute("action") == f"/report/{image_id}"
    reasons = form.locator("select[name=reason] option:not([disabled])")
    assert reasons.evaluate_all("os => os.map((o) => o.value)") == [
        "illegal",
        "non_consensual",
        "violence",
        "spam",
        "copyright",
        "other",
    ]
    page.get_by_label("What is wrong with it?").select_option("spam")
    page.get_by_role("textbox", name="Details (optional)").fill("Reported by the browser test.")
    form.scroll_into_view_if_needed()
    shots(page, "viewer-report-form", full_page=False)
    form.get_by_role("button", name="Send report").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("report received")
    expect(page.locator("main")).to_contain_text(image_id)

    # Delete it through the delete link's confirmation page, then it is gone.
    response = page.goto(dusk["delete_url"])
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete this image?")
    assert requests.get(dusk["link"], timeout=10).status_code == 200  # GET deleted nothing
    shots(page, "delete-confirm")
    page.get_by_role("button", name="Delete image").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Deleted")
    watch.allow(f"404 (Not Found) ({dusk['page_url']})")  # the browser logs the 404 we expect
    response = page.goto(dusk["page_url"])
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    assert page.request.get(dusk["link"]).status == 404
    shots(page, "not-found")
    assert_clean(watch)


# -- errors ----------------------------------------------------------------------------------------


def test_rejected_file_shows_the_servers_sentence(live_server, new_page, watch, shots):
    not_an_image = b"just some text, not an image\n" * 20
    answer = requests.post(
        f"{live_server.url}/api/upload",
        files={"file": ("notes.png", not_an_image)},
        timeout=10,
    )
    assert answer.status_code == 415
    sentence = answer.json()["error"]

    page = new_page(**DESKTOP)
    page.goto(live_server.url + "/")
    watch.allow(f"status of 415 (Unsupported Media Type) ({live_server.url}/api/upload)")
    page.set_input_files(
        "#file-input",
        [
            file_payload("notes.png", not_an_image, "image/png"),
            file_payload("forest.jpg", jpeg("forest", (1400, 900), seed=7), "image/jpeg"),
        ],
    )
    bad = page.locator("#results .item", has_text="notes.png")
    expect(bad).to_have_attribute("data-state", "error", timeout=TIMEOUT)
    expect(bad.locator(".item-error")).to_have_text(sentence)
    expect(bad.locator(".item-status")).to_have_text("Not uploaded")
    expect(bad.locator(".share-link")).to_be_hidden()
    expect(bad.get_by_role("button", name="Try again")).to_be_hidden()  # a 415 will not change
    expect(done_items(page)).to_have_count(1, timeout=TIMEOUT)  # the good one is not held up
    shots(page, "upload-error")
    assert_clean(watch)


def test_a_failed_upload_can_be_retried_with_the_same_idempotency_key(live_server, new_page, watch):
    page = new_page(**DESKTOP)
    keys = []
    busy = "The server is busy right now. Try again in a moment."

    def flaky(route):
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            route.fulfill(status=503, json={"error": busy, "code": "unavailable"})
        else:
            route.continue_()

    page.route("**/api/upload", flaky)
    page.goto(live_server.url + "/")
    watch.allow(f"status of 503 (Service Unavailable) ({live_server.url}/api/upload)")
    page.set_input_files("#file-input", [file_payload("retry.jpg", jpeg(), "image/jpeg")])
    item = page.locator("#results .item")
    expect(item).to_have_attribute("data-state", "error")
    expect(item.locator(".item-error")).to_have_text(busy)
    item.get_by_role("button", name="Try again").focus()
    page.keyboard.press("Enter")
    # The button goes away; the keyboard stays with this upload, not back at the page's top.
    assert page.evaluate("() => document.activeElement.id") == item.get_attribute("id")
    expect(item).to_have_attribute("data-state", "done", timeout=TIMEOUT)
    expect(item.locator(".item-error")).to_be_hidden()
    assert len(keys) == 2 and keys[0] == keys[1] and re.fullmatch(r"[0-9a-f]{32}", keys[0])
    assert_clean(watch)


def test_too_large_file_is_refused_with_the_servers_sentence(tmp_path, new_page, watch):
    settings = Settings(
        data_dir=tmp_path / "small",
        host="127.0.0.1",
        port=0,
        sweep_interval=0,
        max_bytes=256 * 1024,
    )
    server = EmbeddedServer(settings)
    server.start()
    try:
        big = jpeg("forest", (1600, 1000), seed=3) + b"\0" * 300_000
        answer = requests.post(
            f"{server.url}/api/upload", files={"file": ("big.jpg", big)}, timeout=10
        )
        assert answer.status_code == 413
        page = new_page(**DESKTOP)
        page.goto(server.url + "/")
        expect(page.locator(".dz-limits")).to_contain_text("up to 256 KB each")
        page.set_input_files("#file-input", [file_payload("big.jpg", big, "image/jpeg")])
        item = page.locator("#results .item")
        expect(item).to_have_attribute("data-state", "error")
        expect(item.locator(".item-error")).to_have_text(answer.json()["error"])
    finally:
        server.stop()
    assert_clean(watch)


def test_removed_image_is_a_plain_451_page(live_server, new_page, watch, shots):
    uploaded = requests.post(
        f"{live_server.url}/api/upload",
        files={"file": ("a.jpg", jpeg("forest", (640, 400)))},
        timeout=10,
    ).json()
    live_server.app.state.moderation.remove(uploaded["id"], actor="test", note="browser test")
    page = new_page(**DESKTOP)
    watch.allow(f"451 (Unavailable For Legal Reasons) ({uploaded['page_url']})")
    response = page.goto(uploaded["page_url"])
    assert response is not None and response.status == 451
    expect(page.get_by_role("heading", level=1)).to_have_text("Removed")
    expect(page.locator("main")).to_contain_text("removed by the moderators")
    assert page.locator("main img").count() == 0  # nothing of the image is shown
    assert page.locator('meta[property="og:image"]').count() == 0
    shots(page, "removed-451")
    assert_clean(watch)


# -- phones, keyboards, other ways in --------------------------------------------------------------


def _no_sideways_scrolling(page: Page) -> None:
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"


def test_phone_width(live_server, new_page, watch, shots):
    page = new_page(**PHONE, permissions=CLIPBOARD)
    page.goto(live_server.url + "/")
    _no_sideways_scrolling(page)
    expect(page.get_by_role("button", name="Upload images")).to_be_in_viewport()
    shown = upload_via_page(
        page, [file_payload("lagoon.jpg", jpeg("lagoon", (1200, 1600), seed=2), "image/jpeg")]
    )
    _no_sideways_scrolling(page)
    shots(page, "upload-phone")
    page.locator("#results .item-share [data-copy]").tap()
    assert clipboard(page) == shown[0]["link"]
    page.goto(shown[0]["page_url"])
    page.wait_for_function("() => document.getElementById('image').complete")
    assert page.locator("#image").evaluate("i => i.naturalWidth") == 1200
    _no_sideways_scrolling(page)
    box = page.locator("#image").bounding_box()
    assert box is not None and box["width"] <= 390 and box["height"] <= 844
    shots(page, "viewer-phone", full_page=False)
    assert_clean(watch)


def test_keyboard_only(live_server, new_page, watch):
    page = new_page(**DESKTOP)
    # Listening from the start: with only `expect_file_chooser()` around the key press, the
    # interception is switched on too late here and Chromium opens no chooser event at all.
    choosers = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "pick":
            break
    else:
        pytest.fail("Tab never reached the 'Upload images' button")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused button shows no focus ring"
    page.keyboard.press("Enter")
    deadline = time.monotonic() + 10
    while not choosers and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert len(choosers) == 1, "Enter on 'Upload images' opened no file chooser"
    assert choosers[0].is_multiple()
    choosers[0].set_files([file_payload("kb.jpg", jpeg("forest", (800, 500)), "image/jpeg")])
    expect(done_items(page)).to_have_count(1, timeout=TIMEOUT)
    # Every form control on the page has an accessible name.
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
            .filter((el) => el.offsetParent !== null)
            .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                            && !el.textContent.trim())
            .map((el) => el.outerHTML)"""
    )
    assert unnamed == []
    assert_clean(watch)


def test_paste_and_drop(live_server, new_page, watch):
    page = new_page(**DESKTOP)
    page.goto(live_server.url + "/")
    data = base64.b64encode(png("forest", (600, 400), seed=9)).decode()
    make_transfer = """(b64, name) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, { type: "image/png" }));
        return transfer;
    }"""
    page.evaluate(
        f"""([b64]) => {{
            const transfer = ({make_transfer})(b64, "image.png");
            document.dispatchEvent(new ClipboardEvent("paste", {{ clipboardData: transfer }}));
        }}""",
        [data],
    )
    expect(done_items(page)).to_have_count(1, timeout=TIMEOUT)
    page.evaluate(
        f"""([b64]) => {{
            const transfer = ({make_transfer})(b64, "dropped.png");
            const zone = document.getElementById("dropzone");
            const drag = (type) => new DragEvent(type, {{
                dataTransfer: transfer, bubbles: true, cancelable: true }});
            zone.dispatchEvent(drag("dragenter"));
            document.body.classList.contains("dragging") || (window.__noHighlight = true);
            zone.dispatchEvent(drag("drop"));
        }}""",
        [data],
    )
    assert page.evaluate("() => window.__noHighlight") is None, "no highlight while dragging"
    expect(done_items(page)).to_have_count(2, timeout=TIMEOUT)
    names = page.locator("#results .item-name").all_inner_texts()
    assert names == ["dropped.png", "image.png"]
    assert not page.evaluate("() => document.body.classList.contains('dragging')")
    assert_clean(watch)


# -- without JavaScript ----------------------------------------------------------------------------


def test_plain_form_uploads_without_javascript(live_server, new_page, watch, shots):
    page = new_page(**DESKTOP, java_script_enabled=False)
    page.goto(live_server.url + "/")
    expect(page.get_by_role("button", name="Upload images")).to_be_hidden()
    expect(page.get_by_label("Image file")).to_be_visible()
    page.get_by_label("Image file").set_input_files(
        [file_payload("nojs.jpg", jpeg("dusk", (900, 600), seed=5), "image/jpeg")]
    )
    page.get_by_label("Delete automatically after").select_option("7d")
    shots(page, "upload-without-javascript", full_page=False)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Uploaded")
    link = page.get_by_label("Link", exact=True).input_value()
    assert re.fullmatch(rf"{re.escape(live_server.url)}/{ID}\.jpg", link)
    raw = page.request.get(link)
    assert raw.status == 200 and raw.headers["content-type"] == "image/jpeg"
    delete_url = page.get_by_label("Delete link (secret)").input_value()
    assert "/delete/" in delete_url
    expect(page.locator("main")).to_contain_text("deleted automatically in 7 days")
    shots(page, "uploaded-without-javascript")
    # The viewer's report form opens and is a plain form, no script needed.
    page.get_by_role("link", name="Open the image page").click()
    page.get_by_text("Report this image").click()
    expect(page.get_by_label("What is wrong with it?")).to_be_visible()
    # And the delete link works the same way.
    page.goto(delete_url)
    page.get_by_role("button", name="Delete image").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Deleted")
    assert page.request.get(link).status == 404
    assert_clean(watch)


# -- issue 18: what strangers lose and what assistive technology trips on -------------------------


def image_count(server: EmbeddedServer) -> int:
    with sqlite3.connect(server.settings.data_dir / "picdrop.db") as db:
        return db.execute("SELECT COUNT(*) FROM images").fetchone()[0]


def test_uploads_are_kept_in_this_browser_until_removed(live_server, new_page, watch):
    page = new_page(**DESKTOP)
    page.goto(live_server.url + "/")
    shown = upload_via_page(
        page,
        [
            file_payload("dusk.jpg", jpeg("dusk", (800, 500)), "image/jpeg"),
            file_payload("lagoon.png", png("lagoon", (600, 400)), "image/png"),
        ],
    )
    # Off to the image page in the same tab, and back: the links and delete links are still there.
    page.locator("#results .item").first.locator(".open-page").click()
    expect(page).to_have_url(shown[0]["page_url"])
    page.go_back()
    expect(done_items(page)).to_have_count(2)
    links = page.locator("#results .delete-link").evaluate_all("fs => fs.map((f) => f.value)")
    assert links == [s["delete_url"] for s in shown]
    expect(page.locator("#results .item-name")).to_have_text(["dusk.jpg", "lagoon.png"])
    # Removing one forgets it for good; "Forget all" forgets the rest.
    page.get_by_role("button", name="Remove from this list: dusk.jpg").click()
    expect(page.locator("#announce")).to_contain_text("dusk.jpg removed from this list.")
    page.reload()
    expect(page.locator("#results .item-name")).to_have_text(["lagoon.png"])
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Forget all").click()
    expect(page.locator("#uploads")).to_be_hidden()
    page.reload()
    expect(page.locator("#uploads")).to_be_hidden()
    assert page.evaluate("() => localStorage.getItem('picdrop.uploads')") == "[]"
    assert_clean(watch)


def test_leaving_before_the_delete_link_is_copied_asks_first(live_server, new_page, watch):
    page = new_page(**DESKTOP, permissions=CLIPBOARD)
    page.goto(live_server.url + "/")
    upload_via_page(page, [file_payload("keep.jpg", jpeg("forest", (640, 400)), "image/jpeg")])
    item = page.locator("#results .item")
    item.locator(".copy-link").click()  # copying the link is not keeping the delete link
    with page.expect_event("dialog") as asked:
        page.close(run_before_unload=True)
    assert asked.value.type == "beforeunload"
    asked.value.dismiss()  # "stay on the page"
    assert not page.is_closed()
    item.locator(".copy-delete").click()
    dialogs = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.type) or dialog.accept())
    with page.expect_event("close"):
        page.close(run_before_unload=True)
    assert dialogs == []
    assert_clean(watch)


def test_plain_form_result_survives_a_reload_without_uploading_again(live_server, new_page, watch):
    page = new_page(**DESKTOP, java_script_enabled=False)
    page.goto(live_server.url + "/")
    page.get_by_label("Image file").set_input_files(
        [file_payload("once.jpg", jpeg("lagoon", (700, 500), seed=8), "image/jpeg")]
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page).to_have_url(re.compile(rf"{re.escape(live_server.url)}/uploaded/{ID}$"))
    delete_url = page.get_by_label("Delete link (secret)").input_value()
    before = image_count(live_server)
    response = page.reload()
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("Uploaded")
    assert page.get_by_label("Delete link (secret)").input_value() == delete_url
    assert image_count(live_server) == before
    # A tab restored at the form's old address lands on the form, not on "Not found".
    response = page.goto(live_server.url + "/upload")
    assert response is not None and response.status == 200
    expect(page.get_by_label("Image file")).to_be_visible()
    assert_clean(watch)


def test_an_upload_can_be_cancelled_and_the_link_shared(live_server, new_page, watch):
    page = new_page(**PHONE)
    # A phone's share sheet, as far as the page can tell.
    page.add_init_script("navigator.share = async (data) => { window.__shared = data; };")
    page.goto(live_server.url + "/")
    held = []
    page.route("**/api/upload", lambda route: held.append(route))  # never answered
    page.set_input_files("#file-input", [file_payload("slow.jpg", jpeg(), "image/jpeg")])
    item = page.locator("#results .item")
    expect(item).to_have_attribute("data-state", "uploading")
    page.get_by_role("button", name="Cancel the upload of slow.jpg").click()
    expect(item).to_have_count(0)
    expect(page.locator("#announce")).to_contain_text("Upload of slow.jpg cancelled.")
    page.unroute("**/api/upload")
    shown = upload_via_page(page, [file_payload("share.jpg", jpeg("forest"), "image/jpeg")])
    page.get_by_role("button", name="Share the link to share.jpg").click()
    page.wait_for_function("() => window.__shared")
    assert page.evaluate("() => window.__shared.url") == shown[0]["page_url"]
    assert_clean(watch)


def _luminance(rgb: tuple[int, ...]) -> float:
    def channel(c: int) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def drawn_contrast(page: Page, locator, change: Callable[[], None], pad: int = 6) -> float:
    """The contrast of what `change` draws, on rendered pixels: the colour most changed pixels
    turn into, against the colour most of those same pixels had before."""
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    assert box is not None
    clip = {
        "x": box["x"] - pad,
        "y": box["y"] - pad,
        "width": box["width"] + 2 * pad,
        "height": box["height"] + 2 * pad,
    }

    def grab() -> list[tuple[int, ...]]:
        shot = page.screenshot(clip=clip, animations="disabled", caret="hide")
        rgb = Image.open(io.BytesIO(shot)).convert("RGB").tobytes()
        return [tuple(rgb[i : i + 3]) for i in range(0, len(rgb), 3)]

    before = grab()
    change()
    after = grab()
    pairs = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert pairs, "the change drew nothing"
    drawn = Counter(a for _, a in pairs).most_common(1)[0][0]
    under = Counter(b for b, a in pairs if a == drawn).most_common(1)[0][0]
    return contrast(under, drawn)


def keyboard_focus(locator) -> Callable[[], None]:
    def focus() -> None:
        locator.focus()
        assert locator.evaluate("el => el.matches(':focus-visible')")

    return focus


def check_radio(page: Page, label: str) -> Callable[[], None]:
    # A script click: no hover and no focus ring, only the selected state is drawn.
    radio = page.locator("#results .item").first.locator(".formats label", has_text=label)
    return lambda: radio.locator("input").evaluate("r => r.click()")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_focus_rings_and_the_selected_format_have_3_to_1_contrast(
    live_server, new_page, watch, scheme
):
    page = new_page(**DESKTOP, color_scheme=scheme)
    page.goto(live_server.url + "/")
    upload_via_page(page, [file_payload("ring.jpg", jpeg("dusk", (640, 400)), "image/jpeg")])
    page.evaluate("() => window.scrollTo(0, 0)")
    item = page.locator("#results .item").first
    for target in (
        page.locator("#pick"),  # on the drop zone
        page.locator("#expires"),  # on the page's background
        item.locator(".copy-link"),  # a primary button in a result
        item.locator(".copy-delete"),  # inside the yellow "keep" box
        item.locator(".open-page"),
        item.locator(".formats input[value=html]"),
    ):
        ring = target if target.evaluate("el => el.type !== 'radio'") else target.locator("..")
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        ratio = drawn_contrast(page, ring, keyboard_focus(target))
        assert ratio >= 3, f"focus ring of {target} at {ratio:.2f}:1"
    pill = item.locator(".formats label", has_text="HTML")
    ratio = drawn_contrast(page, pill, check_radio(page, "HTML"))
    assert ratio >= 3, f"the selected format at {ratio:.2f}:1"
    assert_clean(watch)


def test_forced_colours_keep_the_selected_format_and_the_progress(
    live_server, new_page, watch, shots
):
    page = new_page(**DESKTOP, forced_colors="active")
    page.goto(live_server.url + "/")
    upload_via_page(page, [file_payload("hc.jpg", jpeg("forest", (640, 400)), "image/jpeg")])
    item = page.locator("#results .item").first
    pill = item.locator(".formats label", has_text="BBCode")
    assert drawn_contrast(page, pill, check_radio(page, "BBCode")) >= 3
    shots(page, "upload-forced-colours")
    bar = item.locator("progress")
    assert drawn_contrast(page, bar, lambda: bar.evaluate("b => { b.value = 0; }")) >= 3
    assert_clean(watch)


def test_announcements_queue_up_and_sum_up_a_batch(live_server, new_page, watch):
    page = new_page(**DESKTOP)
    page.goto(live_server.url + "/")
    watch.allow(f"status of 415 (Unsupported Media Type) ({live_server.url}/api/upload)")
    page.set_input_files(
        "#file-input",
        [
            file_payload("notes.png", b"not an image\n" * 40, "image/png"),
            *(file_payload(f"{p}.jpg", jpeg(p, (500, 300)), "image/jpeg") for p in PALETTES),
        ],
    )
    expect(page.locator("#announce")).to_contain_text("3 of 4 uploaded.", timeout=TIMEOUT)
    sentence = page.locator('#results .item[data-state="error"] .item-error').inner_text()
    lines = page.locator("#announce > *").all_inner_texts()
    assert lines[0] == "Uploading 4 files."
    assert lines.count(f"notes.png was not uploaded: {sentence}") == 1
    assert lines[-1] == "3 of 4 uploaded. The links are ready to copy."
    assert len(lines) == 3, lines  # no message per file on top of the summary
    # The error is read once: the log is the page's only live region.
    regions = page.locator("[role=alert], [role=status], [role=log], [aria-live]")
    assert regions.evaluate_all("rs => rs.map((r) => r.id)") == ["announce"]
    assert_clean(watch)


def test_one_format_for_every_upload_and_the_expiry_shown(live_server, new_page, watch):
    page = new_page(**DESKTOP, permissions=CLIPBOARD)
    page.goto(live_server.url + "/")
    page.get_by_label("Delete automatically after").select_option("7d")
    shown = upload_via_page(
        page,
        [
            file_payload("one.jpg", jpeg("dusk", (500, 300)), "image/jpeg"),
            file_payload("two.jpg", jpeg("forest", (500, 300)), "image/jpeg"),
        ],
    )
    expect(page.locator("#results .item-status").first).to_contain_text(
        "deleted automatically in 7 days"
    )
    page.locator("#results .item").nth(1).get_by_text("Markdown", exact=True).click()
    fields = page.locator("#results .share-link")
    expect(fields.first).to_have_value(re.compile(r"^\[!\["))
    page.get_by_role("button", name="Copy all links").click()
    lines = clipboard(page).split("\n")
    assert len(lines) == 2 and all(line.startswith("[![") for line in lines), lines
    assert [s["link"] in line for s, line in zip(shown, lines, strict=True)] == [True, True]
    assert_clean(watch)


@pytest.mark.parametrize(
    "screen",
    [{"viewport": {"width": 1280, "height": 800}}, PHONE],
    ids=["desktop", "phone"],
)
def test_results_come_into_view(live_server, new_page, watch, screen):
    page = new_page(**screen)
    page.goto(live_server.url + "/")
    upload_via_page(page, [file_payload("seen.jpg", jpeg("lagoon", (800, 500)), "image/jpeg")])
    expect(page.locator("#results .item").first).to_be_in_viewport(ratio=1)
    assert_clean(watch)


def _shows_all_of_its_text(field) -> bool:
    return field.evaluate(
        "f => f.scrollWidth <= f.clientWidth && f.scrollHeight <= f.clientHeight + 1"
    )


def test_320_pixels_wide(live_server, new_page, watch, shots):
    page = new_page(viewport={"width": 320, "height": 640}, is_mobile=True, has_touch=True)
    page.goto(live_server.url + "/")
    shown = upload_via_page(page, [file_payload("tiny.jpg", jpeg(), "image/jpeg")])
    expect(page.locator("#results .item-status")).to_contain_text("Done · 1600 × 1000")
    _no_sideways_scrolling(page)
    for field in page.locator("#results .share-link, #results .delete-link").all():
        assert _shows_all_of_its_text(field), field.input_value()
    shots(page, "upload-320px")
    page.goto(shown[0]["page_url"])
    _no_sideways_scrolling(page)
    for field in page.locator(".share-row textarea").all():
        assert _shows_all_of_its_text(field), field.input_value()
    assert_clean(watch)


@pytest.mark.parametrize(
    ("max_bytes", "shown"),
    [(2_000_000, "1.9 MB"), (25 * 1024 * 1024, "25 MB"), (256 * 1024, "256 KB")],
)
def test_the_size_limit_reads_well(tmp_path, new_page, watch, max_bytes, shown):
    settings = Settings(
        data_dir=tmp_path / "d", host="127.0.0.1", port=0, sweep_interval=0, max_bytes=max_bytes
    )
    server = EmbeddedServer(settings)
    server.start()
    try:
        page = new_page(**DESKTOP)
        page.goto(server.url + "/")
        expect(page.locator(".dz-limits")).to_have_text(
            f"JPEG, PNG, GIF or WebP · up to {shown} each"
        )
    finally:
        server.stop()
    assert_clean(watch)


def test_every_control_says_which_upload_it_is_for(live_server, new_page, watch):
    page = new_page(**DESKTOP)
    page.goto(live_server.url + "/")
    upload_via_page(
        page,
        [
            file_payload("first.jpg", jpeg("dusk", (500, 300)), "image/jpeg"),
            file_payload("second.jpg", jpeg("forest", (500, 300)), "image/jpeg"),
        ],
    )
    for scope in (page.locator("#results"), page.locator("main")):
        named = re.findall(r'- (button|textbox|link|radio|group) "([^"]*)"', scope.aria_snapshot())
        buttons_and_fields = [n for n in named if n[0] in ("button", "textbox", "link", "group")]
        repeated = [n for n, k in Counter(buttons_and_fields).items() if k > 1]
        assert repeated == [], repeated
    expect(page.get_by_role("textbox", name="Delete link of second.jpg (secret)")).to_be_visible()
    expect(page.get_by_role("button", name="Copy the link to first.jpg")).to_be_visible()
    assert_clean(watch)


# -- axe-core on every page ------------------------------------------------------------------------

# axe-core (MPL-2.0), a test asset vendored unchanged from npm: see tests/e2e/vendor/README.md.
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
RUN_AXE = """async () => {
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ` +
        v.nodes.map((n) => n.target.join(" ")).join(", "));
}"""


def without_javascript(route) -> None:
    """The page as a browser without JavaScript renders it: <noscript> content applies, no
    script runs (axe itself needs JavaScript, so the context keeps it)."""
    if route.request.method != "GET":  # the form's post goes as the browser sent it
        route.continue_()
        return
    response = route.fetch()
    html = response.text()
    html = re.sub(r"<noscript>(.*?)</noscript>", r"\1", html, flags=re.S)
    html = re.sub(r"<script [^>]*></script>", "", html)
    route.fulfill(response=response, body=html)


ANIMATIONS_SETTLED = """() => document.getAnimations().every(
    a => a.playState !== "running" || a.effect.getComputedTiming().iterations === Infinity)"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_on_any_page(live_server, new_page, watch, scheme):
    base = live_server.url
    page = new_page(**DESKTOP, color_scheme=scheme)
    page.context.add_init_script(path=str(AXE))  # through CDP: the page's CSP does not apply
    found: dict[str, list[str]] = {}

    def check(name: str) -> None:
        page.wait_for_load_state("networkidle")
        # axe reads colours as drawn: a row still fading in (or a button mid-transition) would be
        # measured at part opacity, so wait until every finite animation is over.
        page.wait_for_function(ANIMATIONS_SETTLED)
        found[name] = page.evaluate(RUN_AXE)

    page.goto(base + "/")
    check("upload, empty")
    watch.allow(f"status of 415 (Unsupported Media Type) ({base}/api/upload)")
    page.set_input_files(
        "#file-input",
        [
            file_payload("good.jpg", jpeg("dusk", (640, 400)), "image/jpeg"),
            file_payload("bad.png", b"not an image\n" * 40, "image/png"),
        ],
    )
    expect(page.locator('#results .item[data-state="done"]')).to_have_count(1)
    expect(page.locator('#results .item[data-state="error"]')).to_have_count(1)
    check("upload, with a result and an error")
    good = page.locator("#results .item", has_text="good.jpg")
    good.get_by_text("QR code and embed codes").click()
    qr_code_loaded(page, good.locator(".qr"))
    check("upload, QR code and embed codes open")
    page_url = good.locator(".open-page").get_attribute("href")
    delete_url = good.locator(".delete-link").input_value()
    page.goto(page_url)
    check("viewer")
    page.get_by_text("Report this image").click()
    check("viewer, report form open")
    page.get_by_label("What is wrong with it?").select_option("spam")
    page.get_by_role("button", name="Send report").click()
    check("report received")
    page.goto(delete_url)
    check("delete confirmation")
    page.get_by_role("button", name="Delete image").click()
    check("deleted")
    watch.allow(f"404 (Not Found) ({page_url})")
    page.goto(page_url)
    check("not found")
    # Noise, unlike the landscapes: the removal must not refuse the no-JS upload below as alike.
    noise = encoded(Image.effect_noise((300, 200), 90).convert("RGB"), "JPEG")
    removed = requests.post(
        f"{base}/api/upload", files={"file": ("r.jpg", noise)}, timeout=10
    ).json()
    live_server.app.state.moderation.remove(removed["id"], actor="test", note="axe")
    watch.allow(f"451 (Unavailable For Legal Reasons) ({removed['page_url']})")
    page.goto(removed["page_url"])
    check("removed (451)")
    for path in ("/terms", "/abuse"):
        page.goto(base + path)
        check(path)
    page.route(re.compile(rf"^{re.escape(base)}/(upload(ed/.*)?)?$"), without_javascript)
    page.goto(base + "/")
    expect(page.get_by_label("Image file")).to_be_visible()  # the no-JS form indeed
    check("upload form without JavaScript")
    page.get_by_label("Image file").set_input_files(
        [file_payload("nojs.jpg", jpeg("lagoon", (400, 300)), "image/jpeg")]
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Uploaded")
    check("uploaded without JavaScript")
    violations = {name: v for name, v in found.items() if v}
    assert violations == {}, violations
    # And axe is awake: a field without a name is reported.
    page.evaluate("() => document.querySelector('main').append(document.createElement('input'))")
    assert any(v.startswith("label (critical)") for v in page.evaluate(RUN_AXE))
    assert_clean(watch)


# -- sharing: from a web address, QR code, embed codes, what was removed -----------------------


@pytest.fixture
def image_origin() -> Iterator[str]:
    """A web server on 127.0.0.1 with one photo (with its GPS location and camera in EXIF)."""
    photo = samples.jpeg_with_metadata((800, 500), orientation=1)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/holiday.jpg" else 404)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(photo)))
            self.end_headers()
            self.wfile.write(photo)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("javascript", [True, False])
def test_an_image_on_the_web_is_uploaded_by_its_address(
    tmp_path, new_page, watch, image_origin, javascript
):
    settings = Settings(
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=0,
        sweep_interval=0,
        url_fetch_allow=image_origin,  # this one server, nothing else on the machine
    )
    server = EmbeddedServer(settings)
    server.start()
    try:
        page = new_page(**DESKTOP, java_script_enabled=javascript)
        page.goto(server.url + "/")
        page.get_by_label("Or upload from a web address").fill(f"http://{image_origin}/holiday.jpg")
        if not javascript:  # the no-JS form has its own expiry choice
            page.get_by_label("Delete it automatically after").select_option("1h")
        page.get_by_role("button", name="Fetch and upload").click()
        if javascript:
            item = page.locator("#results .item", has_text="holiday.jpg")
            expect(item).to_have_attribute("data-state", "done")
            expect(item.locator(".item-removed")).to_contain_text("GPS location")
            link = item.locator(".share-link").input_value()
        else:
            expect(page.get_by_role("heading", level=1)).to_have_text("Uploaded")
            expect(page.locator("main")).to_contain_text("deleted automatically in 1 hour")
            link = page.locator(".share-row textarea").first.input_value()
        assert re.fullmatch(rf"{re.escape(server.url)}/{ID}\.jpg", link)
        assert requests.get(link, timeout=10).status_code == 200
    finally:
        server.stop()
    assert_clean(watch)


def test_a_refused_address_shows_the_servers_sentence(live_server, new_page, watch):
    page = new_page(**DESKTOP)
    page.goto(live_server.url + "/")
    watch.allow(f"status of 422 (Unprocessable Entity) ({live_server.url}/api/upload)")
    page.get_by_label("Or upload from a web address").fill("http://127.0.0.1:9/secret.png")
    page.get_by_role("button", name="Fetch and upload").click()
    item = page.locator("#results .item", has_text="secret.png")
    expect(item).to_have_attribute("data-state", "error")
    expect(item.locator(".item-error")).to_contain_text("public addresses only")
    assert_clean(watch)


def test_a_result_offers_a_qr_code_embed_codes_and_what_was_removed(
    live_server, new_page, watch, shots
):
    page = new_page(**DESKTOP, permissions=CLIPBOARD)
    page.goto(live_server.url + "/")
    photo = samples.jpeg_with_metadata((900, 600), orientation=1)
    upload_via_page(page, [file_payload("holiday.jpg", photo, "image/jpeg")])
    item = page.locator("#results .item").first
    expect(item.locator(".item-removed")).to_contain_text("GPS location")
    expect(item.locator(".item-removed")).to_contain_text("camera make and model")
    answer = page.evaluate("() => JSON.parse(localStorage.getItem('picdrop.uploads'))[0].answer")
    qr = item.locator(".qr")
    expect(qr).not_to_have_attribute("src", re.compile("."))  # loaded only when asked for
    item.get_by_text("QR code and embed codes").click()
    expect(qr).to_have_attribute("alt", "QR code of the link to holiday.jpg")
    qr_code_loaded(page, qr)
    assert qr.get_attribute("src") == f"/qr/{answer['id']}.svg"
    codes = {
        row.locator(".embed-name").inner_text(): row.locator("textarea").input_value()
        for row in item.locator(".embed").all()
    }
    page_url, thumb, url = answer["page_url"], answer["thumbnail_url"], answer["url"]
    alt = f"Image {answer['id']}"
    assert codes == {
        "Thumbnail, HTML": f'<a href="{page_url}"><img src="{thumb}" alt="{alt}"></a>',
        "Thumbnail, Markdown": f"[![{alt}]({thumb})]({page_url})",
        "Thumbnail, BBCode": f"[url={page_url}][img]{thumb}[/img][/url]",
        "Medium, 640 × 427, HTML": (
            f'<a href="{page_url}"><img src="{url}" width="640" height="427" alt="{alt}"></a>'
        ),
        "Full size, 900 × 600, HTML": f'<img src="{url}" width="900" height="600" alt="{alt}">',
    }
    item.get_by_role("button", name="Copy the Thumbnail, BBCode embed code for holiday.jpg").click()
    assert clipboard(page) == codes["Thumbnail, BBCode"]
    assert requests.get(thumb, timeout=10).status_code == 200
    shots(page, "upload-qr-and-embeds")
    assert_clean(watch)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_batch_becomes_an_album_with_one_link(live_server, new_page, watch, shots, scheme):
    page = new_page(**DESKTOP, color_scheme=scheme, permissions=CLIPBOARD)
    page.context.add_init_script(path=str(AXE))
    page.goto(live_server.url + "/")
    make = page.get_by_role("button", name="Make an album")
    upload_via_page(page, [file_payload("one.jpg", jpeg("dusk", (640, 400)), "image/jpeg")])
    expect(make).to_be_hidden()  # one upload needs no album
    shown = upload_via_page(
        page,
        [
            file_payload("two.png", png("lagoon", (480, 320)), "image/png"),
            file_payload("three.jpg", jpeg("forest", (400, 600), seed=2), "image/jpeg"),
        ],
    )
    make.click()
    expect(page.locator("#announce")).to_contain_text("Album of 3 images made.")
    link = page.get_by_role("textbox", name="Link to the album").input_value()
    assert re.fullmatch(rf"{re.escape(live_server.url)}/a/{ID}", link)
    page.get_by_role("button", name="Copy the link to the album").click()
    assert clipboard(page) == link
    delete_link = page.get_by_role("textbox", name="Delete link of the album (secret)")
    delete_url = delete_link.input_value()
    assert re.fullmatch(rf"{re.escape(live_server.url)}/delete/a/{ID}/\S+", delete_url)
    kept = page.evaluate("() => JSON.parse(localStorage.getItem('picdrop.albums'))")
    assert kept[0]["url"] == link and kept[0]["delete_token"]
    assert kept[0]["delete_url"] == delete_url
    page.get_by_role("link", name="Open the album").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Album · 3 images")
    pages = [a.get_attribute("href") for a in page.locator(".album-image .open-page").all()]
    assert pages[:2] == [s["page_url"] for s in shown]  # top to bottom, as the list showed them
    page.wait_for_load_state("networkidle")
    page.wait_for_function(ANIMATIONS_SETTLED)
    assert page.evaluate(RUN_AXE) == []
    shots(page, "album" if scheme == "light" else "album-dark")
    # The album's delete link asks first, offers to take the images along, then says it is done.
    page.goto(delete_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete this album?")
    page.wait_for_load_state("networkidle")
    assert page.evaluate(RUN_AXE) == []
    page.get_by_label("Also delete its 3 images").check()
    page.get_by_role("button", name="Delete album").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Album deleted")
    expect(page.locator("main")).to_contain_text("its 3 images are gone")
    page.wait_for_load_state("networkidle")
    assert page.evaluate(RUN_AXE) == []
    assert requests.get(link, timeout=10).status_code == 404
    assert {requests.get(s["link"], timeout=10).status_code for s in shown} == {404}
    assert_clean(watch)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_uploads_without_javascript_become_an_album(live_server, new_page, watch, scheme):
    base = live_server.url
    page = new_page(**DESKTOP, color_scheme=scheme)
    page.context.add_init_script(path=str(AXE))
    page.route(re.compile(rf"^{re.escape(base)}/(upload(ed/.*)?)?$"), without_javascript)
    make = page.get_by_role("button", name="Make an album of these")
    for seed, palette in enumerate(("dusk", "lagoon", "forest")):
        page.goto(base + "/")
        page.get_by_label("Image file").set_input_files(
            [file_payload(f"{palette}.jpg", jpeg(palette, (480, 320), seed=seed), "image/jpeg")]
        )
        page.get_by_role("button", name="Upload", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Uploaded")
        expect(make).to_have_count(0 if seed == 0 else 1)  # one upload needs no album
    expect(page.locator(".batch img")).to_have_count(3)
    page.wait_for_load_state("networkidle")
    assert page.evaluate(RUN_AXE) == []
    make.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Album made")
    assert re.fullmatch(rf"{re.escape(base)}/uploaded/album/{ID}", page.url)
    link = page.get_by_role("textbox", name="Link to the album").input_value()
    delete_url = page.get_by_role("textbox", name="Delete link of the album (secret)").input_value()
    assert re.fullmatch(rf"{re.escape(base)}/a/{ID}", link)
    assert delete_url.startswith(f"{base}/delete/a/{link.rsplit('/', 1)[1]}/")
    page.wait_for_load_state("networkidle")
    assert page.evaluate(RUN_AXE) == []
    page.reload()  # POST-redirect-GET: the same album again, not a second one
    expect(page.get_by_role("textbox", name="Link to the album")).to_have_value(link)
    with sqlite3.connect(live_server.settings.data_dir / "picdrop.db") as db:
        assert db.execute("SELECT COUNT(*) FROM albums").fetchone()[0] == 1
    page.get_by_role("link", name="Open the album").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Album · 3 images")
    assert_clean(watch)


def test_an_album_is_deleted_by_its_link_without_javascript(live_server, new_page, watch):
    base = live_server.url
    uploads = [
        requests.post(f"{base}/api/upload", files={"file": (f"{n}.jpg", data)}, timeout=10).json()
        for n, data in enumerate([jpeg("dusk", (320, 200)), jpeg("forest", (200, 320), seed=3)])
    ]
    members = [{"id": u["id"], "delete_token": u["delete_token"]} for u in uploads]
    made = requests.post(f"{base}/api/albums", json={"images": members}, timeout=10).json()
    page = new_page(**DESKTOP, java_script_enabled=False)
    page.goto(made["delete_url"])
    expect(page.get_by_role("img")).to_have_count(2)
    page.get_by_role("button", name="Delete album").click()  # the box unticked: images stay
    expect(page.get_by_role("heading", level=1)).to_have_text("Album deleted")
    expect(page.locator("main")).to_contain_text("Its images were kept")
    assert re.fullmatch(rf"{re.escape(base)}/a/{ID}/deleted\?images=0", page.url)
    page.reload()  # POST-redirect-GET: a reload deletes nothing more
    expect(page.get_by_role("heading", level=1)).to_have_text("Album deleted")
    assert requests.get(made["url"], timeout=10).status_code == 404
    assert {requests.get(u["url"], timeout=10).status_code for u in uploads} == {200}
    assert_clean(watch)


# -- the watch itself ------------------------------------------------------------------------------


def test_the_watch_sees_csp_violations_and_console_errors(live_server, new_page, watch):
    """The "no console errors, no CSP violations" checks above would pass vacuously if the
    listeners were deaf: provoke both once and see them reported."""
    page = new_page(**DESKTOP)
    page.goto(live_server.url + "/")
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.inlineRan = true";  // inline: blocked by the CSP
            document.body.append(script);
            const img = document.createElement("img");
            img.src = "https://example.com/tracker.gif";     // third party: blocked
            document.body.append(img);
        }"""
    )
    deadline = time.monotonic() + 5
    while len(watch.violations) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert page.evaluate("() => window.inlineRan") is None
    directives = sorted(v["directive"] for v in watch.violations)
    assert directives == ["img-src", "script-src-elem"], watch.violations
    assert any("Content Security Policy" in m for m in watch.console), watch.console
    assert len(watch.problems()) >= 2
    watch.violations.clear()
    watch.console.clear()


def test_readme_links_every_screenshot_and_each_exists():
    taken = set(re.findall(r'shots\(page, "([a-z0-9-]+)"', Path(__file__).read_text()))
    readme = (REPO / "README.md").read_text()
    linked = set(re.findall(r"docs/screenshots/([a-z0-9-]+)\.png", readme))
    assert taken - linked == set(), "screenshots the README does not show"
    for name in taken | linked:  # the README's others come from the desktop screenshot tools
        assert (SCREENSHOT_DIR / f"{name}.png").is_file(), name
