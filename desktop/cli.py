"""The `picdrop` command.

With no subcommand it opens the window; when picdrop is already running, the files go to it and
this process exits at once. `upload`, `history` and `delete` work without a window (and without a
display) — see `desktop.commands`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from desktop import __version__
from desktop.commands.status import EXIT_CLOSED_PIPE, EXIT_HELP, EXIT_USAGE
from desktop.core.config import SERVER_ENV, server_url_problem

COMMANDS_HELP = """\
commands:
  picdrop [FILE...]          open the window; a running picdrop gets the files instead
  picdrop upload FILE...     upload without a window; prints one link per file
  picdrop upload -           upload an image read from standard input
  picdrop history [--json]   list past uploads
  picdrop delete ID          delete an upload or an album (stored delete token)
  picdrop capture region|window|screen [--delay N] [--no-upload]
                             capture the screen with the running app; prints the link
  picdrop COMMAND --help     the options of a command

"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="picdrop",
        description="Drop an image, get a short link on the clipboard.",
        epilog=COMMANDS_HELP + EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    parser.add_argument(
        "--minimized", action="store_true", help="start in the tray, without the window"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Every command, with a closed standard output (`picdrop history | head`) handled once,
    here: quietly, as a Unix tool ends on SIGPIPE."""
    try:
        return run_command(argv)
    except BrokenPipeError:
        # Python would flush stdout again on exit and print the same error: point it nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_CLOSED_PIPE


def run_command(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from desktop.commands import COMMANDS

    if argv and argv[0] in COMMANDS:
        from desktop.commands import run

        return run(argv)

    args = build_parser().parse_args(argv)
    problem = server_url_problem(args.server or "")
    if problem:
        print(f"picdrop: --server {args.server!r}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if args.self_test:
        from desktop import selftest

        return selftest.run()

    from desktop.core.ipc import UnsafeRuntimeDir, instance_address
    from desktop.core.paths import user_data_dir
    from desktop.instance_client import hand_over

    data_dir = (args.data_dir or user_data_dir()).resolve()
    files = [p.resolve() for p in args.files]
    # Already running: hand the files over (it uploads them and shows its window) and go.
    # Without a private place for the socket, this launch runs on its own (app.main says why).
    with contextlib.suppress(UnsafeRuntimeDir):
        if hand_over(instance_address(data_dir), files):
            return 0
    if args.server:
        os.environ[SERVER_ENV] = args.server
    from desktop.app import main as gui_main  # Qt widgets only when the window is really wanted

    return gui_main(files=files, data_dir=data_dir, minimized=args.minimized)
