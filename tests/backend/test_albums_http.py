"""Albums through a real server: made from one's own uploads, one page with every image's links,
deleted with their own token (the images stay unless asked to go too), gone when their images
are."""

from __future__ import annotations

import re
import sqlite3

import pytest

from tests.backend import imagesamples as samples


def upload(client, seed: int, **kw) -> dict:
    answer = client.upload(samples.unique_jpeg(seed), filename=f"{seed}.jpg", **kw)
    assert answer.status_code == 201, answer.text
    return answer.json()


def make_album(client, uploads: list[dict]):
    members = [{"id": u["id"], "delete_token": u["delete_token"]} for u in uploads]
    return client.session.post(f"{client.url}/api/albums", json={"images": members}, timeout=30)


def delete_answer(client, kind: str, item_id: str, token: str, query: str = ""):
    return client.session.delete(
        f"{client.url}/api/{kind}/{item_id}{query}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def delete(client, kind: str, item_id: str, token: str) -> int:
    return delete_answer(client, kind, item_id, token).status_code


def test_an_album_links_every_image_in_order(client):
    uploads = [upload(client, seed) for seed in (1, 2, 3)]
    answer = make_album(client, uploads)
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert made["url"] == f"{client.url}/a/{made['id']}"
    assert [i["id"] for i in made["images"]] == [u["id"] for u in uploads]
    assert client.get(f"/api/albums/{made['id']}").json()["images"] == made["images"]
    page = client.get(f"/a/{made['id']}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    for u in uploads:
        assert (
            u["url"] in page.text and u["page_url"] in page.text and u["thumbnail_url"] in page.text
        )
    shown_text = re.sub(r"<[^>]*>", "", page.text)  # what a visitor reads: no template leaks
    assert "}}" not in shown_text and "image." not in shown_text
    assert made["delete_token"] not in page.text
    assert all(u["delete_token"] not in page.text for u in uploads)


@pytest.mark.parametrize(
    ("members", "status"),
    [
        ([], 400),
        ("not a list", 400),
        ([{"id": "AAAAAAAAAA", "delete_token": "x"}], 404),
        ([{"id": "../../etc", "delete_token": "x"}], 404),
        ("wrong token", 403),
        ("twice", 400),
    ],
)
def test_only_ones_own_live_uploads_make_an_album(client, members, status):
    mine = upload(client, 10)
    if members == "wrong token":
        members = [{"id": mine["id"], "delete_token": "not-the-token"}]
    elif members == "twice":
        members = [{"id": mine["id"], "delete_token": mine["delete_token"]}] * 2
    answer = client.session.post(f"{client.url}/api/albums", json={"images": members}, timeout=30)
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == {"error", "code"}


def test_deleting_an_album_leaves_its_images(client):
    uploads = [upload(client, seed) for seed in (20, 21)]
    made = make_album(client, uploads).json()
    assert delete(client, "albums", made["id"], uploads[0]["delete_token"]) == 403
    answer = delete_answer(client, "albums", made["id"], made["delete_token"])
    assert answer.status_code == 200
    assert answer.json() == {"deleted_images": 0}
    assert client.get(f"/api/albums/{made['id']}").status_code == 404
    assert client.get(f"/a/{made['id']}").status_code == 404
    for u in uploads:
        assert client.session.get(u["url"], timeout=30).status_code == 200


@pytest.mark.parametrize("query", ["?images=true", "?images=1"])
def test_deleting_an_album_when_asked_deletes_its_images_too(client, query):
    uploads = [upload(client, seed) for seed in (22, 23, 24)]
    kept = upload(client, 25)  # not in the album
    made = make_album(client, uploads).json()
    # A wrong token deletes nothing, the images included.
    refused = delete_answer(client, "albums", made["id"], uploads[0]["delete_token"], query)
    assert refused.status_code == 403
    assert client.get(f"/api/albums/{made['id']}").status_code == 200
    # One image is already deleted by its own token: skipped, not counted.
    assert delete(client, "images", uploads[0]["id"], uploads[0]["delete_token"]) == 204
    answer = delete_answer(client, "albums", made["id"], made["delete_token"], query)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"deleted_images": 2}
    assert client.get(f"/api/albums/{made['id']}").status_code == 404
    for u in uploads:
        assert client.session.get(u["url"], timeout=30).status_code == 404
        assert client.get(f"/{u['id']}").status_code == 404
    assert client.session.get(kept["url"], timeout=30).status_code == 200
    again = delete_answer(client, "albums", made["id"], made["delete_token"], query)
    assert again.status_code == 404


@pytest.mark.parametrize("query", ["?images=maybe", "?images="])
def test_a_garbled_images_flag_is_refused_and_deletes_nothing(client, query):
    uploads = [upload(client, seed) for seed in (26, 27)]
    made = make_album(client, uploads).json()
    answer = delete_answer(client, "albums", made["id"], made["delete_token"], query)
    assert answer.status_code == 400, answer.text
    assert set(answer.json()) == {"error", "code"}
    assert client.get(f"/api/albums/{made['id']}").status_code == 200


def test_an_album_shows_its_live_images_and_expires_with_them(client):
    uploads = [upload(client, seed) for seed in (30, 31)]
    made = make_album(client, uploads).json()
    assert delete(client, "images", uploads[0]["id"], uploads[0]["delete_token"]) == 204
    shown = client.get(f"/api/albums/{made['id']}").json()["images"]
    assert [i["id"] for i in shown] == [uploads[1]["id"]]
    assert delete(client, "images", uploads[1]["id"], uploads[1]["delete_token"]) == 204
    gone = client.get(f"/api/albums/{made['id']}")
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"


@pytest.mark.parametrize("settings_overrides", [{"upload_rate": "2/minute"}])
def test_making_albums_counts_like_uploads(client):
    made = upload(client, 40)
    assert make_album(client, [made]).status_code == 201
    refused = make_album(client, [made])
    assert refused.status_code == 429


def test_the_sweep_forgets_albums_whose_images_are_all_gone(client, live_server):
    kept = make_album(client, [upload(client, 50)]).json()
    emptied = [upload(client, 51), upload(client, 52)]
    gone = make_album(client, emptied).json()
    for u in emptied:
        assert delete(client, "images", u["id"], u["delete_token"]) == 204
    assert live_server.app.state.albums.forget_empty() == 1
    db = live_server.settings.data_dir / "picdrop.db"
    with sqlite3.connect(db) as conn:
        albums = {row[0] for row in conn.execute("SELECT id FROM albums")}
        rows = {row[0] for row in conn.execute("SELECT album_id FROM album_images")}
    assert albums == rows == {kept["id"]}
    assert gone["id"] not in albums


# -- the album's delete link: a page for browsers, with or without JavaScript --------------------

HTML = {"Accept": "text/html"}


def album_with_link(client, seeds: tuple[int, ...]) -> tuple[list[dict], dict, str]:
    uploads = [upload(client, seed) for seed in seeds]
    made = make_album(client, uploads).json()
    path = made["delete_url"].removeprefix(client.url)
    assert path == f"/delete/a/{made['id']}/{made['delete_token']}"
    return uploads, made, path


def test_the_album_delete_link_asks_first_and_deletes_nothing(client):
    uploads, made, path = album_with_link(client, (60, 61))
    for method in ("GET", "HEAD"):
        assert client.session.request(method, client.url + path, timeout=30).status_code == 200
    page = client.get(path, headers=HTML)
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"  # the secret URL goes nowhere
    assert "Also delete its 2 images" in page.text
    assert 'type="checkbox"' in page.text and 'name="images"' in page.text
    assert f'action="{path}"' in page.text
    assert all(u["thumbnail_url"] in page.text for u in uploads)
    assert client.get(f"/api/albums/{made['id']}").status_code == 200  # GET deleted nothing


@pytest.mark.parametrize(
    ("link", "status"),
    [
        ("/delete/a/{id}/not-the-token", 403),
        ("/delete/a/{image}/{image_token}", 404),  # an image's id and token are no album's
        ("/delete/a/AAAAAAAAAA/{token}", 404),
        ("/delete/a/..%2F..%2Fetc/{token}", 404),
    ],
)
def test_a_wrong_album_delete_link_deletes_nothing(client, link, status):
    uploads, made, _path = album_with_link(client, (62,))
    path = link.format(
        id=made["id"],
        token=made["delete_token"],
        image=uploads[0]["id"],
        image_token=uploads[0]["delete_token"],
    )
    assert client.get(path, headers=HTML).status_code == status
    posted = client.session.post(
        client.url + path, data={"images": "yes"}, timeout=30, allow_redirects=False
    )
    assert posted.status_code == status
    assert client.get(f"/api/albums/{made['id']}").status_code == 200
    assert client.session.get(uploads[0]["url"], timeout=30).status_code == 200


@pytest.mark.parametrize(
    ("form", "deleted", "says"),
    [
        ({}, 0, "Its images were kept"),
        ({"images": "yes"}, 2, "The album and its 2 images are gone"),
    ],
    ids=["album only", "with its images"],
)
def test_the_album_delete_form_posts_then_redirects_to_a_deleted_page(client, form, deleted, says):
    uploads, made, path = album_with_link(client, (63, 64))
    posted = client.session.post(
        client.url + path, data=form, headers=HTML, timeout=30, allow_redirects=False
    )
    assert posted.status_code == 303, posted.text
    done = f"/a/{made['id']}/deleted?images={deleted}"
    assert posted.headers["location"] == done
    page = client.get(done, headers=HTML)
    assert page.status_code == 200 and says in page.text
    assert made["delete_token"] not in page.text
    assert client.get(f"/api/albums/{made['id']}").status_code == 404
    statuses = {client.session.get(u["url"], timeout=30).status_code for u in uploads}
    assert statuses == ({404} if deleted else {200})
    # A reload of the "deleted" page deletes nothing more; the link is spent.
    assert client.get(done, headers=HTML).status_code == 200
    assert client.get(path, headers=HTML).status_code == 404


@pytest.mark.parametrize("query", ["?images=-1", "?images=many"])
def test_a_garbled_deleted_page_is_refused(client, query):
    answer = client.get(f"/a/AAAAAAAAAA/deleted{query}", headers=HTML)
    assert answer.status_code == 400


@pytest.mark.parametrize("kind", ["images", "albums"])
def test_a_delete_that_lost_a_race_answers_404(client, monkeypatch, kind):
    """Two deletes of one item at once both pass the token check; one deletes. The other found
    nothing left and says so, not that it deleted (an album's said 'deleted_images: 0', as if
    its images were still there)."""
    uploads = [upload(client, seed) for seed in (40, 41)]
    if kind == "albums":
        made = make_album(client, uploads).json()
        item_id, token, query = made["id"], made["delete_token"], "?images=true"
        albums = client.server.app.state.albums
        checked = albums.owned(item_id, token)  # both checks pass before either deletes
        monkeypatch.setattr(albums, "owned", lambda *_: checked)
    else:
        item_id, token, query = uploads[0]["id"], uploads[0]["delete_token"], ""
        service = client.server.app.state.service
        checked = service.lookup_any(item_id)
        monkeypatch.setattr(service, "lookup_any", lambda *_: checked)
    first = delete_answer(client, kind, item_id, token, query)
    assert first.status_code in (200, 204), first.text
    if kind == "albums":
        assert first.json() == {"deleted_images": 2}
    late = delete_answer(client, kind, item_id, token, query)
    assert late.status_code == 404, late.text
    assert late.json()["code"] == "not_found"
