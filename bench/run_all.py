"""The whole benchmark suite in one run: one table, a JSON file and a plot.

    make bench                                   # or: python -m bench.run_all
    python -m bench.run_all --quick              # shorter runs, for a smoke test
    python -m bench.run_all --only serve,upload  # some of them

Serving, uploads, the image pipeline, the server's memory, decoding bombs against a live server,
the orphan sweep as the store grows, the desktop app (drop to clipboard, GUI stalls), and the
packaged app's size, start-up time and idle memory beside the same from source.
Each figure is a median of several runs beside a reference measured in the same run; the machine
is shared and noisy, so only the ratios compare across runs.

Writes docs/bench/results.json (the rows, the machine, the commit) and docs/bench/results.png (how
far each target is reached), which docs/PERFORMANCE.md shows.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, Row, print_table

OUT = ROOT / "docs" / "bench"
DOC = ROOT / "docs" / "PERFORMANCE.md"
SUITES = (
    "serve", "upload", "pipeline", "memory", "bombs", "blocks", "admin", "sweep", "desktop",
    "history", "startup",
)  # fmt: skip


def _desktop(quick: bool) -> list[Row]:
    runs = "3" if quick else "7"
    return _qt_child(["bench.bench_desktop", "--runs", runs])


def _history(quick: bool) -> list[Row]:
    return _qt_child(["bench.bench_history", "--sizes", "10000" if quick else "10000,50000,100000"])


def _qt_child(args: list[str]) -> list[Row]:
    """In a child process: Qt wants to be the only GUI in its process and to exit on its own."""
    out = subprocess.run(
        [sys.executable, "-m", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 and not lines:
        print(f"{args[0]} failed:\n{out.stderr[-3000:]}", file=sys.stderr)
        return []
    rows = []
    for line in lines:
        data = json.loads(line)
        data["goal"] = tuple(data["goal"]) if data.get("goal") else None
        rows.append(Row(**data))
    return rows


def _startup(quick: bool) -> list[Row]:
    """Bundle sizes and start-up, frozen beside source. Uses the builds in dist/ when they are
    newer than every source file, else builds both into a temporary directory (~1.5 min on 2
    cores)."""
    from bench import bench_startup

    return bench_startup.run(runs=2 if quick else 3)


def _sizes(bench: object, quick: bool, scale: bool) -> tuple[int, ...]:
    """A growing-data bench's sizes: the smallest (--quick), its usual ones, or up to 1M
    (--scale, where the bench has them: they take minutes to fill)."""
    sizes = getattr(bench, "SCALE_SIZES", bench.SIZES) if scale else bench.SIZES
    return sizes[:1] if quick else sizes


def collect(only: set[str], quick: bool, scale: bool = False) -> list[Row]:
    rows: list[Row] = []
    timings = {}
    for name in SUITES:
        if name not in only:
            continue
        start = time.monotonic()
        print(f"-- {name} ...", file=sys.stderr, flush=True)
        if name == "serve":
            from bench import bench_serve

            rows += bench_serve.run(seconds=3 if quick else 10, runs=2 if quick else 3)
        elif name == "upload":
            from bench import bench_upload

            rows += bench_upload.run(uploads=100 if quick else 200, runs=2 if quick else 3)
        elif name == "pipeline":
            from bench import bench_pipeline

            rows += bench_pipeline.run(runs=3 if quick else 7)
        elif name == "memory":
            from bench import bench_memory

            rows += bench_memory.run()
        elif name == "bombs":
            from bench import bench_bombs

            rows += bench_bombs.run(seconds=3 if quick else 6)
        elif name == "blocks":
            from bench import bench_blocks

            rows += bench_blocks.run(sizes=_sizes(bench_blocks, quick, scale))
        elif name == "admin":
            from bench import bench_admin

            rows += bench_admin.run(sizes=_sizes(bench_admin, quick, scale))
        elif name == "sweep":
            from bench import bench_sweep

            rows += bench_sweep.run(sizes=_sizes(bench_sweep, quick, scale))
        elif name == "desktop":
            rows += _desktop(quick)
        elif name == "history":
            rows += _history(quick)
        elif name == "startup":
            rows += _startup(quick)
        timings[name] = time.monotonic() - start
        print(f"   {name}: {timings[name]:.0f} s", file=sys.stderr, flush=True)
    return rows


def machine() -> dict[str, object]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg()[0],
        "python": sys.version.split()[0],
    }


def save(rows: list[Row], info: dict[str, object], out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": info,
        "rows": [{**asdict(r), "ratio": r.ratio, "met": r.met} for r in rows],
    }
    (out / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    from bench.plot import plot

    plot(rows, out / "results.png", f"picdrop benchmarks, {info['date']}, commit {info['commit']}")
    update_doc(rows, info)


def update_doc(rows: list[Row], info: dict[str, object], doc: Path = DOC) -> None:
    """Put the table between the markers in docs/PERFORMANCE.md (if it has them)."""
    if not doc.exists():
        return
    text = doc.read_text()
    start, end = "<!-- bench-table -->", "<!-- /bench-table -->"
    if start not in text or end not in text:
        return
    table = io.StringIO()
    print_table(rows, file=table)
    block = (
        f"{start}\n```\n{table.getvalue()}```\n"
        f"{info['date']}, commit {info['commit']}, {info['cpus']} CPUs, "
        f"load average {info['load_average_before']:.2f} before the run, {info['seconds']} s.\n"
        f"{end}"
    )
    head, rest = text.split(start, 1)
    doc.write_text(head + block + rest.split(end, 1)[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (a smoke test)")
    parser.add_argument("--only", default=",".join(SUITES), help="comma-separated subset")
    parser.add_argument("--scale", action="store_true", help="growing data up to 1M rows (slow)")
    parser.add_argument("--no-save", action="store_true", help="print the table only")
    args = parser.parse_args()
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = only - set(SUITES)
    if unknown:
        parser.error(f"unknown suites: {', '.join(sorted(unknown))}")
    info = machine()
    start = time.monotonic()
    rows = collect(only, args.quick, args.scale)
    info["seconds"] = round(time.monotonic() - start)
    print()
    print_table(rows)
    print(f"\n{len(rows)} figures in {info['seconds']} s on {info['cpus']} CPUs")
    if not args.no_save:
        save(rows, info)
        print(f"saved {OUT.relative_to(ROOT)}/results.json and results.png, updated the table "
              f"in {DOC.relative_to(ROOT)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
