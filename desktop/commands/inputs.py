"""What `picdrop upload` was given: files, folders (their images) and `-` (standard input)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from desktop.commands.status import UsageError
from desktop.core.intake import expand_paths, extension_for
from desktop.core.prepare import guess_mime


@dataclass(frozen=True)
class Input:
    name: str  # the file name sent to the server
    label: str  # how the user named it (a path as given, or "-")
    path: Path | None = None
    data: bytes | None = None  # read from standard input

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


def collect_inputs(args: Sequence[str], stdin: BinaryIO, stdin_is_tty: bool) -> list[Input]:
    """Every file to upload, in order; raises UsageError before anything is uploaded when one
    of them cannot be (missing, an empty folder, `-` twice or from a terminal)."""
    inputs: list[Input] = []
    used_stdin = False
    for arg in args:
        if arg == "-":
            if used_stdin:
                raise UsageError("- (standard input) can be given only once")
            if stdin_is_tty:
                raise UsageError("- reads an image from standard input, which is a terminal")
            used_stdin = True
            data = stdin.read()
            if not data:
                raise UsageError("standard input was empty")
            name = "stdin" + extension_for(guess_mime("", data))
            inputs.append(Input(name=name, label="-", data=data))
            continue
        path = Path(arg)
        if not path.exists():
            raise UsageError(f"{arg}: no such file or folder")
        found = expand_paths([path])
        if not found:
            raise UsageError(f"{arg}: no images in this folder")
        for p in found:
            label = arg if p == path else str(p)
            inputs.append(Input(name=p.name, label=label, path=p.resolve()))
    return inputs
