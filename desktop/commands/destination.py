"""`picdrop destination add FILE | list | remove NAME`: the imported ShareX custom uploaders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from desktop.commands.status import EXIT_OK, UsageError
from desktop.core.api import GuardedSession, PicdropError, exchange, status_sentence
from desktop.core.destinations import DestinationStore, UnknownDestination
from desktop.core.paths import destinations_dir, user_data_dir
from desktop.core.printable import printable
from desktop.core.sxcu import SxcuError


def read_uploader(where: str) -> bytes:
    """A .sxcu file's bytes, or a picdrop server's own uploader fetched from its URL."""
    if not where.startswith(("http://", "https://")):
        return Path(where).read_bytes()
    url = where if where.endswith(".sxcu") else where.rstrip("/") + "/api/sharex.sxcu"
    session = GuardedSession()
    try:
        answer = exchange(session, "GET", url, url, timeout=(10.0, 30.0))
    finally:
        session.close()
    if answer.status >= 400 or answer.body is None:
        raise PicdropError(printable(f"{url}: {status_sentence(answer)}"))
    return answer.body


def run_destination(args: argparse.Namespace) -> int:
    store = DestinationStore(destinations_dir(args.data_dir or user_data_dir()))
    if args.action in ("add", "import"):
        try:
            name, uploader = store.add(read_uploader(args.file))
        except OSError as exc:
            raise UsageError(f"{args.file}: {exc.strerror or exc}") from exc
        except (SxcuError, PicdropError) as exc:
            raise UsageError(f"{args.file}: {exc}") from exc
        said = f"added {name}: {uploader.request_method} {uploader.request_url} ({uploader.body})"
        print(printable(said))
        return EXIT_OK
    if args.action == "default":
        from desktop.commands.upload import load_config, save_config

        config = load_config()
        try:
            config.destination = "" if args.name == "server" else store.resolve(args.name)
        except UnknownDestination as exc:
            raise UsageError(str(exc)) from exc
        save_config(config)
        print(printable(f"uploads go to {config.destination or 'the picdrop server'}"))
        return EXIT_OK
    if args.action == "remove":
        try:
            print(printable(f"removed {store.remove(args.name)}"))
        except UnknownDestination as exc:
            raise UsageError(str(exc)) from exc
        return EXIT_OK
    for name, what in store.describe().items():
        print(f"{printable(name)}\t{printable(what)}")
    if not store.names():
        print("no destinations yet: picdrop destination add FILE.sxcu", file=sys.stderr)
    return EXIT_OK
