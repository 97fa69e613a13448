"""The web upload page and the viewer, driven in Debian's Chromium (headless, through Playwright)
against a real backend on 127.0.0.1.

Every test watches the browser: a console error, an uncaught page error or a Content-Security-
Policy violation fails it (errors a test provokes on purpose, like the 404 of a deleted image, are
allowed by name). Screenshots go to docs/screenshots/ with PICDROP_SCREENSHOTS=1.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from backend.server import EmbeddedServer
from backend.settings import Settings
from tests.conftest import require, require_program
from tests.e2e.browser import (
    CHROMIUM_ARGS,
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
    item.get_by_role("button", name="Try again").click()
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
