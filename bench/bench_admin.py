"""The admin reports listing: one page of 50 at 10k and 100k open reports.

    python -m bench.bench_admin [--pages 50]

Each size is bulk-filled into a fresh SQLite catalog (open reports, one to five per image, half
of the images in the catalog), then the first page and a page deep in the list (through the
cursors) are timed. Target: a page of 50 under 50 ms at 100k open reports.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from backend.assembly import build
from backend.settings import Settings
from bench.harness import Row, print_table

SIZES = (10_000, 100_000)
PAGE = 50


def fill(backend, reports: int, rng: random.Random) -> None:
    rows, n = [], 0
    while len(rows) < reports:
        image_id = f"img{n:07d}"
        rows += [(image_id, "spam", 1000.0 + len(rows) + k) for k in range(rng.randint(1, 5))]
        n += 1
    with backend.catalog.writing() as conn:
        conn.exec_driver_sql(
            "INSERT INTO reports (image_id, reason, created_at, status) VALUES (?, ?, ?, 'open')",
            rows[:reports],
        )
        conn.exec_driver_sql(  # as migration 0005 fills it
            "INSERT INTO report_groups (image_id, open_count, first_at) SELECT image_id,"
            " COUNT(*), MIN(created_at) FROM reports WHERE status = 'open' GROUP BY image_id"
        )
        conn.exec_driver_sql(
            "INSERT INTO images (id, blob_key, sha256, mime, ext, width, height, size, frames,"
            " delete_token_hash, created_at) VALUES (?, 'k', 's', 'image/png', 'png', 1, 1, 1,"
            " 1, 'h', 0)",
            [(f"img{i:07d}",) for i in range(0, n, 2)],
        )


def run(sizes=SIZES, pages: int = 20) -> list[Row]:
    rows: list[Row] = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            backend = build(Settings(data_dir=Path(tmp), sweep_interval=0), migrate=True)
            fill(backend, size, random.Random(size))
            listing = backend.moderation.open_reports
            listing(PAGE)  # warm up
            firsts, cursor, deep = [], None, []
            for _ in range(pages):
                start = time.perf_counter()
                listing(PAGE)
                firsts.append((time.perf_counter() - start) * 1000)
            for _ in range(pages):
                start = time.perf_counter()
                cursor = listing(PAGE, cursor).next
                deep.append((time.perf_counter() - start) * 1000)
            backend.close()
        first, later = statistics.median(firsts), statistics.median(deep)
        print(f"{size:>7,} open reports: first page {first:.1f} ms, next pages {later:.1f} ms")
        rows.append(
            Row(
                "admin reports",
                f"page of {PAGE}, {size:,} open reports",
                first,
                "ms",
                target="< 50 ms",
                goal=("<=", "value", 50.0),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20, help="pages timed at each size")
    print_table(run(pages=parser.parse_args().pages))


if __name__ == "__main__":
    main()
