"""The perceptual blocklist finds what a scan finds: through the band index (backend.catalog.bands)
and held in memory; and a check made by one replica sees every change another made before it."""

from __future__ import annotations

import random

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, select

from backend.catalog import Catalog, bands
from backend.catalog.catalog import MIGRATIONS
from backend.catalog.moderation import HELD_BLOCKS, Fingerprint, ModerationCatalog
from backend.catalog.schema import block_bands
from backend.images.fingerprint import BITS, distance
from backend.settings import Settings

THRESHOLD = Settings().block_distance


# How a check finds the blocks near a hash: `held_blocks` for ModerationCatalog.
LOOKUPS = {"held in memory": HELD_BLOCKS, "band index": 0}


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(params=list(LOOKUPS))
def moderation(request, catalog_url):
    catalog = Catalog(catalog_url)
    catalog.migrate()
    yield ModerationCatalog(catalog, held_blocks=LOOKUPS[request.param])
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


@pytest.fixture(params=[HELD_BLOCKS, 1], ids=["few blocks", "more than are held"])
def replicas(request, catalog_url):
    """Two replicas of one catalog, each with its own connections and its own blocks in memory
    (the second holds at most `request.param` of them)."""
    catalogs = [Catalog(catalog_url) for _ in range(2)]
    catalogs[0].migrate()
    yield ModerationCatalog(catalogs[0]), ModerationCatalog(catalogs[1], held_blocks=request.param)
    for catalog in catalogs:
        catalog.close()


# Changes of a picture's blocks, the first of its hashes upright, the others turned.
def add(mod: ModerationCatalog, picture: list[str]) -> None:
    block(mod, "img0002", picture)


def add_upright_only(mod: ModerationCatalog, picture: list[str]) -> None:
    block(mod, "img0002", picture[:1])  # its blob was unreadable: no orientations


def lift(mod: ModerationCatalog, picture: list[str]) -> None:
    mod.unblock(mod.block_id("dhash", picture[0]), actor="cli", note=None)


# What one replica did before, the change it makes, and whether a turned copy of the picture is
# blocked after that change (the opposite before it).
CHANGES = {
    "a block added": (None, add, True),
    "a block lifted": (add, lift, False),
    "a block gaining its orientations": (add_upright_only, add, True),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_the_next_check_of_a_replica_sees_a_change_another_made(replicas, change):
    writer, checker = replicas
    before, make, blocked = CHANGES[change]
    rng = random.Random(5)
    block(writer, "img0001", [random_hash(rng) for _ in range(8)])  # another picture's block
    picture = [random_hash(rng) for _ in range(8)]
    if before is not None:
        before(writer, picture)
    turned_copy = flipped(picture[3], [2, 60, 119])
    # The checker has looked: it holds the blocks now, unless there are more than it holds.
    assert (checker.block_near([turned_copy], THRESHOLD) is None) is blocked

    make(writer, picture)

    assert (checker.block_near([turned_copy], THRESHOLD) is not None) is blocked
