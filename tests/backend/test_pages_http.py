"""The HTML pages over HTTP: security headers, no inline code, content-hashed assets, oEmbed.

What the pages look like and do in a browser is tested in tests/e2e/test_web_page.py.
"""

from __future__ import annotations

import hashlib
import io
import re
import sqlite3
import time
from datetime import UTC, datetime
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image
from starlette.requests import Request

from backend.albums import MAX_ALBUM_IMAGES
from backend.http.pages import CSP, Pages, human_until
from backend.http.routes_oembed import thumbnail_size
from backend.settings import Settings
from tests.backend import imagesamples as samples

HTML = {"Accept": "text/html"}


class Markup(HTMLParser):
    """Every start tag with its attributes, in order."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **where: str) -> list[dict[str, str | None]]:
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in where.items())
        ]


@pytest.fixture
def uploaded(client):
    r = client.upload(samples.plain_jpeg((800, 600)), filename="a.jpg")
    assert r.status_code == 201, r.text
    return r.json()


def _pages(client, uploaded) -> dict[str, object]:
    """One response of every kind of page."""
    other = client.upload(samples.unique_jpeg(seed=11), filename="b.jpg").json()
    removed = client.upload(samples.unique_jpeg(seed=12), filename="c.jpg").json()
    with sqlite3.connect(client.server.settings.data_dir / "picdrop.db") as db:
        db.execute("UPDATE images SET removed_at = ? WHERE id = ?", (time.time(), removed["id"]))
    form = client.session.post(
        f"{client.url}/upload",
        files={"file": ("d.png", samples.plain_png())},
        data={"expires": "1d"},
        headers=HTML,
        timeout=30,
    )
    return {
        "home": client.get("/", headers=HTML),
        "viewer": client.get(f"/{uploaded['id']}", headers=HTML),
        "delete": client.get(uploaded["delete_url"].removeprefix(client.url), headers=HTML),
        "deleted": client.session.post(other["delete_url"], headers=HTML, timeout=30),
        "uploaded": form,
        "not found": client.get("/AAAAAAAAAA", headers=HTML),
        "removed": client.get(f"/{removed['id']}", headers=HTML),
        "rejected": client.session.post(
            f"{client.url}/upload", files={"file": ("x.png", samples.TEXT)}, headers=HTML
        ),
    }


def test_every_page_has_the_strict_headers_and_no_inline_code(client, uploaded):
    pages = _pages(client, uploaded)
    expected_status = {"not found": 404, "removed": 451, "rejected": 415}
    for name, r in pages.items():
        assert r.status_code == expected_status.get(name, 200), (name, r.text[:300])
        assert r.headers["content-type"].startswith("text/html"), name
        assert r.headers["content-security-policy"] == CSP, name
        assert "script-src 'self';" in CSP and "unsafe-inline" not in CSP
        assert r.headers["x-content-type-options"] == "nosniff", name
        assert r.headers["referrer-policy"] == "no-referrer", name
        assert r.headers["x-frame-options"] == "DENY", name
        assert r.headers["cross-origin-opener-policy"] == "same-origin", name
        assert r.headers["cache-control"] == "no-store", name
        markup = Markup(r.text)
        for tag, attrs in markup.tags:
            assert tag != "style", f"{name}: inline <style>"
            assert "style" not in attrs, f"{name}: style attribute on <{tag}>"
            assert not [a for a in attrs if a.startswith("on")], f"{name}: handler on <{tag}>"
            if tag == "script":
                assert (attrs.get("src") or "").startswith("/static/"), f"{name}: inline script"
            for attr in ("src", "href", "action"):
                url = attrs.get(attr)
                if url and tag != "a":  # links may point anywhere; nothing else may load from
                    assert not urlsplit(url).netloc or url.startswith(client.url), (name, url)


def test_viewer_preview_tags_and_oembed_discovery(client, uploaded):
    markup = Markup(client.get(f"/{uploaded['id']}").text)

    def meta(**where: str) -> str | None:
        found = markup.find("meta", **where)
        assert len(found) == 1, where
        return found[0]["content"]

    assert meta(property="og:image") == uploaded["url"]
    assert meta(property="og:image:width") == "800"
    assert meta(property="og:image:height") == "600"
    assert meta(property="og:image:type") == "image/jpeg"
    assert meta(property="og:url") == uploaded["page_url"]
    assert meta(name="twitter:card") == "summary_large_image"
    assert meta(name="twitter:image") == uploaded["url"]
    assert "noindex" in meta(name="robots")
    [link] = markup.find("link", rel="alternate", type="application/json+oembed")
    oembed = client.session.get(link["href"], timeout=10)
    assert oembed.status_code == 200
    assert oembed.json()["url"] == uploaded["url"]
    # The report form posts to issue 6's route, and works without JavaScript.
    [form] = markup.find("form", action=f"/report/{uploaded['id']}")
    assert form["method"] == "post"
    values = [a.get("value") for t, a in markup.tags if t == "option"]
    for reason in ("illegal", "non_consensual", "violence", "spam", "copyright", "other"):
        assert reason in values
    assert markup.find("textarea", name="details")


def test_rejected_form_upload_is_a_page_with_the_sentence(client):
    api = client.upload(samples.TEXT, filename="x.png").json()["error"]
    page = client.session.post(
        f"{client.url}/upload", files={"file": ("x.png", samples.TEXT)}, headers=HTML
    )
    assert page.status_code == 415
    assert api in page.text


# -- assets ---------------------------------------------------------------------------------------

ASSET = re.compile(r"^/static/([a-z]+)\.([0-9a-f]{12})\.(css|js|svg)$")
TYPES = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}


def _asset_urls(client) -> set[str]:
    urls = set()
    for path in ("/", "/AAAAAAAAAA"):
        for tag, attrs in Markup(client.get(path, headers=HTML).text).tags:
            url = attrs.get("src") or attrs.get("href") or ""
            if tag in ("script", "link", "img") and url.startswith("/static/"):
                urls.add(url)
    return urls


def test_assets_are_served_under_their_content_hash_and_cached_forever(client):
    urls = _asset_urls(client)
    names = {ASSET.match(u).group(1) + "." + ASSET.match(u).group(3) for u in urls}
    assert {"picdrop.css", "nojs.css", "upload.js", "copy.js", "favicon.svg"} <= names
    for url in urls:
        stem, digest, ext = ASSET.match(url).groups()
        r = client.get(url)
        assert r.status_code == 200, url
        assert hashlib.sha256(r.content).hexdigest()[:12] == digest
        assert r.headers["content-type"].startswith(TYPES[ext])
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["x-content-type-options"] == "nosniff"
        again = client.get(url, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        plain = {"Accept-Encoding": "identity"}
        head = client.session.head(client.url + url, headers=plain)
        assert head.status_code == 200 and head.headers["content-length"] == str(len(r.content))
        # Another version's name, or no hash at all, is not this file.
        assert client.get(f"/static/{stem}.{'0' * 12}.{ext}").status_code == 404
        assert client.get(f"/static/{stem}.{ext}").status_code == 404
    assert client.session.post(client.url + next(iter(urls))).status_code == 405


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
@pytest.mark.parametrize(
    ("method", "asset", "elsewhere"),
    [
        ("GET", "/static/picdrop.000000000000.css", "/no/such/page"),
        ("POST", "/static/picdrop.css", "/robots.txt"),
    ],
)
def test_asset_errors_look_like_every_other_error(client, accept, method, asset, elsewhere):
    """A missing asset or a wrong method answers in the form the client asked for (the error
    page for a browser), like any other address."""
    answers = [
        client.session.request(method, client.url + path, headers={"Accept": accept}, timeout=30)
        for path in (asset, elsewhere)
    ]
    assert answers[0].status_code == answers[1].status_code
    assert answers[0].headers["content-type"] == answers[1].headers["content-type"]
    assert answers[0].text == answers[1].text


@pytest.mark.parametrize("name", ["picdrop.css", "upload.js", "copy.js"])
def test_text_assets_are_sent_gzipped_to_who_asks(client, name):
    url = next(u for u in _asset_urls(client) if u.startswith(f"/static/{name.split('.')[0]}."))
    plain = client.session.get(client.url + url, headers={"Accept-Encoding": "identity"})
    packed = client.session.get(client.url + url, headers={"Accept-Encoding": "gzip, br"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == plain.headers["vary"] == "Accept-Encoding"
    assert packed.content == plain.content  # requests undid the gzip
    assert int(packed.raw.headers["content-length"]) < len(plain.content) / 2
    assert packed.headers["etag"] != plain.headers["etag"]  # two representations, two ETags
    again = client.session.get(
        client.url + url,
        headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["etag"]},
    )
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["/", "/{id}", "/delete/{id}/{token}", "/uploaded/{id}"])
def test_pages_answer_head_like_get(client, uploaded, path):
    token = uploaded["delete_url"].rsplit("/", 1)[1]
    url = client.url + path.format(id=uploaded["id"], token=token)
    get = client.session.get(url, headers=HTML)
    head = client.session.head(url, headers=HTML)
    assert get.status_code == head.status_code == 200
    assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]


# -- the upload form without JavaScript: POST-redirect-GET -----------------------------------------


def test_form_upload_redirects_to_a_result_page_that_a_reload_does_not_repeat(client):
    posted = client.session.post(
        f"{client.url}/upload",
        files={"file": ("d.png", samples.unique_jpeg(seed=21))},
        data={"expires": "1d"},
        headers=HTML,
        allow_redirects=False,
    )
    assert posted.status_code == 303
    result_path = posted.headers["location"]
    image_id = re.fullmatch(r"/uploaded/([0-9A-Za-z]{10,})", result_path).group(1)
    cookie = posted.headers["set-cookie"]
    assert cookie.startswith(f"picdrop-delete-{image_id}="), cookie
    for flag in ("HttpOnly", "SameSite=strict", "Path=/uploaded;", "Max-Age=3600"):
        assert flag.lower() in cookie.lower(), cookie
    pages = [client.session.get(client.url + result_path, headers=HTML) for _ in range(2)]
    for page in pages:  # a reload shows the same page again
        assert page.status_code == 200
        assert f"/delete/{image_id}/" in page.text and f"/{image_id}." in page.text
    # Another browser (no cookie) sees the links, never the delete link.
    stranger = requests.get(client.url + result_path, headers=HTML, timeout=30)
    assert stranger.status_code == 200 and f"/{image_id}." in stranger.text
    assert "/delete/" not in stranger.text and "no longer shown here" in stranger.text
    # A forged cookie is not a delete link either.
    forged = requests.get(
        client.url + result_path,
        headers=HTML,
        cookies={f"picdrop-delete-{image_id}": "not-the-token"},
        timeout=30,
    )
    assert "/delete/" not in forged.text


def _form_upload(session, url: str, seed: int | None) -> str:
    """A no-JS upload in this browser (session): the id of the image."""
    posted = session.post(
        f"{url}/upload",
        files={"file": (f"{seed}.jpg", samples.unique_jpeg(seed=seed))},
        headers=HTML,
        allow_redirects=False,
        timeout=30,
    )
    assert posted.status_code == 303, posted.text
    return posted.headers["location"].rsplit("/", 1)[1]


def test_several_form_uploads_become_one_album_shown_once(client):
    browser = requests.Session()
    first = _form_upload(browser, client.url, 70)
    alone = browser.get(f"{client.url}/uploaded/{first}", headers=HTML, timeout=30)
    assert "Make an album of these" not in alone.text  # one upload needs no album
    later = [_form_upload(browser, client.url, seed) for seed in (71, 72)]
    page = browser.get(f"{client.url}/uploaded/{later[-1]}", headers=HTML, timeout=30)
    assert "Make an album of these" in page.text and 'action="/uploaded/album"' in page.text
    assert all(f"/t/{i}.webp" in page.text for i in [first, *later])
    # Another browser, even on the same result page, is offered nothing.
    stranger = requests.get(f"{client.url}/uploaded/{later[-1]}", headers=HTML, timeout=30)
    assert "Make an album of these" not in stranger.text
    # An upload deleted meanwhile is left out of the album.
    token = browser.cookies.get(f"picdrop-delete-{later[0]}")
    gone = browser.delete(
        f"{client.url}/api/images/{later[0]}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert gone.status_code == 204
    made = browser.post(
        f"{client.url}/uploaded/album", headers=HTML, allow_redirects=False, timeout=30
    )
    assert made.status_code == 303, made.text
    album_path = made.headers["location"]
    album_id = re.fullmatch(r"/uploaded/album/([0-9A-Za-z]{10,})", album_path).group(1)
    cookie = made.headers["set-cookie"]
    for flag in ("HttpOnly", "SameSite=strict", f"Path={album_path}", "Max-Age=3600"):
        assert flag.lower() in cookie.lower(), cookie
    shown = [browser.get(client.url + album_path, headers=HTML, timeout=30) for _ in range(2)]
    for result in shown:  # a reload shows the same album, and makes no other
        assert result.status_code == 200
        assert f"{client.url}/a/{album_id}" in result.text
        assert f"/delete/a/{album_id}/" in result.text
    album = client.get(f"/api/albums/{album_id}").json()
    assert [i["id"] for i in album["images"]] == [first, later[1]]  # in upload order
    with sqlite3.connect(client.server.settings.data_dir / "picdrop.db") as db:
        assert db.execute("SELECT COUNT(*) FROM albums").fetchone()[0] == 1
    elsewhere = requests.get(client.url + album_path, headers=HTML, timeout=30)
    assert elsewhere.status_code == 200 and "/delete/a/" not in elsewhere.text
    assert "no longer shown here" in elsewhere.text


def test_an_album_of_no_uploads_is_refused(client):
    browser = requests.Session()
    browser.cookies.set("picdrop-delete-AAAAAAAAAA", "forged", path="/uploaded")
    answer = browser.post(f"{client.url}/uploaded/album", headers=HTML, timeout=30)
    assert answer.status_code == 400
    assert "no uploads of this browser" in answer.text


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/uploaded/{id}", 200),
    ("POST", "/uploaded/album", 303),
])  # fmt: skip
def test_forged_upload_cookies_cost_a_bounded_number_of_lookups(
    client, monkeypatch, method, path, status
):
    """Only this browser's last MAX_ALBUM_IMAGES upload cookies are looked up: 2,000 forged ones
    (50 KB of Cookie header) cost 2,000 catalog lookups a request, and the page needs no key."""
    browser = requests.Session()
    mine = [_form_upload(browser, client.url, seed) for seed in (80, 81)]
    service = client.server.app.state.service
    looked_up = []
    lookup = service.lookup
    monkeypatch.setattr(
        service, "lookup", lambda image_id: looked_up.append(image_id) or lookup(image_id)
    )
    forged = "; ".join(f"picdrop-delete-{n:010d}=x" for n in range(2000))
    own = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    answer = requests.request(
        method,
        client.url + path.format(id=mine[-1]),
        headers={**HTML, "Cookie": f"{forged}; {own}"},
        allow_redirects=False,
        timeout=60,
    )
    assert answer.status_code == status, answer.text
    assert len(looked_up) <= MAX_ALBUM_IMAGES + 1  # and the result page's own image
    if method == "GET":  # this browser's own uploads, the most recent cookies, are still found
        assert f"/delete/{mine[-1]}/" in answer.text and "Make an album of these" in answer.text


def test_get_of_the_form_address_goes_back_to_the_form(client):
    r = client.session.get(f"{client.url}/upload", headers=HTML, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


# -- oEmbed ---------------------------------------------------------------------------------------


def _oembed(client, url: str, **params) -> object:
    return client.session.get(f"{client.url}/api/oembed", params={"url": url, **params}, timeout=10)


def test_oembed_photo_for_page_and_image_urls(client, uploaded):
    for url in (uploaded["page_url"], uploaded["url"], uploaded["thumbnail_url"]):
        r = _oembed(client, url, format="json")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["version"] == "1.0" and body["type"] == "photo"
        assert body["provider_name"] == "picdrop" and body["provider_url"] == client.url + "/"
        assert (body["url"], body["width"], body["height"]) == (uploaded["url"], 800, 600)
        assert body["thumbnail_url"] == uploaded["thumbnail_url"]
        assert "cache_age" not in body  # never expires
    thumb = Image.open(io.BytesIO(client.get(f"/t/{uploaded['id']}.webp").content))
    assert (body["thumbnail_width"], body["thumbnail_height"]) == thumb.size == (320, 240)


def test_oembed_respects_maxwidth_and_maxheight(client, uploaded):
    fits = _oembed(client, uploaded["page_url"], maxwidth=800, maxheight=600).json()
    assert (fits["url"], fits["width"]) == (uploaded["url"], 800)
    thumb = _oembed(client, uploaded["page_url"], maxwidth=500).json()
    assert (thumb["url"], thumb["width"], thumb["height"]) == (uploaded["thumbnail_url"], 320, 240)


def test_oembed_refusals(client, uploaded):
    assert _oembed(client, uploaded["page_url"], format="xml").status_code == 501
    foreign = uploaded["page_url"].replace("127.0.0.1", "evil.example")
    for url in (foreign, f"{client.url}/AAAAAAAAAA", f"{client.url}/api/upload", "not a url"):
        r = _oembed(client, url)
        assert r.status_code == 404, url
        assert r.json()["code"] == "not_found"
    assert _oembed(client, uploaded["page_url"], maxwidth=0).status_code == 400
    expiring = client.session.post(
        f"{client.url}/api/upload",
        files={"file": ("e.jpg", samples.unique_jpeg(seed=5))},
        data={"expires": "1h"},
        timeout=30,
    ).json()
    assert 3500 < _oembed(client, expiring["page_url"]).json()["cache_age"] <= 3600


@pytest.mark.parametrize(
    "size", [(800, 600), (600, 800), (320, 320), (100, 50), (1001, 333), (333, 1001), (5000, 7)]
)
def test_thumbnail_size_is_what_pillow_makes(size):
    image = Image.new("L", size)
    image.thumbnail((320, 320))
    assert thumbnail_size(*size) == image.size


# -- small pieces ---------------------------------------------------------------------------------


def test_expiry_choices_follow_the_server_policy(tmp_path):
    capped = Pages(Settings(data_dir=tmp_path, max_expiry="7d", default_expiry="1d"))
    assert [k for k, _ in capped.expiry_choices()] == ["1h", "1d", "7d"]
    everything = Pages(Settings(data_dir=tmp_path))
    assert everything.expiry_choices()[-1] == ("never", "Forever")


def test_human_until():
    now = 1_000_000.0

    def at(seconds: float) -> datetime:
        return datetime.fromtimestamp(now + seconds, UTC)

    assert human_until(None) == "never"
    assert human_until(at(7 * 86400 - 3), now) == "in 7 days"
    assert human_until(at(3600 - 2), now) == "in 1 hour"
    assert human_until(at(20 * 60), now) == "in 20 minutes"
    assert human_until(at(10), now) == "in less than a minute"


def test_report_confirmation_page(tmp_path):
    """`POST /report/{id}` is issue 6's route; the page it renders is this one."""
    settings = Settings(data_dir=tmp_path, public_url="https://picdrop.example")
    app = SimpleNamespace(
        state=SimpleNamespace(settings=settings, guard=SimpleNamespace(trusted=()))
    )
    scope = {
        "type": "http",
        "app": app,
        "method": "POST",
        "path": "/report/AbCdEfGhIj",
        "headers": [],
        "query_string": b"",
        "server": ("picdrop.example", 443),
        "scheme": "https",
        "root_path": "",
    }
    r = Pages(settings).reported(Request(scope), "AbCdEfGhIj")
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == CSP
    text = r.body.decode()
    assert "report received" in text and "<code>AbCdEfGhIj</code>" in text
    assert not [a for t, a in Markup(text).tags if t == "script" and not a.get("src")]


def _page(settings: Settings, render) -> str:
    app = SimpleNamespace(
        state=SimpleNamespace(settings=settings, guard=SimpleNamespace(trusted=()))
    )
    scope = {
        "type": "http",
        "app": app,
        "method": "GET",
        "path": "/",
        "headers": [],
        "query_string": b"",
        "server": ("picdrop.example", 443),
        "scheme": "https",
        "root_path": "",
    }
    r = render(Pages(settings), Request(scope))
    assert r.status_code == 200 and r.headers["content-security-policy"] == CSP
    return r.body.decode()


@pytest.mark.parametrize(
    ("terms", "contact", "shown", "link"),
    [
        ("", "", "Upload only images you may share.", None),
        ("First <b>rule</b>.\n\nSecond rule.", "", "<p>First &lt;b&gt;rule&lt;/b&gt;.</p>", None),
        ("", "abuse@picdrop.example", "write to", "mailto:abuse@picdrop.example"),
        ("", "https://picdrop.example/contact", "write to", "https://picdrop.example/contact"),
    ],
)
def test_terms_and_abuse_pages_show_what_the_operator_set(tmp_path, terms, contact, shown, link):
    settings = Settings(data_dir=tmp_path, terms=terms, abuse_contact=contact)
    text = _page(settings, Pages.terms) + _page(settings, Pages.abuse)
    assert shown in text
    if terms:
        assert "<p>Second rule.</p>" in text and "Upload only images" not in text
    hrefs = [a.get("href") for t, a in Markup(text).tags if t == "a"]
    assert (link in hrefs) if link else "write to" not in text


def test_every_page_footer_links_the_terms_and_abuse_pages(client, uploaded):
    for name, r in _pages(client, uploaded).items():
        hrefs = {a.get("href") for t, a in Markup(r.text).tags if t == "a"}
        assert {"/terms", "/abuse"} <= hrefs, name
    for path in ("/terms", "/abuse"):
        assert client.get(path, headers=HTML).status_code == 200


# -- forms refuse cross-site posts ----------------------------------------------------------------
def _form_posts(client) -> dict[str, tuple[str, dict, int]]:
    """Every form a browser can post: (path, request keywords, status when accepted). Each call
    uploads a fresh image, so an accepted delete has something to delete."""
    image = client.upload(samples.unique_jpeg()).json()
    upload = {"files": {"file": ("a.jpg", samples.unique_jpeg())}}
    members = [{"id": image["id"], "delete_token": image["delete_token"]}]
    album = client.session.post(f"{client.url}/api/albums", json={"images": members}, timeout=30)
    for _ in range(2):  # two no-JS uploads in this browser: it is offered an album of them
        _form_upload(client.session, client.url, None)
    return {
        "make album form": ("/uploaded/album", {}, 200),  # after its 303 to the album's page
        "album delete link": (
            album.json()["delete_url"].removeprefix(client.url),
            {"data": {"images": "yes"}},
            200,  # after its 303 to the "deleted" page
        ),
        "report form": (f"/report/{image['id']}", {"data": {"reason": "spam"}}, 200),
        "report API": (f"/api/images/{image['id']}/report", {"data": {"reason": "spam"}}, 202),
        "delete link": (image["delete_url"].removeprefix(client.url), {}, 200),
        "upload form": ("/upload", upload, 200),  # after its 303 to the result page
        "curl upload": ("/", upload, 201),
    }


FORMS = [
    "make album form",
    "report form",
    "report API",
    "delete link",
    "album delete link",
    "upload form",
    "curl upload",
]
PAGE_FORMS = {"report form", "delete link", "album delete link", "make album form", "upload form"}
CROSS_SITE = {
    "Sec-Fetch-Site cross-site": {"Sec-Fetch-Site": "cross-site"},
    "Sec-Fetch-Site same-site": {"Sec-Fetch-Site": "same-site"},
    "Sec-Fetch-Site beats Origin": {"Sec-Fetch-Site": "cross-site", "Origin": "SELF"},
    "Origin of another site": {"Origin": "https://evil.example"},
    "Origin of another port": {"Origin": "SELF-PORT"},
    "Origin null": {"Origin": "null"},
}
SAME_SITE = {
    "no headers (curl)": {},
    "Sec-Fetch-Site same-origin": {"Sec-Fetch-Site": "same-origin"},
    "Sec-Fetch-Site none": {"Sec-Fetch-Site": "none"},
    "our own Origin": {"Origin": "SELF"},
}


def _headers(client, headers: dict[str, str]) -> dict[str, str]:
    other_port = client.url.rsplit(":", 1)[0] + ":1"
    values = {"SELF": client.url, "SELF-PORT": other_port}
    return {k: values.get(v, v) for k, v in headers.items()}


@pytest.mark.parametrize("case", list(CROSS_SITE))
@pytest.mark.parametrize("form", FORMS)
def test_cross_site_form_posts_are_refused(client, form, case):
    path, kw, _status = _form_posts(client)[form]
    rows = client.rows()
    r = client.session.post(
        client.url + path, headers=_headers(client, CROSS_SITE[case]), timeout=30, **kw
    )
    assert r.status_code == 403, r.text
    if form != "curl upload":  # plain text there, like every answer of `POST /`
        assert r.json()["code"] == "cross_site"
    assert "another website" in r.text
    assert client.rows() == rows  # nothing uploaded, nothing deleted
    page = client.session.post(
        client.url + path,
        headers={**_headers(client, CROSS_SITE[case]), **HTML},
        timeout=30,
        **kw,
    )
    assert page.status_code == 403 and "another website" in page.text
    if form in PAGE_FORMS:  # a browser gets a page that says why
        assert "text/html" in page.headers["content-type"]


@pytest.mark.parametrize("case", list(SAME_SITE))
@pytest.mark.parametrize("form", FORMS)
def test_same_origin_and_non_browser_form_posts_are_accepted(client, form, case):
    path, kw, status = _form_posts(client)[form]
    r = client.session.post(
        client.url + path, headers=_headers(client, SAME_SITE[case]), timeout=30, **kw
    )
    assert r.status_code == status, r.text


# -- Swagger UI is off unless asked for -----------------------------------------------------------
@pytest.mark.parametrize(
    ("settings_overrides", "docs_status"),
    [({}, 404), ({"api_docs": True}, 200)],
    ids=["default", "PICDROP_API_DOCS=true"],
)
def test_swagger_ui_is_off_by_default_and_the_schema_is_always_served(client, docs_status):
    assert client.get("/api/docs").status_code == docs_status
    assert client.get("/openapi.json").json()["info"]["title"] == "picdrop"
