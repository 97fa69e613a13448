"""`picdrop destination add FILE | list | remove NAME`: the imported ShareX custom uploaders."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from PIL import Image

from desktop.commands.status import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, UsageError
from desktop.core.api import (
    GuardedSession,
    PicdropError,
    ServerUnreachable,
    exchange,
    status_sentence,
)
from desktop.core.custom_uploader import CustomUploaderClient
from desktop.core.destinations import DestinationStore, UnknownDestination
from desktop.core.paths import destinations_dir, user_data_dir
from desktop.core.printable import printable
from desktop.core.sxcu import SxcuError
from desktop.core.uploader import describe_error


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
    if args.action == "test":
        return try_destination(store, args.name)
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


def try_destination(store: DestinationStore, name: str) -> int:
    """Upload a small generated image, as ShareX's "Test" does; the link (and delete link)."""
    try:
        stored = store.resolve(name)
        uploader = store.get(stored)
    except (UnknownDestination, SxcuError) as exc:
        raise UsageError(str(exc)) from exc
    client = CustomUploaderClient(uploader)
    try:
        result = client.upload(sample_image(), "picdrop-test.png", "image/png")
    except PicdropError as exc:
        print(
            printable(f"picdrop destination: {stored} failed: {describe_error(exc)}"),
            file=sys.stderr,
        )
        return EXIT_UNREACHABLE if isinstance(exc, ServerUnreachable) else EXIT_FAILED
    finally:
        client.close()
    print(printable(result.url))
    if result.delete_url:
        print(printable(f"picdrop destination: delete it at {result.delete_url}"), file=sys.stderr)
    return EXIT_OK


def sample_image() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (46, 125, 230)).save(out, "PNG")
    return out.getvalue()
