"""Many uploads at once through the real server: distinct IDs, exact bytes, consistent store."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.backend import imagesamples as samples


def test_fifty_concurrent_uploads(client):
    files = [samples.unique_jpeg(seed=i, size=(320, 240)) for i in range(50)]

    def send(data: bytes) -> dict:
        with requests.Session() as s:
            r = s.post(f"{client.url}/api/upload", files={"file": ("x.jpg", data)}, timeout=60)
            assert r.status_code == 201, r.text
            return r.json()

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(send, files))

    assert len({r["id"] for r in results}) == 50
    for r in results:
        served = client.get(f"/{r['id']}.jpg").content
        assert hashlib.sha256(served).hexdigest() == r["sha256"]

    rows = client.rows()
    blobs = {
        p.relative_to(client.server.settings.data_dir / "blobs").as_posix(): p
        for p in client.blob_files()
    }
    assert len(rows) == 50
    # Each row has its blob (with the right content) and each blob its rows.
    for row in rows:
        assert hashlib.sha256(blobs[row["blob_key"]].read_bytes()).hexdigest() == row["sha256"]
    assert set(blobs) == {row["blob_key"] for row in rows}
