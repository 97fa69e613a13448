"""`picdrop history [--json]`: the uploads in the history database, newest first."""

from __future__ import annotations

import argparse
import json
import sys
import time

from desktop.commands.status import EXIT_OK, UsageError
from desktop.core.history import HistoryItem, HistoryStore
from desktop.core.paths import history_path, user_data_dir
from desktop.core.printable import printable

# Everything but the bytes: the thumbnail is a picture and the delete token is in delete_url.
JSON_FIELDS = (
    "id", "name", "state", "url", "page_url", "thumbnail_url", "delete_url", "width", "height",
    "size", "mime", "sha256", "server", "expires", "error", "created_at", "key", "kind",
)  # fmt: skip


def as_json(item: HistoryItem) -> dict:
    data = {f: getattr(item, f, None) for f in JSON_FIELDS if f != "id"}
    data["id"] = item.image_id
    data["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(item.created_at))
    return {f: data[f] for f in JSON_FIELDS}


def as_line(item: HistoryItem) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(item.created_at))
    where = item.url or item.error or ""
    return f"{when}  {item.state:<9}  {item.image_id or '-':<12}  {where}  {item.name}"


def run_history(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    store = HistoryStore(history_path(args.data_dir or user_data_dir()))
    try:
        items = store.items(limit=args.limit)
    finally:
        store.close()
    if not items and not args.json:  # on stderr: a script reading stdout still gets nothing
        print("picdrop history: no uploads yet", file=sys.stderr)
    for item in items:
        line = json.dumps(as_json(item), ensure_ascii=False) if args.json else as_line(item)
        print(printable(line))
    sys.stdout.flush()
    return EXIT_OK
