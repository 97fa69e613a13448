"""`picdrop delete ID`: delete an upload from its server with the delete token in the history."""

from __future__ import annotations

import argparse
import sys

from desktop.commands.status import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, UsageError
from desktop.core.albums import delete_album
from desktop.core.api import PicdropClient, PicdropError, ServerUnreachable
from desktop.core.history import HistoryStore
from desktop.core.jobs import JobState
from desktop.core.paths import history_path, user_data_dir
from desktop.core.printable import printable
from desktop.core.server_actions import delete_upload
from desktop.core.uploader import describe_error


def run_delete(args: argparse.Namespace) -> int:
    store = HistoryStore(history_path(args.data_dir or user_data_dir()))
    try:
        item = store.find(args.id)
        if item is None or not item.image_id:
            raise UsageError(f"no upload {args.id!r} in the history (picdrop history lists them)")
        if item.state is JobState.DELETED:
            said = f"picdrop delete: {item.image_id} was already deleted"
            print(printable(said), file=sys.stderr)
            return EXIT_OK
        if not item.delete_token:
            raise UsageError(f"the history has no delete token for {item.image_id}")
        client = PicdropClient(item.server)
        delete = delete_album if item.is_album else delete_upload  # an album's images stay
        try:
            delete(client, item.image_id, item.delete_token)
        except PicdropError as exc:
            print(f"picdrop delete: {describe_error(exc)}", file=sys.stderr)
            return EXIT_UNREACHABLE if isinstance(exc, ServerUnreachable) else EXIT_FAILED
        finally:
            client.close()
        store.set_state(item.key, JobState.DELETED)
        print(printable(f"picdrop delete: deleted {item.image_id} ({item.name})"), file=sys.stderr)
        return EXIT_OK
    finally:
        store.close()
