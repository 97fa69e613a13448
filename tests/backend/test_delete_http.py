"""Deleting: by bearer token, and by the delete link's confirmation page."""

from __future__ import annotations

import pytest

from tests.backend import imagesamples as samples


@pytest.fixture
def uploaded(client):
    r = client.upload(samples.unique_jpeg(), filename="a.jpg")
    assert r.status_code == 201, r.text
    return r.json()


def _delete(client, image_id, auth):
    headers = {} if auth is None else {"Authorization": auth}
    return client.session.delete(f"{client.url}/api/images/{image_id}", headers=headers)


@pytest.mark.parametrize(
    ("auth", "status"),
    [(None, 401), ("Bearer ", 401), ("Basic abc", 401), ("Bearer wrong-token", 403)],
)
def test_wrong_or_missing_token_deletes_nothing(client, uploaded, auth, status):
    assert _delete(client, uploaded["id"], auth).status_code == status
    assert client.get(f"/{uploaded['id']}.jpg").status_code == 200


def test_other_images_token_is_refused(client, uploaded):
    other = client.upload(samples.unique_jpeg()).json()
    r = _delete(client, uploaded["id"], f"Bearer {other['delete_token']}")
    assert r.status_code == 403
    assert client.get(f"/{uploaded['id']}.jpg").status_code == 200


def test_right_token_deletes_and_then_404(client, uploaded):
    assert _delete(client, uploaded["id"], f"Bearer {uploaded['delete_token']}").status_code == 204
    for path in (f"/{uploaded['id']}.jpg", f"/{uploaded['id']}", f"/t/{uploaded['id']}.webp"):
        assert client.get(path).status_code == 404
    assert client.rows() == [] and client.blob_files() == []
    # A second delete looks exactly like an unknown ID.
    again = _delete(client, uploaded["id"], f"Bearer {uploaded['delete_token']}")
    unknown = _delete(client, "ZZZZZZZZZZ", f"Bearer {uploaded['delete_token']}")
    assert again.status_code == unknown.status_code == 404
    assert again.json() == unknown.json()


def test_get_on_the_delete_link_deletes_nothing(client, uploaded):
    page = client.get(uploaded["delete_url"].removeprefix(client.url))
    assert page.status_code == 200
    assert "Delete this image?" in page.text
    assert client.get(f"/{uploaded['id']}.jpg").status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"


def test_delete_link_form_deletes(client, uploaded):
    r = client.session.post(uploaded["delete_url"])
    assert r.status_code == 200
    assert "Deleted" in r.text
    assert client.get(f"/{uploaded['id']}.jpg").status_code == 404


def test_delete_link_with_wrong_token(client, uploaded):
    r = client.get(f"/delete/{uploaded['id']}/not-the-token", headers={"Accept": "text/html"})
    assert r.status_code == 403
    assert client.session.post(f"{client.url}/delete/{uploaded['id']}/nope").status_code == 403
    assert client.get(f"/{uploaded['id']}.jpg").status_code == 200
