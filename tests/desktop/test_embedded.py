"""The built-in server the app starts when no server is configured, and the Settings dialog's
connection test."""

from __future__ import annotations

import pytest
import requests

from backend import __version__
from desktop.embedded import LocalServerDamaged, keep_aside, lan_address, start_embedded_server
from desktop.server_actions import ServerActions
from tests.backend import imagesamples as samples
from tests.services import free_port


def test_a_big_local_batch_is_not_rate_limited(tmp_path):
    """Only this computer reaches 127.0.0.1: the public server's 30/minute must not apply."""
    server = start_embedded_server(tmp_path / "server")
    try:
        with requests.Session() as s:
            statuses = [
                s.post(
                    f"{server.url}/api/upload",
                    files={"file": ("a.jpg", samples.unique_jpeg(seed=i))},
                    timeout=30,
                ).status_code
                for i in range(40)
            ]
    finally:
        server.stop()
    assert statuses == [201] * 40


def test_sharing_on_the_local_network_binds_the_lan_address(tmp_path):
    host = lan_address()
    server = start_embedded_server(tmp_path / "server", share_on_lan=True)
    try:
        assert server.url.startswith(f"http://{host}:")
        r = requests.post(
            f"{server.url}/api/upload",
            files={"file": ("a.jpg", samples.unique_jpeg())},
            timeout=30,
        )
        assert r.status_code == 201
        assert r.json()["url"].startswith(f"http://{host}:")  # links others on the LAN can open
    finally:
        server.stop()


def test_a_damaged_catalog_is_kept_aside_with_its_images_and_the_server_starts_afresh(tmp_path):
    server_dir = tmp_path / "server"
    server = start_embedded_server(server_dir)
    try:
        r = requests.post(
            f"{server.url}/api/upload", files={"file": ("a.jpg", samples.unique_jpeg())}, timeout=30
        )
        assert r.status_code == 201
    finally:
        server.stop()
    stored = sorted(p.relative_to(server_dir) for p in (server_dir / "blobs").rglob("*"))
    with (server_dir / "picdrop.db").open("r+b") as f:
        f.seek(100)  # past the header: the schema's page, so the file still opens as SQLite
        f.write(b"\xa5" * 3000)

    with pytest.raises(LocalServerDamaged) as refused:
        start_embedded_server(server_dir)
    assert refused.value.data_dir == server_dir and "is damaged" in str(refused.value)

    kept = keep_aside(server_dir)
    assert kept.parent == tmp_path and kept.name.startswith("server.damaged-")
    assert sorted(p.relative_to(kept) for p in (kept / "blobs").rglob("*")) == stored
    server = start_embedded_server(server_dir)
    try:
        # A new, empty catalog: the old image is in the kept folder, not served.
        assert requests.get(f"{server.url}/{r.json()['id']}.jpg", timeout=10).status_code == 404
    finally:
        server.stop()


@pytest.mark.parametrize("reachable", [True, False])
def test_settings_test_connection(live_server, history, qtbot, reachable):
    url = live_server.url if reachable else f"http://127.0.0.1:{free_port()}"
    actions = ServerActions(history)
    with qtbot.waitSignal(actions.connection_tested, timeout=20_000) as tested:
        actions.test_connection(url)
    actions.shutdown()
    answered_url, ok, sentence = tested.args
    assert (answered_url, ok) == (url, reachable)
    if reachable:
        assert sentence == f"Connected to picdrop {__version__} at {url}"
    else:
        assert "connection refused" in sentence
