"""`picdrop capture region|window|screen`: the running app captures the screen (its overlay, its
editor when Settings say so) and keeps the link on the clipboard; this command waits for the end
and prints the link. A desktop's own shortcut settings can bind it."""

from __future__ import annotations

import argparse
import sys

from desktop.commands.status import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    UsageError,
)
from desktop.core.ipc import UnsafeRuntimeDir, instance_address
from desktop.core.paths import user_data_dir
from desktop.core.printable import printable
from desktop.instance_client import InstanceGone, connect_to_ours

MAX_DELAY_S = 600
NOT_RUNNING = (
    "picdrop is not running. Start it first: it shows the capture and keeps the link on the "
    "clipboard."
)


def fail(message: str, status: int) -> int:
    print(printable(f"picdrop capture: {message}"), file=sys.stderr)
    return status


def run_capture(args: argparse.Namespace) -> int:
    if not 0 <= args.delay <= MAX_DELAY_S:
        raise UsageError(f"--delay must be between 0 and {MAX_DELAY_S} seconds")
    try:
        client = connect_to_ours(instance_address(args.data_dir or user_data_dir()))
    except UnsafeRuntimeDir:
        client = None
    if client is None:
        return fail(NOT_RUNNING, EXIT_UNREACHABLE)
    mode = "all" if args.mode == "screen" and args.all else args.mode
    request = {"cmd": "capture", "mode": mode, "delay": args.delay, "upload": not args.no_upload}
    with client:
        try:
            client.send(request)
            reply = client.receive(timeout_ms=None)
        except InstanceGone as exc:
            return fail(f"the picdrop app stopped: {exc}", EXIT_UNREACHABLE)
    event = reply.get("event")
    if event == "done":
        print(reply["result"]["url"])
        return EXIT_OK
    if event in ("copied", "saved"):
        return EXIT_OK
    if event == "cancelled":
        return fail("cancelled", EXIT_CANCELLED)
    if reply.get("unreachable"):
        return fail(str(reply.get("error")), EXIT_UNREACHABLE)
    return fail(str(reply.get("error") or "the app refused the request"), EXIT_FAILED)
