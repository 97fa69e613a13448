"""Serving a ~450 KB JPEG: picdrop's GET /{id}.jpg against nginx serving the same file from disk.

    python bench/bench_serve.py [--seconds 10] [--runs 3]

wrk -t2 -c32 on both, alternating, in the same run; the figure is the median of the runs.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import requests

from bench.harness import Row, have, jpeg_of_size, median, nginx, picdrop_server, print_table, wrk


def run(seconds: int = 10, runs: int = 3) -> list[Row]:
    if not (have("wrk") and have("nginx")):
        print("bench_serve: skipped, needs wrk and nginx")
        return []
    data = jpeg_of_size(450_000)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp, picdrop_server() as (url, _proc):
        root = Path(tmp)
        root.chmod(0o755)
        (root / "photo.jpg").write_bytes(data)
        answer = requests.post(f"{url}/api/upload", files={"file": ("p.jpg", data)}, timeout=30)
        answer.raise_for_status()
        image_url = answer.json()["url"]
        with nginx(root) as nginx_url:
            ours, theirs = [], []
            for _ in range(runs):
                theirs.append(wrk(f"{nginx_url}/photo.jpg", seconds=seconds))
                ours.append(wrk(image_url, seconds=seconds))
    rows.append(
        Row(
            "serve 450 KB JPEG",
            "picdrop app",
            median(ours),
            "req/s",
            "nginx",
            median(theirs),
            target=">= 0.5x",
        )
    )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print_table(run(args.seconds, args.runs))
