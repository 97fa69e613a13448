"""The `picdrop` command. With no subcommand it opens the window (files given are uploaded)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from desktop import __version__
from desktop.core.config import SERVER_ENV


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="picdrop", description="Drop an image, get a short link on the clipboard."
    )
    parser.add_argument("--version", action="version", version=f"picdrop {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation (server round trip, Qt plugins, TLS), print a report, exit",
    )
    parser.add_argument("files", nargs="*", type=Path, help="images or folders to upload")
    parser.add_argument(
        "--server", metavar="URL", help=f"picdrop server to upload to (overrides {SERVER_ENV})"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="history and local server data (default: the user data directory)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.self_test:
        from desktop import selftest

        return selftest.run()
    if args.server:
        os.environ[SERVER_ENV] = args.server
    from desktop.app import main as gui_main  # Qt only when the GUI is really wanted

    return gui_main(files=[p.resolve() for p in args.files], data_dir=args.data_dir)
