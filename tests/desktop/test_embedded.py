"""The built-in server the app starts when no server is configured."""

from __future__ import annotations

import requests

from desktop.embedded import start_embedded_server
from tests.backend import imagesamples as samples


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
