"""The perceptual block check per upload, at 10k, 100k (and with --scale 1M) blocks.

    python -m bench.bench_blocks [--scale] [--orientations 8] [--checks 500]

Each size is bulk-filled into a fresh SQLite catalog (random hashes, each block with its eight
orientations like a real removal; rows straight into `blocks` and the band index `block_bands`),
then the check an upload makes (`ModerationCatalog.block_near`, one still frame, the default
distance) is timed for random hashes (no match: the whole lookup runs) and for near-copies of
stored blocks at distances up to the limit (all must be found: the misses are printed). Target:
p95 under 2 ms at 1M blocks, flat from 10k (the growth is printed).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from backend.catalog import Catalog
from backend.catalog.bands import band_values
from backend.catalog.moderation import ModerationCatalog
from backend.images.fingerprint import BITS
from backend.settings import Settings
from bench.harness import Row, print_table

SIZES = (10_000, 100_000)
SCALE_SIZES = (*SIZES, 1_000_000)
LIMIT = Settings().block_distance
CHUNK = 200_000


def fill(catalog: Catalog, count: int, orientations: int, rng: random.Random) -> list[str]:
    """`count` dhash blocks of random hashes; returns their upright hashes."""
    hashes = [[f"{rng.getrandbits(BITS):032x}" for _ in range(orientations)] for _ in range(count)]
    with catalog.writing() as conn:
        conn.exec_driver_sql("DROP INDEX ix_block_bands_block")  # built once at the end
        conn.exec_driver_sql(
            "INSERT INTO blocks (id, kind, value, created_at, orientations) "
            "VALUES (?, 'dhash', ?, 0, ?)",
            [(i + 1, h[0], " ".join(h[1:]) or None) for i, h in enumerate(hashes)],
        )
        bands = sorted(
            (band, value, i + 1)
            for i, hs in enumerate(hashes)
            for h in hs
            for band, value in band_values(h)
        )
        for start in range(0, len(bands), CHUNK):
            conn.exec_driver_sql(
                "INSERT OR IGNORE INTO block_bands (band, value, block_id) VALUES (?, ?, ?)",
                bands[start : start + CHUNK],
            )
        conn.exec_driver_sql("CREATE INDEX ix_block_bands_block ON block_bands (block_id)")
    return [h[0] for h in hashes]


def near(rng: random.Random, hash_hex: str, k: int) -> str:
    value = int(hash_hex, 16)
    for bit in rng.sample(range(BITS), k):
        value ^= 1 << bit
    return f"{value:032x}"


def timed(moderation: ModerationCatalog, queries: list[str]) -> tuple[list[float], int]:
    """Milliseconds per check, and how many found a block."""
    times, hits = [], 0
    for q in queries:
        start = time.perf_counter()
        hits += moderation.block_near([q], LIMIT) is not None
        times.append((time.perf_counter() - start) * 1000)
    return times, hits


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1]


def run(sizes=SIZES, orientations: int = 8, checks: int = 500) -> list[Row]:
    rows: list[Row] = []
    first_p95 = None
    for size in sizes:
        rng = random.Random(size)
        with tempfile.TemporaryDirectory() as tmp:
            catalog = Catalog(f"sqlite:///{Path(tmp) / 'catalog.db'}")
            catalog.migrate()
            start = time.monotonic()
            uprights = fill(catalog, size, orientations, rng)
            filled = time.monotonic() - start
            moderation = ModerationCatalog(catalog)
            timed(moderation, [f"{rng.getrandbits(BITS):032x}" for _ in range(50)])  # warm up
            misses, _ = timed(moderation, [f"{rng.getrandbits(BITS):032x}" for _ in range(checks)])
            copies = [near(rng, rng.choice(uprights), k % (LIMIT + 1)) for k in range(checks)]
            matches, found = timed(moderation, copies)
            catalog.close()
        first_p95 = first_p95 or p95(misses)
        print(
            f"{size:>9,} blocks (filled in {filled:.0f} s): no match p50 "
            f"{statistics.median(misses):.2f} ms p95 {p95(misses):.2f} ms; near-copy p50 "
            f"{statistics.median(matches):.2f} ms p95 {p95(matches):.2f} ms, "
            f"missed {len(copies) - found} of {len(copies)}; growth {p95(misses) / first_p95:.2f}x",
            flush=True,
        )
        rows += [
            Row(
                "blocks",
                f"check p95, {size:,} blocks",
                p95(misses),
                "ms",
                reference=f"{sizes[0]:,} blocks",
                reference_value=first_p95,
                target="< 2 ms",
                goal=("<=", "value", 2.0),
            ),
            Row(
                "blocks",
                f"near-copies missed, {size:,} blocks",
                len(copies) - found,
                "",
                target="0",
                goal=("<=", "value", 0),
            ),
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="store_true", help="add 1M blocks")
    parser.add_argument("--orientations", type=int, default=8, help="hashes per block")
    parser.add_argument("--checks", type=int, default=500)
    args = parser.parse_args()
    print_table(run(SCALE_SIZES if args.scale else SIZES, args.orientations, args.checks))


if __name__ == "__main__":
    main()
