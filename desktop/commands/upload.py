"""`picdrop upload FILE... | -`: upload without a window."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from desktop.commands.album import publish_album
from desktop.commands.clipboard_tools import clipboard_command, copy_with
from desktop.commands.direct import upload_direct
from desktop.commands.inputs import collect_inputs
from desktop.commands.progress import ProgressBar
from desktop.commands.report import Outcome, Reporter, clipboard_text
from desktop.commands.status import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    UsageError,
)
from desktop.core.config import SERVER_ENV, AppConfig, server_url_problem
from desktop.core.destinations import SXCU_PREFIX, DestinationStore, UnknownDestination
from desktop.core.history import HistoryStore
from desktop.core.ipc import UnsafeRuntimeDir, instance_address
from desktop.core.paths import destinations_dir, history_path, user_data_dir
from desktop.core.printable import printable

NO_SERVER = (
    "no server to upload to, and picdrop is not running.\n"
    "  Start the picdrop app (its built-in server takes the files), or choose a server:\n"
    f"  --server URL, the {SERVER_ENV} environment variable, or Settings in the app."
)


def load_config() -> AppConfig:
    from desktop.settings import SettingsStore, open_qsettings  # QtCore only

    return SettingsStore(open_qsettings()).load()


def save_config(config: AppConfig) -> None:
    from desktop.settings import SettingsStore, open_qsettings  # QtCore only

    SettingsStore(open_qsettings()).save(config)


def resolve_server(flag: str | None, environ: Mapping[str, str], config: AppConfig) -> str:
    """--server, else PICDROP_SERVER, else the saved setting; "" when none is set."""
    server = (flag or environ.get(SERVER_ENV) or config.server_url or "").strip().rstrip("/")
    problem = server_url_problem(server)
    if problem:
        raise UsageError(f"{server!r}: {problem}")
    return server


def exit_status(outcomes: list[Outcome]) -> int:
    if all(o.ok for o in outcomes):
        return EXIT_OK
    if not any(o.ok for o in outcomes) and any(o.unreachable for o in outcomes):
        return EXIT_UNREACHABLE
    return EXIT_FAILED


def run_upload(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    inputs = collect_inputs(
        args.files, sys.stdin.buffer, sys.stdin.isatty() if "-" in args.files else False
    )
    config = load_config()
    data_dir = args.data_dir or user_data_dir()
    destinations = DestinationStore(destinations_dir(data_dir))
    if args.to and args.server:
        raise UsageError("--to and --server name two destinations: give one")
    # --to, else --server, else the default destination chosen in the app or with
    # `picdrop destination default`, else the server.
    chosen = args.to or ("" if args.server else config.destination)
    if chosen:
        try:
            server = SXCU_PREFIX + destinations.resolve(chosen)
        except UnknownDestination as exc:
            raise UsageError(str(exc)) from exc
    else:
        server = resolve_server(args.server, environ, config)
    if args.album and server.startswith(SXCU_PREFIX):
        raise UsageError("--album needs a picdrop server: a ShareX custom uploader has no albums")
    reporter = Reporter(
        inputs,
        args.format,
        sys.stdout,
        sys.stderr,
        ProgressBar(sys.stderr, len(inputs), enabled=sys.stderr.isatty()),
    )
    copy = not args.no_copy

    via_app = not server
    if via_app:
        from desktop.commands.via_app import upload_via_app
        from desktop.instance_client import ForeignInstance, InstanceClient

        try:
            client = InstanceClient.connect(instance_address(data_dir))
        except (UnsafeRuntimeDir, ForeignInstance) as exc:
            print(printable(f"picdrop upload: {exc}"), file=sys.stderr)
            return EXIT_UNREACHABLE
        if client is None:
            print(f"picdrop upload: {NO_SERVER}", file=sys.stderr)
            return EXIT_UNREACHABLE
        with client:
            server = upload_via_app(
                client, inputs, reporter, expires=args.expires, copy=copy, fmt=args.format
            )
        if not args.album:
            return exit_status(reporter.finish())

    history = HistoryStore(history_path(data_dir))
    try:
        if not via_app:
            upload_direct(
                inputs,
                server,
                history,
                reporter,
                expires=args.expires,
                strip=config.strip_metadata,
                client_factory=destinations.client_factory(),
            )
        album_status, album = EXIT_OK, None
        if args.album:
            album_status, album = publish_album(server, reporter.settled, history, reporter)
    finally:
        history.close()
    outcomes = reporter.finish()
    done = [o for o in outcomes if o.ok]
    # Through the app, the app copied the files' links itself: only an album adds to them.
    if copy and done and (album or not via_app):
        text = clipboard_text(outcomes, args.format) + (f"\n{album.url}" if album else "")
        copy_links(data_dir, text, len(done) + bool(album), environ)
    return exit_status(outcomes) or album_status


def copy_links(data_dir: Path, text: str, count: int, environ: Mapping[str, str]) -> None:
    """Through the running app (which owns the clipboard), else a clipboard program, else say
    plainly that the links were only printed."""
    from desktop.instance_client import copy_via_app

    with contextlib.suppress(UnsafeRuntimeDir):  # no private socket: no app to copy with
        if copy_via_app(instance_address(data_dir), text, count):
            return
    command = clipboard_command(environ)
    if command is not None and copy_with(command, text):
        return
    what = "link was" if count == 1 else "links were"
    print(
        f"picdrop upload: the {what} printed, not copied to the clipboard: picdrop is not "
        "running to keep it (a clipboard dies with the program that set it), and no clipboard "
        "tool (xclip, xsel, wl-copy) was found.",
        file=sys.stderr,
    )
