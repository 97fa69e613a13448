"""Serving a ~450 KB JPEG: picdrop's GET /{id}.jpg against nginx serving the same file from disk.

    python -m bench.bench_serve [--seconds 10] [--runs 3]

`wrk -t2 -c32` on every variant, one after the other in each round, in the same run; each figure
is the median of the rounds. Variants:
- nginx: the reference, sendfile of the file from disk (1 worker, no access log);
- picdrop app: `picdrop-server serve` answering straight, default settings (so one process per
  core, each with its own cache of hot images);
- behind nginx: the shipped deploy/nginx/picdrop.conf in front of the app (its proxy cache keeps
  hot images), the same nginx settings as the reference otherwise;
- behind nginx, X-Accel-Redirect: the app checks every request and nginx sends the file
  (PICDROP_X_ACCEL_REDIRECT); informational, no target.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import requests

from bench.harness import Row, have, jpeg_of_size, median, nginx, picdrop_server, print_table, wrk
from tests.services import Nginx, free_port, render_nginx_site


def _upload(url: str, data: bytes) -> str:
    answer = requests.post(f"{url}/api/upload", files={"file": ("p.jpg", data)}, timeout=30)
    answer.raise_for_status()
    return answer.json()["id"]


def run(seconds: int = 10, runs: int = 3, extra_env: dict[str, str] | None = None) -> list[Row]:
    if not (have("wrk") and have("nginx")):
        print("bench_serve: skipped, needs wrk and nginx")
        return []
    data = jpeg_of_size(450_000)
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="picdrop-serve-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        (root / "www").mkdir()
        (root / "www" / "photo.jpg").write_bytes(data)
        accel_data = root / "accel-data"
        with (
            nginx(root / "www") as nginx_url,
            picdrop_server(extra_env) as (url, _proc),
            picdrop_server(
                {**(extra_env or {}), "PICDROP_X_ACCEL_REDIRECT": "/_picdrop_blobs/"},
                data_dir=accel_data,
            ) as (accel_url, _accel_proc),
        ):
            image = f"/{_upload(url, data)}.jpg"
            accel_image = f"/{_upload(accel_url, data)}.jpg"
            proxies = []
            try:
                for upstream, blobs in ((url, None), (accel_url, accel_data / "blobs")):
                    site = render_nginx_site(
                        listen_port=free_port(),
                        upstreams=[upstream.removeprefix("http://")],
                        cache_dir=root / f"cache-{len(proxies)}",
                        blobs_dir=blobs,
                    )
                    proxies.append(Nginx(site, access_log=False).start())
                variants = {
                    "nginx": f"{nginx_url}/photo.jpg",
                    "app": url + image,
                    "behind nginx": proxies[0].url + image,
                    "X-Accel-Redirect": proxies[1].url + accel_image,
                }
                for target in variants.values():  # warm caches, check every variant answers
                    requests.get(target, timeout=30).raise_for_status()
                for _ in range(runs):
                    for name, target in variants.items():
                        figures.setdefault(name, []).append(wrk(target, seconds=seconds))
            finally:
                for proxy in proxies:
                    proxy.stop()
    ref = median(figures["nginx"])
    bench = "serve 450 KB JPEG"
    processes = int((extra_env or {}).get("PICDROP_PROCESSES") or 0) or os.cpu_count()
    return [
        Row(bench, f"picdrop app, straight ({processes} processes)", median(figures["app"]),
            "req/s", "nginx", ref, target=">= 0.7x", goal=(">=", "ratio", 0.7)),
        Row(bench, "behind nginx (deploy/ config)", median(figures["behind nginx"]), "req/s",
            "nginx", ref, target=">= 0.9x", goal=(">=", "ratio", 0.9)),
        Row(bench, "behind nginx, X-Accel-Redirect", median(figures["X-Accel-Redirect"]),
            "req/s", "nginx", ref),
    ]  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print_table(run(args.seconds, args.runs))
