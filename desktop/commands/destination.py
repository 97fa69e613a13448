"""`picdrop destination add FILE | list | remove NAME`: the imported ShareX custom uploaders."""

from __future__ import annotations

import argparse
import sys

from desktop.commands.status import EXIT_OK, UsageError
from desktop.core.destinations import DestinationStore, UnknownDestination
from desktop.core.paths import destinations_dir, user_data_dir
from desktop.core.printable import printable
from desktop.core.sxcu import SxcuError


def run_destination(args: argparse.Namespace) -> int:
    store = DestinationStore(destinations_dir(args.data_dir or user_data_dir()))
    if args.action in ("add", "import"):
        try:
            name, uploader = store.add(args.file.read_bytes())
        except OSError as exc:
            raise UsageError(f"{args.file}: {exc.strerror or exc}") from exc
        except SxcuError as exc:
            raise UsageError(f"{args.file}: {exc}") from exc
        said = f"added {name}: {uploader.request_method} {uploader.request_url} ({uploader.body})"
        print(printable(said))
        return EXIT_OK
    if args.action == "remove":
        try:
            print(printable(f"removed {store.remove(args.name)}"))
        except UnknownDestination as exc:
            raise UsageError(str(exc)) from exc
        return EXIT_OK
    for name in store.names():
        try:
            uploader = store.get(name)
        except SxcuError as exc:
            print(f"{printable(name)}\t{printable(f'(unusable: {exc})')}")
            continue
        where = f"{uploader.request_method} {uploader.request_url}"
        print(f"{printable(name)}\t{printable(where)}")
    if not store.names():
        print("no destinations yet: picdrop destination add FILE.sxcu", file=sys.stderr)
    return EXIT_OK
