"""What `picdrop upload` writes: links (or JSON lines) on standard output, in the order the files
were given and nothing else; errors and the progress bar on standard error. Every line goes out
through `printable`: text from a server never reaches the terminal as control characters."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TextIO

from desktop.commands.inputs import Input
from desktop.commands.progress import ProgressBar
from desktop.core.api import AlbumResult
from desktop.core.links import LinkFormat, LinkInfo, format_link
from desktop.core.printable import printable


@dataclass
class Outcome:
    input: Input
    result: dict[str, Any] | None = None
    error: str = ""
    unreachable: bool = False

    @property
    def ok(self) -> bool:
        return self.result is not None


def render(outcome: Outcome, fmt: str) -> str:
    assert outcome.result is not None
    if fmt == "json":
        return json.dumps({"file": outcome.input.label, **outcome.result}, ensure_ascii=False)
    info = LinkInfo.from_mapping(outcome.result, name=outcome.input.name)
    return format_link(info, LinkFormat(fmt))


def clipboard_text(outcomes: list[Outcome], fmt: str) -> str:
    """What goes on the clipboard: the printed links (URLs when JSON was printed)."""
    fmt = "url" if fmt == "json" else fmt
    return "\n".join(render(o, fmt) for o in outcomes if o.ok)


@dataclass
class Reporter:
    inputs: list[Input]
    fmt: str
    stdout: TextIO
    stderr: TextIO
    progress: ProgressBar
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    _next: int = 0

    def sending(self, index: int, sent: int, total: int) -> None:
        self.progress.update(index, sent, total)

    def waiting(self, index: int, text: str) -> None:
        self.progress.status(printable(text))

    def done(self, index: int, result: dict[str, Any]) -> None:
        self._settle(index, Outcome(self.inputs[index], result=result))

    def failed(self, index: int, error: str, unreachable: bool = False) -> None:
        if index in self.outcomes:
            return
        self._say(self.stderr, f"picdrop upload: {self.inputs[index].label}: {error}")
        self._settle(index, Outcome(self.inputs[index], error=error, unreachable=unreachable))

    def album(self, album: AlbumResult) -> None:
        """The album's line, after every file's: its link (as JSON: with its ID and the token
        that deletes it)."""
        if self.fmt == "json":
            fields = {"album": album.url, "id": album.id, "delete_token": album.delete_token}
            line = json.dumps({**fields, "images": album.images})
        else:
            line = album.url
        self._say(self.stdout, line)

    def note(self, text: str) -> None:
        self._say(self.stderr, f"picdrop upload: {text}")

    def _say(self, stream: TextIO, line: str) -> None:
        self.progress.clear()
        print(printable(line), file=stream)
        stream.flush()
        self.progress.redraw()

    def _settle(self, index: int, outcome: Outcome) -> None:
        if index in self.outcomes:
            return
        self.outcomes[index] = outcome
        self.progress.file_finished(index)
        # Links go out as soon as every earlier file has settled, so the order matches the
        # arguments even when uploads finish out of order.
        while self._next in self.outcomes:
            ready = self.outcomes[self._next]
            if ready.ok:
                self._say(self.stdout, render(ready, self.fmt))
            self._next += 1

    @property
    def settled(self) -> list[Outcome]:
        """The outcomes so far, in the order the files were given."""
        return [self.outcomes[i] for i in sorted(self.outcomes)]

    def finish(self) -> list[Outcome]:
        self.progress.clear()
        return self.settled
