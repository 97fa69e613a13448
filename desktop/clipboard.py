"""Putting links on the clipboard as uploads finish, in the user's chosen format.

One clipboard write per batch, when it ends: its links, one per line (a single file's link as soon
as it is done, as it is a batch of one). Single links are copied on demand from the rows.
The running app keeps owning the clipboard (on X11 the text dies with its owner).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QClipboard

from desktop.core.config import AppConfig
from desktop.core.links import LinkFormat, LinkInfo, format_link, format_links
from desktop.service import UploadService


class LinkCopier(QObject):
    copied = Signal(str, int)  # text, number of links

    def __init__(
        self,
        service: UploadService,
        clipboard: QClipboard,
        config: Callable[[], AppConfig],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.clipboard = clipboard
        self.config = config
        # Batches whose links someone else copies (the `picdrop upload` command, in its format).
        self._held: set[str] = set()
        service.batch_finished.connect(self._on_batch_finished)

    def hold_batch(self, batch: str) -> None:
        """Do not auto-copy this batch's links: whoever queued it copies them itself."""
        self._held.add(batch)

    def holds(self, batch: str) -> bool:
        """Whether someone else (the `picdrop upload` command) takes care of this batch's links."""
        return batch in self._held

    def copies_job(self, key: str) -> bool:
        """Whether a finished job's link goes on the clipboard automatically."""
        return self.config().auto_copy and self.service.job(key).batch not in self._held

    def copy_text(self, text: str, count: int = 1) -> None:
        if text:
            self.clipboard.setText(text)
            self.copied.emit(text, count)

    def copy_infos(self, infos: list[LinkInfo], fmt: LinkFormat | None = None) -> str:
        config = self.config()
        text = format_links(infos, fmt or config.link_format, config.link_template)
        self.copy_text(text, len(infos))
        return text

    def copy_job(self, key: str, fmt: LinkFormat | None = None) -> str:
        info = self.service.link_info(key)
        return self.copy_infos([info], fmt) if info else ""

    def format(self, info: LinkInfo) -> str:
        config = self.config()
        return format_link(info, config.link_format, config.link_template)

    @Slot(str)
    def _on_batch_finished(self, batch: str) -> None:
        # A held batch stays held: the tray, told after us, asks whether it was copied.
        infos = self.service.batch_links(batch)
        if batch not in self._held and self.config().auto_copy and infos:
            self.copy_infos(infos)
