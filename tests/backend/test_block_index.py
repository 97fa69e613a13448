"""The band index of the perceptual blocklist (backend.catalog.bands) finds what a scan finds."""

from __future__ import annotations

import random

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, select

from backend.catalog import Catalog, bands
from backend.catalog.catalog import MIGRATIONS
from backend.catalog.moderation import Fingerprint, ModerationCatalog
from backend.catalog.schema import block_bands
from backend.images.fingerprint import BITS, distance
from backend.settings import Settings

THRESHOLD = Settings().block_distance


@pytest.fixture(params=["sqlite", "postgresql"])
def moderation(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    catalog = Catalog(url)
    catalog.migrate()
    yield ModerationCatalog(catalog)
    catalog.close()


def random_hash(rng: random.Random) -> str:
    return f"{rng.getrandbits(BITS):032x}"


def flipped(hash_hex: str, bits: list[int]) -> str:
    value = int(hash_hex, 16)
    for bit in bits:
        value ^= 1 << bit
    return f"{value:032x}"


def near_copies(rng: random.Random, hash_hex: str, k: int) -> list[str]:
    """`hash_hex` with k bits flipped: at random, and spread evenly over the bits (every band
    as far off as k allows: the case the pigeonhole bound is tight for)."""
    spread = [round(i * BITS / k) for i in range(k)] if k else []
    return [flipped(hash_hex, rng.sample(range(BITS), k)), flipped(hash_hex, spread)]


def block(mod: ModerationCatalog, image_id: str, hashes: list[str]) -> int:
    (block_id,) = mod.remove(
        image_id,
        hashes=[Fingerprint("dhash", hashes[0], tuple(hashes[1:]))],
        actor="cli",
        note=None,
    ).block_ids
    return block_id


def scan(blocks, frame: str, limit: int) -> set[int]:
    """The blocks the linear scan matches."""
    return {b.id for b, hashes in blocks if any(distance(frame, h) <= limit for h in hashes)}


@pytest.mark.parametrize("limit", [0, 4, THRESHOLD, 14, 16])
def test_indexed_check_finds_what_the_scan_finds(moderation, limit):
    rng = random.Random(limit)
    stored = []
    for n in range(60):  # far apart: a query near one is near no other
        hashes = [random_hash(rng) for _ in range(rng.choice([1, 8]))]
        block(moderation, f"img{n:04d}", hashes)
        stored.extend(hashes)
    queries = [random_hash(rng) for _ in range(20)]
    for h in rng.sample(stored, 6):
        for k in range(limit + 4):
            queries += near_copies(rng, h, k)
    found = 0
    blocks = moderation.perceptual_blocks()
    for query in queries:
        expected = scan(blocks, query, limit)
        hit = moderation.block_near([query], limit)
        assert ({hit.id} if hit else set()) == expected, query
        found += bool(expected)
    assert found >= 6 * 2 * (limit + 1)  # every copy within the limit was found


def test_any_frame_of_an_upload_matches(moderation):
    rng = random.Random(1)
    target = random_hash(rng)
    block_id = block(moderation, "img0001", [random_hash(rng), target])
    frames = [random_hash(rng), flipped(target, [1, 40, 77, 100, 127])]
    hit = moderation.block_near(frames, THRESHOLD)
    assert hit is not None and hit.id == block_id


def test_lifting_a_block_takes_it_out_of_the_index(moderation):
    rng = random.Random(2)
    kept, lifted = [random_hash(rng) for _ in range(8)], [random_hash(rng) for _ in range(8)]
    block(moderation, "img0001", kept)
    lifted_id = block(moderation, "img0002", lifted)
    assert moderation.block_near([lifted[3]], THRESHOLD).id == lifted_id

    moderation.unblock(lifted_id, actor="cli", note=None)

    assert moderation.block_near([lifted[3]], THRESHOLD) is None
    assert moderation.block_near([kept[3]], THRESHOLD) is not None
    with moderation.catalog.reading() as conn:
        left = conn.execute(
            select(func.count()).select_from(block_bands).where(block_bands.c.block_id == lifted_id)
        ).scalar_one()
    assert left == 0


def test_migration_indexes_the_blocks_already_there(tmp_path):
    """Blocks made before the index (migration 0004) are found through it after the upgrade."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    rng = random.Random(3)
    upright, turned = random_hash(rng), random_hash(rng)
    with catalog.writing() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
        conn.exec_driver_sql(
            "INSERT INTO blocks (kind, value, created_at, orientations) VALUES ('dhash', ?, 0, ?)",
            (upright, turned),
        )
    catalog.migrate()
    moderation = ModerationCatalog(catalog)
    for h in (upright, turned):
        assert moderation.block_near([flipped(h, [0, 50, 100])], THRESHOLD) is not None
    catalog.close()


def test_the_bands_cover_the_whole_hash():
    assert bands.BITS == BITS  # bands.py keeps its own copy, so the catalog loads no image code
