"""The `picdrop` subcommands: upload, history, delete. Qt-free except for reading the saved
settings (QtCore) and talking to the running app (QtNetwork); no display is ever needed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from backend.expiry import EXPIRY_CHOICES
from desktop.commands.status import (
    EXIT_FAILED,
    EXIT_HELP,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    UsageError,
)
from desktop.core.config import SERVER_ENV
from desktop.core.printable import printable

COMMANDS = ("upload", "history", "delete", "destination", "capture")
FORMATS = ("url", "markdown", "html", "bbcode", "json")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="history and local server data (default: the user data directory)",
    )
    parser = argparse.ArgumentParser(prog="picdrop")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fmt = argparse.RawDescriptionHelpFormatter

    upload = sub.add_parser(
        "upload",
        parents=[common],
        formatter_class=fmt,
        help="upload images and print their links",
        description=(
            "Upload images without opening a window. Prints one link per file on standard\n"
            "output (nothing else goes there), records the uploads in the history, and puts\n"
            "the links on the clipboard through the running picdrop app.\n\n"
            f"Server: --server, else {SERVER_ENV}, else the one chosen in the app's settings;\n"
            "with none of them, the files go to the running picdrop app (and its built-in\n"
            "server, whose links keep working after this command ends)."
        ),
        epilog=EXIT_HELP,
    )
    upload.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="image files or folders; - reads one image from standard input",
    )
    upload.add_argument(
        "--format",
        choices=FORMATS,
        default="url",
        help="what to print per file (json: one object per line, everything the server "
        "returned, delete URL included); default: url",
    )
    upload.add_argument("--server", metavar="URL", help="picdrop server to upload to")
    upload.add_argument(
        "--to",
        metavar="NAME",
        help="an imported ShareX custom uploader to upload to (picdrop destination list)",
    )
    upload.add_argument(
        "--expires", choices=tuple(EXPIRY_CHOICES), help="how long the image lives (server default)"
    )
    upload.add_argument(
        "--no-copy", action="store_true", help="do not put the links on the clipboard"
    )
    upload.add_argument(
        "--album",
        action="store_true",
        help="also make an album of the uploaded files (a picdrop server's page showing them "
        "all) and print its link last; `picdrop delete` with that link deletes the album only",
    )

    history = sub.add_parser(
        "history",
        parents=[common],
        formatter_class=fmt,
        help="list past uploads, newest first",
        epilog=EXIT_HELP,
    )
    history.add_argument("--json", action="store_true", help="one JSON object per line")
    history.add_argument("--limit", type=int, default=50, metavar="N", help="default: 50")

    delete = sub.add_parser(
        "delete",
        parents=[common],
        formatter_class=fmt,
        help="delete an upload or an album from its server with its stored delete token",
        epilog=EXIT_HELP,
    )
    delete.add_argument(
        "id", metavar="ID", help="the image ID, its link, or its page; or an album's ID or link"
    )

    destination = sub.add_parser(
        "destination",
        aliases=["destinations"],
        formatter_class=fmt,
        help="ShareX custom uploaders (.sxcu) to upload to with --to",
        epilog=EXIT_HELP,
    )
    actions = destination.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        aliases=["import"],
        parents=[common],
        help="import a .sxcu file (uploads to it are still stripped of metadata)",
    )
    add.add_argument(
        "file",
        metavar="FILE",
        help="a .sxcu file, or a picdrop server's URL (its /api/sharex.sxcu is imported)",
    )
    actions.add_parser("list", parents=[common], help="the imported uploaders and where they send")
    remove = actions.add_parser("remove", parents=[common], help="forget an imported uploader")
    remove.add_argument("name", metavar="NAME")
    default = actions.add_parser(
        "default",
        parents=[common],
        help="where uploads go when no --to or --server is given, in the app too "
        "(NAME, or 'server' for the picdrop server)",
    )
    default.add_argument("name", metavar="NAME")
    test = actions.add_parser(
        "test",
        parents=[common],
        help="upload a small test image there and print its link (and delete link)",
    )
    test.add_argument("name", metavar="NAME")
    capture = sub.add_parser(
        "capture",
        parents=[common],
        formatter_class=fmt,
        help="capture the screen with the running app and print the link",
        description=(
            "Capture the screen with the running picdrop app: a region chosen on its overlay,\n"
            "the window under the pointer, or the monitor under it (--all: every monitor).\n"
            "Then what Settings say (the editor, an upload, or the image on the clipboard);\n"
            "prints the link when the capture was uploaded. Bind it to a key in the desktop's\n"
            "shortcut settings."
        ),
        epilog=EXIT_HELP,
    )
    capture.add_argument("mode", choices=("region", "window", "screen"))
    capture.add_argument(
        "--delay", type=float, default=0, metavar="N", help="wait N seconds before capturing"
    )
    capture.add_argument("--all", action="store_true", help="screen: every monitor, not one")
    capture.add_argument(
        "--no-upload", action="store_true", help="put the image on the clipboard, do not upload"
    )
    return parser


def run(argv: Sequence[str]) -> int:
    from desktop.core.history import HistoryUnavailable

    args = build_parser().parse_args(list(argv))
    try:
        if args.command == "upload":
            from desktop.commands.upload import run_upload

            return run_upload(args)
        if args.command == "history":
            from desktop.commands.history import run_history

            return run_history(args)
        if args.command == "capture":
            from desktop.commands.capture import run_capture

            return run_capture(args)
        if args.command in ("destination", "destinations"):
            from desktop.commands.destination import run_destination

            return run_destination(args)
        from desktop.commands.delete import run_delete

        return run_delete(args)
    except UsageError as exc:
        print(printable(f"picdrop {args.command}: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    except HistoryUnavailable as exc:
        print(printable(f"picdrop {args.command}: {exc}."), file=sys.stderr)
        if exc.damaged:  # the window asks before it keeps the file aside; a command never does
            print("  Start the picdrop app to keep it aside and begin a new one.", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
