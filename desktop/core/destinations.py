"""Where uploads can go: the picdrop server (a URL) or an imported ShareX custom uploader.

A destination travels through the pipeline and the history as one string: the server's URL, or
`sxcu:NAME` for the uploader kept as NAME.sxcu in the destinations folder. Those files may hold
API keys (in Headers, Arguments or Parameters), so the folder is 0700 and each file 0600.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

from desktop.core.api import PicdropClient
from desktop.core.custom_uploader import CustomUploaderClient
from desktop.core.sxcu import CustomUploader, SxcuError, parse_sxcu

SXCU_PREFIX = "sxcu:"


class UnknownDestination(LookupError):
    pass


def slug(name: str) -> str:
    """A file-safe name: letters, digits, '.', '-' and '_'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "uploader"


class DestinationStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.sxcu"))

    def describe(self) -> dict[str, str]:
        """Each stored uploader and what it sends ("PUT https://host/up (Binary)")."""
        described = {}
        for name in self.names():
            try:
                uploader = self.get(name)
            except (OSError, SxcuError) as exc:
                described[name] = f"unusable: {exc}"
                continue
            where = f"{uploader.request_method} {uploader.request_url}"
            described[name] = f"{where} ({uploader.body})"
        return described

    def get(self, name: str) -> CustomUploader:
        path = self._path(self.resolve(name))
        return parse_sxcu(path.read_bytes())

    def resolve(self, name: str) -> str:
        """The stored name for `name` (a stored name, or an uploader's Name, any case)."""
        for stored in self.names():
            if stored.lower() == name.lower() or slug(name).lower() == stored.lower():
                return stored
        raise UnknownDestination(f"no destination {name!r} (picdrop destination list shows them)")

    def add(self, text: str | bytes) -> tuple[str, CustomUploader]:
        """Import a `.sxcu`; SxcuError when it cannot be used. Same name: replaced."""
        uploader = parse_sxcu(text)
        name = slug(uploader.name)
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        path = self._path(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(uploader.to_json(), out, indent=2, ensure_ascii=False)
        os.chmod(path, 0o600)  # also when it existed with wider permissions
        return name, uploader

    def remove(self, name: str) -> str:
        stored = self.resolve(name)
        self._path(stored).unlink()
        return stored

    def client_factory(self) -> Callable[[str], PicdropClient | CustomUploaderClient]:
        """Makes the client for a destination string (what the pipeline calls)."""

        def make(destination: str) -> PicdropClient | CustomUploaderClient:
            if destination.startswith(SXCU_PREFIX):
                return CustomUploaderClient(self.get(destination[len(SXCU_PREFIX) :]))
            return PicdropClient(destination)

        return make

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.sxcu"
