"""Perceptual hashes off the upload path while no perceptual block needs them.

With no perceptual blocks an upload is checked structurally, stripped, hashed (SHA-256) and stored
before its 201, without decoding pixels; a background pass fills in its perceptual hash moments
later, and takes it down if it turns out to show content removed meanwhile.
"""

from __future__ import annotations

import asyncio
import time

import anyio
import pytest
import requests
from sqlalchemy import select

from backend.assembly import build
from backend.catalog import Catalog
from backend.catalog.schema import pending_fingerprints
from backend.http import fingerprints
from backend.http.budget import ByteBudget
from backend.http.imagework import ImageWork
from backend.images import BrokenImage, Limits, probe, process
from backend.images.fingerprint import perceptual_hash
from backend.moderation import FINGERPRINT_BATCH
from backend.server import EmbeddedServer
from backend.settings import Settings
from tests.backend import imagesamples as samples
from tests.conftest import GENEROUS_LIMITS

LIMITS = Limits()


def photo(seed: int, fmt: str = "JPEG", size: tuple[int, int] = (640, 480)) -> bytes:
    return samples.encode(samples.varied_picture(seed).resize(size), fmt)


@pytest.mark.parametrize(
    "make",
    [
        lambda: photo(1),
        lambda: photo(2, "PNG"),
        samples.animated_gif,
        samples.animated_webp,
        samples.progressive_jpeg,
    ],
    ids=["jpeg", "png", "gif", "webp", "progressive-jpeg"],
)
def test_without_the_hash_the_same_bytes_are_published(make):
    data = make()
    now, later = process(data, LIMITS), process(data, LIMITS, fingerprint=False)
    assert later.data == now.data and later.sha256 == now.sha256 and later.info == now.info
    assert (later.dhash, later.fingerprinted) == (None, False)
    assert now.fingerprinted


@pytest.mark.parametrize(
    "broken",
    [
        lambda: samples.truncated(samples.plain_jpeg((128, 96))),
        lambda: samples.truncated(samples.progressive_jpeg((128, 96))),
        lambda: samples.png_with_bad_crc(),
        lambda: samples.truncated(samples.animated_gif()),
        lambda: samples.truncated(samples.animated_webp()),
    ],
    ids=["jpeg-cut", "progressive-cut", "png-crc", "gif-cut", "webp-cut"],
)
def test_without_the_hash_broken_files_are_still_refused(broken):
    with pytest.raises(BrokenImage):
        process(broken(), LIMITS, fingerprint=False)


@pytest.fixture
def backend(tmp_path):
    b = build(Settings(data_dir=tmp_path, sweep_interval=0), migrate=True)
    yield b
    b.close()


def upload(backend, data: bytes):
    processed = backend.images.prepare(data)
    return processed, backend.images.store_upload(
        processed, request_sha256="0" * 64, expires_at=None
    )


def pending(backend) -> set[str]:
    with backend.catalog.reading() as conn:
        return set(conn.execute(select(pending_fingerprints.c.image_id)).scalars())


def run_pass(backend) -> None:
    """The app's background pass (backend.http.fingerprints.one_pass), until nothing is due."""
    work = ImageWork(jobs=2, budget=ByteBudget(64 * 1024 * 1024), seconds=60)
    while due := backend.moderation.fingerprints_due():
        anyio.run(fingerprints.compute, work, backend.moderation, due)


def test_the_hash_is_left_for_later_and_filled_by_the_pass(backend):
    data = photo(3)
    processed, stored = upload(backend, data)
    assert not processed.fingerprinted
    assert pending(backend) == {stored.record.id}
    assert backend.catalog.get(stored.record.id).dhash is None
    run_pass(backend)
    served = backend.images.blob(stored.record)
    expected = perceptual_hash(served, probe(served, LIMITS))
    assert expected is not None
    assert backend.catalog.get(stored.record.id).dhash == expected
    assert pending(backend) == set()


def test_with_perceptual_blocks_the_hash_is_made_before_the_answer(backend):
    _, first = upload(backend, photo(4))
    run_pass(backend)
    backend.moderation.remove(first.record.id, actor="cli")  # now a perceptual block exists
    processed, stored = upload(backend, photo(5))
    assert processed.fingerprinted and processed.dhash is not None
    assert pending(backend) == set()
    assert backend.catalog.get(stored.record.id).dhash == processed.dhash


def test_a_copy_of_content_removed_after_its_upload_is_taken_down_by_the_pass(backend):
    """Uploaded while no block existed (no decode, no comparison); the picture is removed
    through another upload of it (re-encoded) before the pass runs: the pass takes it down."""
    picture = samples.varied_picture(6).resize((640, 480))
    _, early = upload(backend, samples.encode(picture, "JPEG", quality=90))
    _, other = upload(backend, samples.encode(picture, "PNG"))
    _, unrelated = upload(backend, photo(7))
    backend.moderation.remove(other.record.id, actor="cli")
    assert backend.catalog.get(early.record.id).removed_at is None
    run_pass(backend)
    assert backend.catalog.get(early.record.id).removed_at is not None
    assert backend.catalog.get(unrelated.record.id).removed_at is None


def test_reports_made_before_the_pass_get_its_hash(backend):
    _, stored = upload(backend, photo(8))
    assert backend.moderation.report(stored.record.id, "spam", None)
    run_pass(backend)
    [report] = backend.moderation.db.reports_for(stored.record.id)
    assert report.dhash == backend.catalog.get(stored.record.id).dhash is not None


def test_a_deleted_upload_leaves_the_queue(backend):
    _, stored = upload(backend, photo(9))
    backend.images.delete(stored.record.id, stored.delete_token)
    assert pending(backend) == set()


def test_one_process_at_a_time_makes_the_hashes(backend):
    """The pass of a process that finds another one's pass under way skips its turn."""
    work = ImageWork(1, ByteBudget(64 * 1024 * 1024), 10)
    _, stored = upload(backend, photo(11))
    other = Catalog(backend.catalog.url)  # another process's (or replica's) catalog
    try:
        with other.exclusive("fingerprints") as got:
            assert got
            assert not asyncio.run(fingerprints.one_pass(work, backend.moderation))
            assert pending(backend) == {stored.record.id}
    finally:
        other.close()
    assert asyncio.run(fingerprints.one_pass(work, backend.moderation))
    assert pending(backend) == set()


def test_the_running_server_fills_the_hash_in_the_background(tmp_path):
    settings = Settings(
        data_dir=tmp_path, port=0, sweep_interval=0, fingerprint_interval=1, **GENEROUS_LIMITS
    )
    server = EmbeddedServer(settings)
    server.start()
    try:
        r = requests.post(f"{server.url}/api/upload", files={"file": ("a.jpg", photo(10))})
        assert r.status_code == 201, r.text
        catalog = server.app.state.backend.catalog
        deadline = time.monotonic() + 60
        while catalog.get(r.json()["id"]).dhash is None:  # a condition, polled
            assert time.monotonic() < deadline, "the background pass never ran"
            time.sleep(0.05)
    finally:
        server.stop()


def test_the_pass_reads_each_image_only_while_its_bytes_are_charged(backend, monkeypatch):
    """A batch of big uploads is never in memory outside the upload-memory budget: each image is
    read inside a job charged for its bytes (with several processes, each runs this pass)."""
    for i in range(FINGERPRINT_BATCH):
        upload(backend, photo(20 + i, "PNG"))
    work = ImageWork(jobs=2, budget=ByteBudget(64 * 1024 * 1024), seconds=60)
    read_blob = backend.images.blob
    charged_at_read = []

    def blob(record) -> bytes:
        data = read_blob(record)
        charged_at_read.append((len(data), work.budget.used))
        return data

    monkeypatch.setattr(backend.images, "blob", blob)
    moderation = backend.moderation
    anyio.run(fingerprints.compute, work, moderation, moderation.fingerprints_due())
    assert charged_at_read, "the pass read no image"
    assert all(used >= size for size, used in charged_at_read), charged_at_read
    assert work.budget.used == 0
    assert pending(backend) == set()
