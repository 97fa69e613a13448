"""Deleting: by bearer token, and by the delete link's confirmation page."""

from __future__ import annotations

import errno
import hashlib
import logging

import pytest
import requests

from backend.server import EmbeddedServer
from backend.storage import FilesystemStore
from tests.backend import imagesamples as samples
from tests.backend.conftest import Client


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


# -- a delete that cannot remove its files ---------------------------------------------------------
@pytest.fixture
def start_server(server_settings):
    """Factory: a server on the test's data directory (`store` replaces its blob store); calling
    it again after `stop()` is a restart: a new process state, nothing kept in memory."""
    started: list[EmbeddedServer] = []

    def start(store=None) -> Client:
        kwargs = {"store": store} if store is not None else {}
        server = EmbeddedServer(server_settings, **kwargs)
        server.start()
        started.append(server)
        return Client(server, requests.Session())

    yield start
    for server in started:
        server.stop()


class UndeletableBlobs(FilesystemStore):
    """Every unlink fails, as on a disk gone bad or an object store that refuses."""

    def delete(self, key: str) -> None:
        raise OSError(errno.EIO, "Input/output error")


def unlinkable_blob(client: Client, image: dict) -> FilesystemStore | None:
    return UndeletableBlobs(client.server.settings.resolved_storage_url)


def unlinkable_thumbnail(client: Client, image: dict) -> FilesystemStore | None:
    """The thumbnail's name holds a directory, which unlink refuses (EISDIR): the blob itself is
    deleted first, then the thumbnail fails."""
    assert client.get(f"/t/{image['id']}.webp").status_code == 200
    (thumbnail,) = [p for p in client.blob_files() if "thumbs" in p.parts]
    thumbnail.unlink()
    (thumbnail / "keep").mkdir(parents=True)
    return None


@pytest.mark.parametrize("failure", [unlinkable_blob, unlinkable_thumbnail])
def test_a_failed_file_removal_neither_fails_the_delete_nor_loses_the_bytes(
    start_server, failure, caplog
):
    data = samples.unique_jpeg(seed=77)
    client = start_server()
    image = client.upload(data, filename="a.jpg").json()
    store = failure(client, image)
    if store is not None:  # restart on the failing store
        client.server.stop()
        client = start_server(store)

    caplog.set_level(logging.WARNING, logger="backend.service")
    assert _delete(client, image["id"], f"Bearer {image['delete_token']}").status_code == 204
    assert client.get(f"/{image['id']}.jpg").status_code == 404
    (warning,) = [r.getMessage() for r in caplog.records if "outlived" in r.getMessage()]
    assert "\n" not in warning  # one line, not a traceback

    again = client.upload(data, filename="a.jpg")
    assert again.status_code == 201
    client.server.stop()
    client = start_server()  # nothing left in memory: the bytes must be in the store
    served = client.get(f"/{again.json()['id']}.jpg")
    assert served.status_code == 200
    assert hashlib.sha256(served.content).hexdigest() == again.json()["sha256"]


def test_a_referenced_but_missing_blob_is_written_again_by_the_next_upload(start_server):
    data = samples.unique_jpeg(seed=78)
    client = start_server()
    first = client.upload(data, filename="a.jpg").json()
    (blob,) = client.blob_files()
    blob.unlink()  # lost: a crash of old, an operator's mistake, a restore that missed it
    second = client.upload(data, filename="a.jpg")
    assert second.status_code == 201
    assert blob.exists()
    client.server.stop()
    client = start_server()
    for image in (first, second.json()):
        served = client.get(f"/{image['id']}.jpg")
        assert served.status_code == 200
        assert hashlib.sha256(served.content).hexdigest() == image["sha256"]
