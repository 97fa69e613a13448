"""`picdrop-server check [--repair]`: the catalog and the blob store reconciled both ways, through
the command itself, on SQLite with a directory and on PostgreSQL with S3 (real servers)."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text

from backend import cli
from backend.assembly import Backend, build
from backend.catalog import ImageRecord
from backend.service import new_blob_key, thumbnail_key
from tests.backend import imagesamples as samples


@dataclass
class Deployment:
    flags: list[str]
    backend: Backend

    def upload(self, seed: int) -> ImageRecord:
        data = samples.unique_jpeg(seed=seed)
        images = self.backend.images
        sha = hashlib.sha256(data).hexdigest()
        return images.store_upload(images.prepare(data), request_sha256=sha, expires_at=None).record

    def sql(self, statement: str, **params) -> None:
        engine = create_engine(self.backend.catalog.url)
        try:
            with engine.begin() as conn:
                conn.execute(text(statement), params)
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite+filesystem", "postgresql+s3"])
def deployment(request, tmp_path) -> Iterator[Deployment]:
    flags = ["--data-dir", str(tmp_path / "data")]
    if request.param == "postgresql+s3":
        s3 = request.getfixturevalue("s3_server")
        flags += [
            "--database-url", request.getfixturevalue("pg_url"),
            "--storage-url", f"s3://{request.getfixturevalue('s3_bucket')}/blobs",
            "--s3-endpoint-url", s3.endpoint_url,
            "--s3-region", s3.region,
            "--s3-access-key-id", s3.access_key,
            "--s3-secret-access-key", s3.secret_key,
        ]  # fmt: skip
    settings = cli.settings_from_args(cli.build_parser().parse_args(["check", *flags]))
    backend = build(settings, migrate=True)
    yield Deployment(flags, backend)
    backend.close()


def run_check(deployment: Deployment, capsys, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    status = cli.main(["-q", "check", *args, *deployment.flags])
    return status, capsys.readouterr().out


def random_key() -> str:
    return new_blob_key(secrets.token_hex(32), "png")


# Each returns the key the check must name.
def missing_blob(d: Deployment, victim: ImageRecord) -> str:
    d.backend.store.delete(victim.blob_key)
    return victim.blob_key


def orphan_blob(d: Deployment, victim: ImageRecord) -> str:
    key = random_key()
    d.backend.store.put(key, b"left behind by a crash")
    return key


def orphan_thumbnail(d: Deployment, victim: ImageRecord) -> str:
    key = thumbnail_key(secrets.token_hex(32))
    d.backend.store.put(key, b"a thumbnail of nothing")
    return key


def wrong_refcount(d: Deployment, victim: ImageRecord) -> str:
    d.sql("UPDATE blobs SET refcount = refcount + 2 WHERE key = :key", key=victim.blob_key)
    return victim.blob_key


def missing_refcount(d: Deployment, victim: ImageRecord) -> str:
    d.sql("DELETE FROM blobs WHERE key = :key", key=victim.blob_key)
    return victim.blob_key


def stale_refcount(d: Deployment, victim: ImageRecord) -> str:
    key = random_key()
    d.sql("INSERT INTO blobs (key, size, refcount, created_at) VALUES (:key, 1, 3, 0)", key=key)
    return key


@pytest.mark.parametrize(
    "damage, repairable",
    [
        (missing_blob, False),
        (orphan_blob, True),
        (orphan_thumbnail, True),
        (wrong_refcount, True),
        (missing_refcount, True),
        (stale_refcount, True),
    ],
)
def test_each_kind_of_damage_is_found_and_repaired(
    deployment: Deployment, capsys, damage: Callable[[Deployment, ImageRecord], str], repairable
):
    healthy = deployment.upload(seed=1)
    deployment.backend.images.thumbnail(healthy)
    victim = deployment.upload(seed=2)
    key = damage(deployment, victim)
    kind = damage.__name__

    status, out = run_check(deployment, capsys, "--grace", "0")
    assert status == 1, out
    *findings, summary = out.splitlines()
    assert len(findings) == 1 and findings[0].startswith(f"{kind.replace('_', ' ')}: {key}: ")
    if kind == "missing_blob":
        assert victim.id in findings[0]  # names the images that lost their bytes
    assert "1 problem found" in summary

    status, out = run_check(deployment, capsys, "--grace", "0", "--repair")
    assert status == (0 if repairable else 1), out
    assert ("repaired:" in out) is repairable

    status, out = run_check(deployment, capsys, "--grace", "0", "--json")
    report = json.loads(out)
    assert [f["kind"] for f in report["findings"]] == ([] if repairable else [kind])
    assert status == (0 if repairable else 1)
    # The repair touched nothing that was right: the healthy image and its thumbnail are there.
    assert deployment.backend.store.exists(healthy.blob_key)
    assert report["thumbnails"] == 1

    if not repairable:  # the next upload of the same bytes writes the missing blob again
        deployment.upload(seed=2)
        assert run_check(deployment, capsys, "--grace", "0")[0] == 0


def test_unused_blobs_younger_than_the_grace_are_left_alone(deployment: Deployment, capsys):
    """An upload writes its blob before its row: a fresh unused blob may be one in flight."""
    deployment.upload(seed=3)
    key = orphan_blob(deployment, None)
    status, out = run_check(deployment, capsys, "--json", "--repair")  # default grace: an hour
    report = json.loads(out)
    assert (status, report["findings"], report["recent"]) == (0, [], 1)
    assert deployment.backend.store.exists(key)
    assert report["images"] == report["blobs"] == 1
    assert report["missing_thumbnails"] == 1  # not a problem: made on first view
