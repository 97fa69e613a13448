"""`picdrop-server backup` and `restore` with a real server before and after, on SQLite and
PostgreSQL: a restore of a backup older than the last takedowns keeps them (the image answers
451, its content stays blocked, a block lifted since stays lifted), holds the orphan sweep until
released, and refuses what it cannot restore. Also the schema version guard and the downgrade
command (`migrate --to`)."""

from __future__ import annotations

import contextlib
import gzip
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from backend import backups, cli
from backend.assembly import build
from backend.catalog import Catalog
from backend.catalog.moderation import Fingerprint, ModerationCatalog
from backend.catalog.versions import head
from backend.server import EmbeddedServer
from backend.settings import Settings
from tests.backend import imagesamples as samples
from tests.conftest import GENEROUS_LIMITS

ADMIN = "admin-token-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, data_dir) -> Settings:
    database = {}
    if request.param == "postgresql":
        database["database_url"] = request.getfixturevalue("pg_url")
    return Settings(
        data_dir=data_dir,
        host="127.0.0.1",
        port=0,
        sweep_interval=0,
        admin_token=ADMIN,
        **GENEROUS_LIMITS,
        **database,
    )


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[EmbeddedServer]:
    server = EmbeddedServer(settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def picture(seed: int) -> bytes:
    return samples.encode(samples.varied_picture(seed).resize((320, 240)), quality=90)


def upload(server: EmbeddedServer, data: bytes) -> requests.Response:
    return requests.post(f"{server.url}/api/upload", files={"file": ("a.jpg", data)}, timeout=30)


def view(server: EmbeddedServer, image: dict) -> int:
    path = urlsplit(image["url"]).path
    return requests.get(server.url + path, timeout=30).status_code


def admin(server: EmbeddedServer, method: str, path: str) -> requests.Response:
    r = requests.request(method, server.url + path, headers=AUTH, timeout=30)
    assert r.ok, r.text
    return r


def stored_keys(settings: Settings) -> set[str]:
    backend = build(settings)
    try:
        return {b.key for b in backend.store.list()}
    finally:
        backend.close()


def test_a_restored_older_backup_keeps_the_takedowns_made_since(settings, tmp_path):
    kept, removed_since, unblocked_since, uploaded_since = (picture(s) for s in (1, 2, 3, 4))
    backup = tmp_path / "catalog.backup"
    with serving(settings) as server:
        k, a, c = (upload(server, data).json() for data in (kept, removed_since, unblocked_since))
        admin(server, "POST", f"/api/admin/images/{c['id']}/remove")
        assert backups.backup(settings, backup).rows["images"] == 3
        assert backup.stat().st_mode & 0o077 == 0  # delete-token hashes: for the operator only

        admin(server, "POST", f"/api/admin/images/{a['id']}/remove")
        blocks = admin(server, "GET", "/api/admin/blocks?limit=100").json()["blocks"]
        lifted = [b["id"] for b in blocks if b["image_id"] == c["id"]]
        for block_id in lifted:
            admin(server, "DELETE", f"/api/admin/blocks/{block_id}")
        later = upload(server, uploaded_since).json()
    blobs_before = stored_keys(settings)

    restored = backups.restore(settings, backup)
    assert restored.reapplied == 1 + len(lifted)

    with serving(settings) as server:
        assert view(server, a) == 451
        assert upload(server, removed_since).status_code == 451  # its content: still blocked
        assert view(server, k) == 200
        assert upload(server, unblocked_since).status_code == 201  # lifted since: still lifted
        assert view(server, later) == 404  # after the backup
        audit = admin(server, "GET", "/api/admin/audit").json()["entries"]
        assert any(e["action"] == "remove" and e["target"] == a["id"] for e in audit)

    # The upload made after the backup left a blob the restored catalog does not know: the
    # sweep keeps it until an operator releases the hold.
    backend = build(settings)
    try:
        assert backend.images.sweep_orphans(grace=0) == 0
        assert stored_keys(settings) >= blobs_before - {k for k in blobs_before if "thumbs" in k}
        assert cli.main(["-q", "sweep", "--release", "--grace", "0", *flags(settings)]) == 0
        assert not any(later["sha256"] in key for key in stored_keys(settings))
    finally:
        backend.close()


def flags(settings: Settings) -> list[str]:
    found = ["--data-dir", str(settings.data_dir)]
    if settings.database_url:
        found += ["--database-url", settings.database_url]
    return found


def test_backup_and_restore_commands(settings, tmp_path, capsys):
    backup = tmp_path / "catalog.backup"
    with serving(settings) as server:
        image = upload(server, picture(9)).json()
    assert cli.main(["-q", "backup", str(backup), *flags(settings)]) == 0
    with serving(settings) as server:
        admin(server, "POST", f"/api/admin/images/{image['id']}/remove")
    capsys.readouterr()
    assert cli.main(["-q", "restore", str(backup), "--yes", *flags(settings)]) == 0
    assert "re-applied 1 of 1 takedown log entries" in capsys.readouterr().out
    with serving(settings) as server:
        assert view(server, image) == 451


@pytest.mark.parametrize(
    "spoil",
    [
        lambda backup: b"",
        lambda backup: b"not gzip at all",
        lambda backup: gzip.compress(b'{"format": "something else"}\n'),
        lambda backup: backup[: len(backup) * 2 // 3],
        # Found wrong after the schema was rebuilt and rows loaded: all of it is undone.
        lambda backup: gzip.compress(gzip.decompress(backup) + b'{"t": "nope", "r": []}\n'),
        lambda backup: gzip.compress(gzip.decompress(backup) + b'{"t": "images", "r": [1]}\n'),
        lambda backup: gzip.compress(gzip.decompress(backup) + b"[]\n"),
    ],
    ids=["empty", "not-gzip", "other-format", "truncated", "unknown-table", "short-row", "junk"],
)
def test_restore_refuses_what_is_not_a_backup_and_keeps_the_catalog(
    settings, tmp_path, capsys, spoil
):
    with serving(settings) as server:
        image = upload(server, picture(11)).json()
        backup = tmp_path / "catalog.backup"
        backups.backup(settings, backup)
        admin(server, "POST", f"/api/admin/images/{image['id']}/remove")
    bogus = tmp_path / "bogus"
    bogus.write_bytes(spoil(backup.read_bytes()))
    assert cli.main(["-q", "restore", str(bogus), "--yes", *flags(settings)]) == 1
    assert re.fullmatch(r"picdrop-server: .*not a [^\n]*\n", capsys.readouterr().err)
    with serving(settings) as server:  # the catalog as it was: the image still taken down
        assert view(server, image) == 451
        assert upload(server, picture(12)).status_code == 201


# -- schema versions ----------------------------------------------------------------------------
def _revision(settings: Settings) -> str:
    path = settings.data_dir / "picdrop.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def test_migrate_down_and_up_again(data_dir, capsys):
    settings = Settings(data_dir=data_dir)
    assert cli.main(["-q", "migrate", "--data-dir", str(data_dir)]) == 0
    assert _revision(settings) == head()
    assert cli.main(["-q", "migrate", "--to", "0005", "--data-dir", str(data_dir)]) == 0
    assert _revision(settings) == "0005"
    assert cli.main(["-q", "migrate", "--data-dir", str(data_dir)]) == 0
    assert _revision(settings) == head()
    assert cli.main(["-q", "migrate", "--to", "9999", "--data-dir", str(data_dir)]) != 0


@pytest.mark.parametrize(
    "command",
    [
        ["migrate"],
        ["serve", "--port", "0", "--processes", "1"],
        ["serve", "--port", "0", "--processes", "2"],  # migrated by a process of its own first
    ],
)
def test_a_schema_newer_than_the_release_is_refused_with_the_way_back(data_dir, capsys, command):
    catalog = Catalog(f"sqlite:///{data_dir / 'picdrop.db'}")
    catalog.migrate()
    catalog.close()
    with contextlib.closing(sqlite3.connect(data_dir / "picdrop.db")) as db:
        db.execute("UPDATE alembic_version SET version_num = '0999'")
        db.commit()
    assert cli.main(["-q", *command, "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert "0999" in err and f"picdrop-server migrate --to {head()}" in err


def not_a_database(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 40)


def schema_page_overwritten(path: Path) -> None:
    catalog = Catalog(f"sqlite:///{path}")
    catalog.migrate()
    catalog.close()
    with path.open("r+b") as f:
        f.seek(100)  # past the header: the first page's b-tree, the schema
        f.write(b"\xa5" * 3000)


@pytest.mark.parametrize("damage", [not_a_database, schema_page_overwritten])
@pytest.mark.parametrize(
    "command",
    [
        ["migrate"],
        ["serve", "--port", "0", "--processes", "1"],
        ["serve", "--port", "0", "--processes", "2"],
    ],
)
def test_a_damaged_catalog_is_refused_with_the_way_back(data_dir, capsys, command, damage):
    catalog_file = data_dir / "picdrop.db"
    damage(catalog_file)
    damaged = catalog_file.read_bytes()
    assert cli.main(["-q", *command, "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert f"the catalog at {catalog_file} is damaged" in err
    assert "picdrop-server restore --yes FILE" in err and "Traceback" not in err
    assert catalog_file.read_bytes() == damaged


def test_the_way_back_from_a_damaged_catalog_works(tmp_path, capsys):
    """What the refusal says to do: move the file aside, restore the last backup."""
    data_dir = tmp_path / "data"
    backup = tmp_path / "backup.tar"
    settings = Settings(data_dir=data_dir, host="127.0.0.1", port=0, sweep_interval=0)
    with serving(settings) as server:
        image = upload(server, picture(5)).json()
    assert cli.main(["-q", "backup", str(backup), "--data-dir", str(data_dir)]) == 0
    not_a_database(data_dir / "picdrop.db")
    assert cli.main(["-q", "restore", "--yes", str(backup), "--data-dir", str(data_dir)]) == 2
    for part in data_dir.glob("picdrop.db*"):
        if part.name in ("picdrop.db", "picdrop.db-wal", "picdrop.db-shm"):
            part.rename(tmp_path / part.name)
    assert cli.main(["-q", "restore", "--yes", str(backup), "--data-dir", str(data_dir)]) == 0
    with serving(settings) as server:
        assert view(server, image) == 200


def test_a_catalog_that_wrote_no_blob_does_not_sweep_another_ones_store(tmp_path, caplog, capsys):
    """A staging instance on production's store: its empty catalog would call every blob an
    orphan. It holds, with a warning, until an operator releases it."""
    production = Settings(
        data_dir=tmp_path / "production", host="127.0.0.1", port=0, sweep_interval=0
    )
    with serving(production) as server:
        assert upload(server, picture(21)).status_code == 201
    blobs = stored_keys(production)
    assert blobs
    shared = str(production.data_dir / "blobs")
    staging = Settings(data_dir=tmp_path / "staging", storage_url=shared)
    backend = build(staging, migrate=True)
    try:
        assert backend.images.sweep_orphans(grace=0) == 0
        assert stored_keys(production) == blobs
        assert any("orphan sweep held" in r.getMessage() for r in caplog.records)
        flags = ["--data-dir", str(staging.data_dir), "--storage-url", staging.storage_url]
        # `check --repair` reports the orphans but removes none while the sweep is held.
        assert cli.main(["-q", "check", "--repair", "--grace", "0", *flags]) == 1
        assert stored_keys(production) == blobs
        assert "the orphan sweep is held" in capsys.readouterr().out
        assert cli.main(["-q", "sweep", "--release", "--grace", "0", *flags]) == 0
        assert stored_keys(production) == set()  # the operator said they were this catalog's
    finally:
        backend.close()


def test_blocks_made_before_the_takedown_log_are_in_it(tmp_path):
    """Migration 0008 fills the log from the blocks already there, so a restore of an older
    backup re-applies those too."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    try:
        catalog.migrate("0007")
        with catalog.writing() as conn:
            conn.exec_driver_sql(
                "INSERT INTO blocks (kind, value, image_id, created_at, orientations) VALUES"
                " ('sha256', 'aa', 'img1', 5, NULL), ('dhash', 'bb', 'img1', 6, 'cc dd'),"
                " ('sha256', 'ee', NULL, 7, NULL)"
            )
        catalog.migrate()
        log = ModerationCatalog(catalog).takedown_log()
    finally:
        catalog.close()
    assert [(e.action, e.image_id, e.at) for e in log] == [
        ("remove", "img1", 5.0),
        ("remove", None, 7.0),
    ]
    assert log[0].hashes == (
        Fingerprint("sha256", "aa"),
        Fingerprint("dhash", "bb", ("cc", "dd")),
    )
    assert log[1].hashes == (Fingerprint("sha256", "ee"),)
