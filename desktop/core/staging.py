"""The stage step of an upload, run on a worker: read the source, strip its metadata, record it.

Recorded with its bytes before the first byte is sent: from then on a crash cannot lose it, and a
resumed or retried try sends exactly the same body to the destination.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from desktop.core.convert import NotAnImage
from desktop.core.history import HistoryItem, HistoryStore
from desktop.core.intake import (
    FileSource,
    IntakeError,
    Source,
    UrlSource,
    download_image,
    expand_paths,
)
from desktop.core.prepare import prepare


class StageFailed(Exception):
    """The source cannot be uploaded; the message is shown on its row."""


@dataclass(frozen=True)
class Staged:
    item: HistoryItem  # as recorded: name, size, type and what was stripped filled in
    data: bytes  # the bytes to send, metadata stripped
    converted_from: str = ""  # the original's format, when it was converted here


def folder_images(source: Source) -> list[Path] | None:
    """The images inside a dropped folder, or None when the source is not a folder."""
    if isinstance(source, FileSource) and source.path.is_dir():
        return expand_paths([source.path])
    return None


def read_source(source: Source) -> tuple[str, bytes]:
    """The name and bytes of a file, a downloaded URL or pasted bytes."""
    try:
        if isinstance(source, FileSource):
            return source.path.name, source.path.read_bytes()
        if isinstance(source, UrlSource):
            fetched = download_image(source.url)
            return fetched.name, fetched.data
        return source.name, source.data
    except IntakeError as exc:
        raise StageFailed(str(exc)) from exc
    except OSError as exc:
        raise StageFailed(f"Cannot read this file: {exc.strerror or exc}") from exc


def stage(source: Source, item: HistoryItem, history: HistoryStore, *, strip: bool) -> Staged:
    """Read, strip (when `strip`) and record one upload queued as `item`."""
    name, data = read_source(source)
    # No thumbnail here: it is for the rows only and is made off the upload's critical path.
    try:
        prepared = prepare(name, data, strip=strip, thumbnail=False)
    except NotAnImage as exc:
        raise StageFailed(str(exc)) from exc
    recorded = dataclasses.replace(
        item,
        name=prepared.name,
        size=len(prepared.data),
        mime=prepared.mime,
        removed=prepared.removed,
    )
    history.add_queued(recorded, prepared.data)
    return Staged(recorded, prepared.data, prepared.converted_from)
