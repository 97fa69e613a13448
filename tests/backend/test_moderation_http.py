"""Reports and takedowns through the real server: the report form and API, the admin API and
CLI, removal (451, blocklist, blob purge), blocks, dismissals and the append-only audit log."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import sys

import pytest
import requests
from PIL import Image
from requests_toolbelt.adapters.source import SourceAddressAdapter

from backend import cli
from backend.catalog.bands import band_values
from backend.http import routes_moderation
from backend.images import Limits, probe
from backend.images.fingerprint import perceptual_hash
from tests.backend import imagesamples as samples
from tests.backend.test_fingerprint import animation, disguises

ADMIN = "admin-token-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
REASONS = ["illegal", "non_consensual", "violence", "spam", "copyright", "other"]


@pytest.fixture
def settings_overrides():
    return {"admin_token": ADMIN}


def photo_jpeg(seed: int = 7, size=(640, 480), quality: int = 90) -> bytes:
    return samples.encode(samples.varied_picture(seed).resize(size), quality=quality)


def upload(client, data: bytes) -> dict:
    r = client.upload(data, filename="x.jpg")
    assert r.status_code == 201, r.text
    return r.json()


def report(client, image_id: str, **fields):
    return client.session.post(f"{client.url}/api/images/{image_id}/report", json=fields)


def admin(client, method: str, path: str, **kw):
    return client.session.request(method, client.url + path, headers=AUTH, timeout=30, **kw)


# -- reports
def test_report_api_answers_202_and_stores_no_reporter(client):
    image = upload(client, photo_jpeg())
    r = report(client, image["id"], reason="spam", details="Same ad posted 40 times")
    assert r.status_code == 202
    assert r.json() == {"status": "received"}
    # form-encoded works too
    other = upload(client, photo_jpeg(8))
    r = client.session.post(
        f"{client.url}/api/images/{other['id']}/report", data={"reason": "copyright"}
    )
    assert r.status_code == 202
    db = client.server.settings.data_dir / "picdrop.db"
    with sqlite3.connect(db) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(reports)")]
    assert not {"ip", "address", "client", "reporter", "user_agent"} & set(columns)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"reason": "because"}, 400),
        ({}, 400),
        ({"reason": "spam", "details": "x" * 2001}, 400),
        ({"reason": "spam", "details": 12}, 400),
        ({"reason": ["spam"]}, 400),
    ],
)
def test_bad_reports_are_refused(client, body, status):
    image = upload(client, photo_jpeg())
    r = report(client, image["id"], **body)
    assert r.status_code == status
    assert r.json()["error"].endswith(".")
    assert admin(client, "GET", "/api/admin/reports").json() == {"images": [], "next": None}


def test_report_edge_cases(client):
    image = upload(client, photo_jpeg())
    url = f"{client.url}/api/images/{image['id']}/report"

    def post(body: str, ctype: str) -> int:
        return client.session.post(url, data=body, headers={"Content-Type": ctype}).status_code

    assert post("[1,2]", "application/json") == 400
    assert post("{", "application/json") == 400
    assert post("reason=spam", "text/plain") == 415
    assert post("reason=%ff", "application/x-www-form-urlencoded") == 400
    big = client.session.post(url, json={"reason": "spam", "details": "x" * 20000})
    assert big.status_code == 413
    assert report(client, "ZZZZZZZZZZ", reason="spam").status_code == 404


def test_viewer_has_a_report_form_that_works_without_javascript(client):
    image = upload(client, photo_jpeg())
    page = client.get(f"/{image['id']}").text
    form = re.search(
        r'<form[^>]* method="post" action="/report/([^"]+)"[^>]*>(.*?)</form>', page, re.S
    )
    assert form and form.group(1) == image["id"]
    assert re.findall(r'<option value="([a-z_]+)"', form.group(2)) == REASONS
    assert re.search(r'<select[^>]* name="reason"', form.group(2))
    assert re.search(r'<textarea[^>]* name="details"', form.group(2))
    # What a browser without JavaScript sends: a urlencoded POST, answered by an HTML page.
    r = client.session.post(
        f"{client.url}/report/{image['id']}",
        data={"reason": "non_consensual", "details": "That is me, I did not agree"},
        headers={"Accept": "text/html"},
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "Thank you" in r.text and "report" in r.text
    [group] = admin(client, "GET", "/api/admin/reports").json()["images"]
    assert group["reasons"] == {"non_consensual": 1}
    assert group["reports"][0]["details"] == "That is me, I did not agree"


def test_reports_are_deduplicated_per_image_and_client(client):
    a, b = upload(client, photo_jpeg(1)), upload(client, photo_jpeg(2))
    for _ in range(3):
        assert report(client, a["id"], reason="spam").status_code == 202
    assert report(client, b["id"], reason="violence").status_code == 202
    groups = {g["image_id"]: g for g in admin(client, "GET", "/api/admin/reports").json()["images"]}
    assert groups[a["id"]]["count"] == 1
    assert groups[b["id"]]["count"] == 1


def test_open_reports_per_image_are_capped(client):
    """A crowd (or a botnet) reporting one image cannot fill the database: 50 open reports are
    kept per image, more are accepted (202) and dropped."""
    image = upload(client, photo_jpeg())
    moderation = client.server.app.state.moderation
    stored = [moderation.report(image["id"], "spam", f"report {i}") for i in range(60)]
    assert stored.count(True) == 50 and stored[50:] == [False] * 10
    [group] = admin(client, "GET", "/api/admin/reports").json()["images"]
    assert group["count"] == 50


@pytest.mark.parametrize("settings_overrides", [{"admin_token": ADMIN, "report_rate": "3/hour"}])
def test_reports_are_rate_limited(client):
    images = [upload(client, photo_jpeg(seed)) for seed in range(4)]
    for image in images[:3]:
        assert report(client, image["id"], reason="spam").status_code == 202
    r = report(client, images[3]["id"], reason="spam")
    assert r.status_code == 429
    assert r.json()["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 3600


# -- admin authentication
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer "}, 401),
        ({"Authorization": f"Basic {ADMIN}"}, 401),
        ({"Authorization": "Bearer wrong"}, 403),
        ({"Authorization": f"Bearer {ADMIN}x"}, 403),
    ],
)
def test_admin_needs_the_token(client, headers, status):
    for method, path in [
        ("GET", "/api/admin/reports"),
        ("GET", "/api/admin/blocks"),
        ("POST", "/api/admin/images/AAAAAAAAAA/remove"),
        ("POST", "/api/admin/purge-expired"),
        ("GET", "/api/admin/audit"),
    ]:
        r = client.session.request(method, client.url + path, headers=headers)
        assert r.status_code == status, (method, path)
        assert r.json()["code"] in ("unauthorized", "forbidden")


def test_admin_token_is_compared_in_constant_time(client, monkeypatch):
    calls = []
    real = routes_moderation.hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(routes_moderation.hmac, "compare_digest", spy)
    assert admin(client, "GET", "/api/admin/blocks").status_code == 200
    r = client.session.get(f"{client.url}/api/admin/blocks", headers={"Authorization": "Bearer x"})
    assert r.status_code == 403
    assert calls == [(32, 32), (32, 32)]  # digests: same length whatever was sent


ADMIN_ROUTES = [
    ("GET", "/api/admin/reports"),
    ("GET", "/api/admin/images/{image_id}"),
    ("POST", "/api/admin/images/{image_id}/remove"),
    ("POST", "/api/admin/images/{image_id}/dismiss"),
    ("GET", "/api/admin/blocks"),
    ("DELETE", "/api/admin/blocks/{block_id}"),
    ("POST", "/api/admin/purge-expired"),
    ("GET", "/api/admin/audit"),
]


def test_the_admin_routes_are_all_listed_here(client):
    paths = client.session.get(f"{client.url}/openapi.json").json()["paths"]
    served = {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/admin/")
        for method in operations
    }
    assert served == set(ADMIN_ROUTES)


@pytest.mark.parametrize(("method", "route"), ADMIN_ROUTES)
def test_each_admin_request_checks_the_token_once(client, monkeypatch, method, route):
    calls = []
    real = routes_moderation.hmac.compare_digest

    def spy(a, b):
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(routes_moderation.hmac, "compare_digest", spy)
    path = route.format(image_id=upload(client, photo_jpeg(60))["id"], block_id=1)
    assert admin(client, method, path).status_code in (200, 204, 404)
    assert len(calls) == 1


@pytest.mark.parametrize("settings_overrides", [{"admin_token": ""}])
def test_admin_api_is_off_without_a_token(client):
    r = admin(client, "GET", "/api/admin/reports")
    assert r.status_code == 403
    assert "PICDROP_ADMIN_TOKEN" in r.json()["error"]


# -- removal
def test_removal_answers_451_blocks_copies_and_purges_the_blob(client):
    original = photo_jpeg(11)
    image = upload(client, original)
    twin = upload(client, original)  # the same bytes, uploaded again by someone
    keep = upload(client, photo_jpeg(12))
    iid = image["id"]
    assert client.get(f"/t/{iid}.webp").status_code == 200  # thumbnail made and stored
    assert report(client, iid, reason="illegal").status_code == 202

    r = admin(client, "POST", f"/api/admin/images/{iid}/remove", json={"note": "court order 12"})
    assert r.status_code == 200, r.text
    result = r.json()
    assert sorted(result["removed"]) == sorted([iid, twin["id"]])
    assert len(result["blocks"]) == 2 and result["reports_closed"] == 1

    for victim in (iid, twin["id"]):
        for path in (f"/{victim}.jpg", f"/t/{victim}.webp", f"/api/images/{victim}", f"/{victim}"):
            r = client.get(path)
            assert r.status_code == 451, path
            assert r.json()["code"] == "removed"
        page = client.get(f"/{victim}", headers={"Accept": "text/html"})
        assert page.status_code == 451 and "Removed" in page.text
    # The blob and its thumbnail are gone; the other image is untouched.
    files = {p.name for p in client.blob_files()}
    assert not any(image["sha256"] in name for name in files)
    assert any(keep["sha256"] in name for name in files)
    assert client.get(f"/{keep['id']}.jpg").status_code == 200

    # The same bytes, a re-encoded copy and a resized copy are all refused.
    picture = samples.varied_picture(11).resize((640, 480))
    copies = {
        "same bytes": original,
        "re-encoded": samples.encode(picture, quality=55),
        "resized": samples.encode(picture.resize((320, 240)), quality=80),
        "as png": samples.encode(picture.resize((480, 360)), "PNG"),
    }
    for name, data in copies.items():
        r = client.upload(data)
        assert r.status_code == 451, name
        assert r.json()["code"] == "blocked"
    assert client.upload(photo_jpeg(13)).status_code == 201  # other pictures are fine
    assert len(client.rows()) == 4  # image, twin (kept as 'removed' rows), keep, the last one


def _pictures(seed: int, count: int) -> list[Image.Image]:
    return [samples.varied_picture(seed + i).resize((320, 240)) for i in range(count)]


DISGUISES = list(disguises(samples.picture(), samples.picture(seed=1)))  # their names


@pytest.mark.parametrize("disguise", DISGUISES)
def test_removed_picture_is_refused_in_any_frame_and_orientation(client, disguise):
    """A removed picture comes back as a frame of an animation behind a decoy, or mirrored,
    rotated or transposed: 451, like the picture itself."""
    picture, decoy = _pictures(71, 2)
    image = upload(client, samples.encode(picture, quality=90))
    assert admin(client, "POST", f"/api/admin/images/{image['id']}/remove").status_code == 200
    r = client.upload(disguises(picture, decoy)[disguise])
    assert r.status_code == 451, r.text
    assert r.json()["code"] == "blocked"


@pytest.mark.parametrize("disguise", [DISGUISES[1], DISGUISES[-1]])
def test_a_removal_by_another_process_is_enforced_on_the_next_upload(client, disguise):
    """The server holds its few perceptual blocks in memory: a removal made by another process
    on the same catalog (the CLI) refuses the picture from the very next upload, in any frame and
    orientation, and lifting its blocks there lets the picture back as soon."""
    held, picture, decoy = _pictures(76, 3)
    first = upload(client, samples.encode(held, quality=90))
    assert admin(client, "POST", f"/api/admin/images/{first['id']}/remove").status_code == 200
    image = upload(client, samples.encode(picture, quality=90))  # checked against the block held
    copy = disguises(picture, decoy)[disguise]

    cli_process(client, "remove", image["id"])
    r = client.upload(copy)
    assert r.status_code == 451, r.text

    for b in cli_process(client, "blocks"):
        if b["image_id"] == image["id"]:
            cli_process(client, "unblock", str(b["id"]))
    r = client.upload(copy)
    assert r.status_code == 201, r.text


def cli_process(client, *args: str) -> object:
    """`picdrop-server admin ARGS` in a process of its own, on the server's catalog."""
    data_dir = str(client.server.settings.data_dir)
    done = subprocess.run(
        [sys.executable, "-m", "backend", "-q", "admin", *args, "--data-dir", data_dir],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


UNRELATED = {
    "another picture": lambda: photo_jpeg(72),
    "an animation of other pictures": lambda: animation("GIF", _pictures(80, 4), duration=80),
    "an apng of other pictures": lambda: animation(
        "PNG", _pictures(90, 3), default_image=True, duration=80
    ),
    "another picture mirrored": lambda: samples.encode(
        samples.varied_picture(72).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    ),
}


@pytest.mark.parametrize("build", UNRELATED.values(), ids=UNRELATED)
def test_other_pictures_and_animations_are_still_accepted(client, build):
    picture, _ = _pictures(71, 2)
    image = upload(client, samples.encode(picture, quality=90))
    assert admin(client, "POST", f"/api/admin/images/{image['id']}/remove").status_code == 200
    r = client.upload(build())
    assert r.status_code == 201, r.text


def test_a_removed_animation_blocks_the_picture_in_each_of_its_frames(client):
    """Removing an APNG whose default image is a decoy blocks the picture its frame shows,
    which then cannot come back as a still image."""
    picture, decoy = _pictures(73, 2)
    apng = animation("PNG", [decoy, picture], default_image=True, duration=1000)
    image = upload(client, apng)
    r = admin(client, "POST", f"/api/admin/images/{image['id']}/remove")
    assert r.status_code == 200 and len(r.json()["blocks"]) == 3  # bytes, decoy, picture
    for data in (samples.encode(picture, quality=85), samples.encode(decoy, "PNG")):
        r = client.upload(data)
        assert r.status_code == 451, r.text


def test_a_block_from_before_orientations_gains_them_when_its_picture_is_removed(client):
    """A perceptual block made before migration 0003 holds the upright hash only (its picture
    was deleted with the removal); it still refuses upright copies, and removing another copy
    of the picture fills in the orientations of that same block."""
    picture = _pictures(74, 1)[0]
    image = upload(client, samples.encode(picture, quality=90))
    served = client.get(f"/{image['id']}.jpg").content
    dhash = perceptual_hash(served, probe(served, Limits()))  # the pass may not have run yet
    with sqlite3.connect(client.server.settings.data_dir / "picdrop.db") as conn:
        block_id = conn.execute(
            "INSERT INTO blocks (kind, value, image_id, created_at) VALUES ('dhash', ?, ?, 0)",
            (dhash, "OldRemoval"),
        ).lastrowid
        conn.executemany(  # as migration 0004 indexes the blocks it finds
            "INSERT INTO block_bands (band, value, block_id) VALUES (?, ?, ?)",
            [(band, value, block_id) for band, value in band_values(dhash)],
        )
    [old] = admin(client, "GET", "/api/admin/blocks").json()["blocks"]
    assert client.upload(samples.encode(picture, quality=80)).status_code == 451

    r = admin(client, "POST", f"/api/admin/images/{image['id']}/remove")
    assert r.status_code == 200 and old["id"] in r.json()["blocks"]
    blocks = admin(client, "GET", "/api/admin/blocks").json()["blocks"]
    assert sorted(b["kind"] for b in blocks) == ["dhash", "sha256"]
    turned = picture.transpose(Image.Transpose.ROTATE_90)
    r = client.upload(samples.encode(turned, quality=85))
    assert r.status_code == 451, r.text


def test_removal_closes_reports_and_is_in_the_audit_log(client):
    image = upload(client, photo_jpeg())
    report(client, image["id"], reason="violence", details="gore")
    assert admin(client, "GET", f"/api/admin/images/{image['id']}").status_code == 200
    admin(client, "POST", f"/api/admin/images/{image['id']}/remove")
    assert admin(client, "GET", "/api/admin/reports").json() == {"images": [], "next": None}
    shown = admin(client, "GET", f"/api/admin/images/{image['id']}").json()
    assert shown["state"] == "removed"
    assert shown["record"]["removed_at"] is not None and not shown["record"]["blob_present"]
    assert shown["reports"][0]["status"] == "actioned"
    assert "delete_token_hash" not in shown["record"]
    actions = [e["action"] for e in admin(client, "GET", "/api/admin/audit").json()["entries"]]
    assert actions == ["show", "remove", "show"]


def test_image_record_and_grouped_reports(client):
    a, b = upload(client, photo_jpeg(1)), upload(client, photo_jpeg(2))
    report(client, a["id"], reason="spam")
    report(client, b["id"], reason="copyright", details="my photo")
    # a second client (a different address) reports b too
    with requests.Session() as other:
        other.mount("http://", SourceAddressAdapter("127.0.0.2"))
        r = other.post(f"{client.url}/api/images/{b['id']}/report", json={"reason": "other"})
        assert r.status_code == 202
    groups = admin(client, "GET", "/api/admin/reports").json()["images"]
    assert [g["image_id"] for g in groups] == [b["id"], a["id"]]  # most reported first
    assert groups[0]["count"] == 2 and groups[0]["reasons"] == {"copyright": 1, "other": 1}
    shown = admin(client, "GET", f"/api/admin/images/{b['id']}").json()
    assert shown["state"] == "live" and shown["record"]["sha256"] == b["sha256"]
    assert [r["reason"] for r in shown["reports"]] == ["copyright", "other"]
    assert admin(client, "GET", "/api/admin/images/ZZZZZZZZZZ").status_code == 404


def test_dismiss(client):
    image = upload(client, photo_jpeg())
    report(client, image["id"], reason="other", details="I just do not like it")
    r = admin(client, "POST", f"/api/admin/images/{image['id']}/dismiss", json={"note": "fine"})
    assert r.json() == {"id": image["id"], "dismissed": 1}
    assert admin(client, "GET", "/api/admin/reports").json() == {"images": [], "next": None}
    assert client.get(f"/{image['id']}.jpg").status_code == 200
    [entry] = admin(client, "GET", "/api/admin/audit").json()["entries"]
    assert entry["action"] == "dismiss_reports" and entry["detail"]["note"] == "fine"


def test_lifting_blocks_lets_the_content_back(client):
    data = photo_jpeg(21)
    image = upload(client, data)
    admin(client, "POST", f"/api/admin/images/{image['id']}/remove")
    blocks = admin(client, "GET", "/api/admin/blocks").json()["blocks"]
    assert {b["kind"] for b in blocks} == {"sha256", "dhash"}
    assert {b["image_id"] for b in blocks} == {image["id"]}
    sha_block = next(b for b in blocks if b["kind"] == "sha256")
    assert sha_block["value"] == image["sha256"]
    # Lifting only the SHA-256 block: the perceptual hash still catches the same bytes.
    assert admin(client, "DELETE", f"/api/admin/blocks/{sha_block['id']}").status_code == 204
    assert client.upload(data).status_code == 451
    for b in blocks[1:]:
        assert admin(client, "DELETE", f"/api/admin/blocks/{b['id']}").status_code == 204
    assert admin(client, "GET", "/api/admin/blocks").json() == {"blocks": [], "next": None}
    again = client.upload(data)
    assert again.status_code == 201
    assert client.get(f"/{again.json()['id']}.jpg").status_code == 200
    assert client.get(f"/{image['id']}.jpg").status_code == 451  # the removed one stays removed
    assert admin(client, "DELETE", "/api/admin/blocks/999").status_code == 404
    assert admin(client, "DELETE", "/api/admin/blocks/abc").status_code == 400


def test_reported_then_deleted_content_can_still_be_blocked(client):
    data = photo_jpeg(31)
    image = upload(client, data)
    report(client, image["id"], reason="illegal")
    d = client.session.delete(
        f"{client.url}/api/images/{image['id']}",
        headers={"Authorization": f"Bearer {image['delete_token']}"},
    )
    assert d.status_code == 204
    r = admin(client, "POST", f"/api/admin/images/{image['id']}/remove")
    assert r.status_code == 200 and r.json()["removed"] == [] and len(r.json()["blocks"]) == 2
    assert client.upload(data).status_code == 451


def test_idempotent_retry_of_a_removed_upload_is_451(client):
    data = photo_jpeg(41)
    key = {"Idempotency-Key": "retry-key-0123456789abcdef"}
    first = client.upload(data, headers=key)
    assert first.status_code == 201
    admin(client, "POST", f"/api/admin/images/{first.json()['id']}/remove")
    again = client.upload(data, headers=key)
    assert again.status_code == 451


def test_purge_expired_endpoint(client):
    r = client.session.post(
        f"{client.url}/api/upload", files={"file": ("a.jpg", photo_jpeg())}, data={"expires": "1h"}
    )
    assert r.status_code == 201
    assert admin(client, "POST", "/api/admin/purge-expired").json() == {"purged": 0}
    entries = admin(client, "GET", "/api/admin/audit").json()["entries"]
    assert entries[0]["action"] == "purge_expired" and entries[0]["actor"] == "api"


def test_audit_log_is_append_only(client):
    image = upload(client, photo_jpeg())
    admin(client, "POST", f"/api/admin/images/{image['id']}/dismiss")
    db = client.server.settings.data_dir / "picdrop.db"
    with sqlite3.connect(db) as conn:
        for statement in ("UPDATE audit_log SET action = 'nothing'", "DELETE FROM audit_log"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == (1,)


# -- the same operations from the command line
def run_cli(capsys, settings, *args) -> tuple[int, object]:
    code = cli.main(["-q", "admin", *args, "--data-dir", str(settings.data_dir)])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else err)


def test_admin_cli(client, capsys):
    settings = client.server.settings
    data = photo_jpeg(51)
    image = upload(client, data)
    other = upload(client, photo_jpeg(52))
    report(client, image["id"], reason="spam")
    report(client, other["id"], reason="other")

    code, groups = run_cli(capsys, settings, "reports")
    assert code == 0 and {g["image_id"] for g in groups} == {image["id"], other["id"]}
    code, shown = run_cli(capsys, settings, "show", image["id"])
    assert code == 0 and shown["record"]["sha256"] == image["sha256"]
    code, result = run_cli(capsys, settings, "dismiss", other["id"], "--note", "harmless")
    assert result == {"id": other["id"], "dismissed": 1}
    code, result = run_cli(capsys, settings, "remove", image["id"], "--note", "spam wave")
    assert code == 0 and result["removed"] == [image["id"]]
    # The running server sees it at once: same catalog.
    assert client.get(f"/{image['id']}.jpg").status_code == 451
    assert client.upload(data).status_code == 451
    code, blocks = run_cli(capsys, settings, "blocks")
    assert len(blocks) == 2
    for block in blocks:
        code, lifted = run_cli(capsys, settings, "unblock", str(block["id"]))
        assert code == 0 and lifted["id"] == block["id"]
    code, err = run_cli(capsys, settings, "unblock", "12345")
    assert code == 1 and "no block 12345" in err
    assert run_cli(capsys, settings, "purge-expired")[1] == {"purged": 0}
    code, entries = run_cli(capsys, settings, "audit")
    assert [e["action"] for e in reversed(entries)] == [
        "show",
        "dismiss_reports",
        "remove",
        "unblock",
        "unblock",
        "purge_expired",
    ]
    assert {e["actor"] for e in entries} == {"cli"}
    assert entries[3]["detail"]["note"] == "spam wave"


def test_removed_image_file_digest_cannot_be_served_from_cache(client):
    """The in-memory byte cache forgets a removed image at once."""
    image = upload(client, photo_jpeg(61))
    served = client.get(f"/{image['id']}.jpg")
    assert hashlib.sha256(served.content).hexdigest() == image["sha256"]
    admin(client, "POST", f"/api/admin/images/{image['id']}/remove")
    assert client.get(f"/{image['id']}.jpg").status_code == 451
    service = client.server.app.state.service
    assert service.cache.get(client.rows()[0]["blob_key"]) is None


REASON_PART = b'--B\r\nContent-Disposition: form-data; name="reason"\r\n\r\nspam\r\n'
FILE_PART = (
    b'--B\r\nContent-Disposition: form-data; name="details"; filename="a.txt"\r\n\r\nhello\r\n'
)


@pytest.mark.parametrize(
    ("body", "status", "sentence"),
    [
        (REASON_PART + b"--B--\r\n", 202, None),
        (REASON_PART, 400, "closing boundary"),
        (REASON_PART[:-10], 400, "closing boundary"),
        (REASON_PART + FILE_PART + b"--B--\r\n", 400, "not files"),
        (REASON_PART * 30 + b"--B--\r\n", 400, "more than 20 fields"),
    ],
    ids=["complete", "no closing boundary", "cut in a field", "a file", "30 fields"],
)
@pytest.mark.parametrize("path", ["/api/images/ID/report", "/report/ID"])
def test_multipart_forms_are_parsed_like_uploads(client, path, body, status, sentence):
    """The report form's multipart body goes through the uploads' parser: the same closing
    boundary check, text fields only."""
    image = upload(client, photo_jpeg())
    r = client.session.post(
        client.url + path.replace("ID", image["id"]),
        data=body,
        headers={"Content-Type": "multipart/form-data; boundary=B"},
    )
    assert r.status_code == (200 if status == 202 and path.startswith("/report") else status)
    if sentence:
        assert r.json()["code"] == "bad_request" and sentence in r.json()["error"]
