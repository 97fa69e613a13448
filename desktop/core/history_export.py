"""History exported to a file the user keeps: CSV for spreadsheets, JSON for programs.

Only what describes an upload leaves: never the delete token or delete link (whoever holds the
file could delete the images), never the thumbnail or the bytes.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterable
from typing import TextIO

from desktop.core.history import HistoryItem

EXPORT_FIELDS = (
    "name", "state", "server", "url", "page_url", "thumbnail_url", "width", "height", "size",
    "mime", "sha256", "expires", "error", "created_at",
)  # fmt: skip
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_record(item: HistoryItem) -> dict[str, object]:
    record = {name: getattr(item, name) for name in EXPORT_FIELDS}
    record["state"] = item.state.value
    record["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(item.created_at))
    return record


def write_json(items: Iterable[HistoryItem], out: TextIO) -> None:
    json.dump([export_record(item) for item in items], out, indent=1, ensure_ascii=False)
    out.write("\n")


def write_csv(items: Iterable[HistoryItem], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    for item in items:
        writer.writerow({k: _cell(v) for k, v in export_record(item).items()})


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value  # shown as text, never evaluated
    return value
