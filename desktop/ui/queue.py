"""The upload queue: one row per file with thumbnail, name, size, progress, speed, state and
actions. Rows show a Job; the window feeds them from the upload service's signals."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.jobs import Job, JobState
from desktop.core.printable import printable
from desktop.core.units import human_duration, human_size
from desktop.ui import theme
from desktop.ui.editor import EDIT_LABEL
from desktop.ui.elided_label import ElidedLabel

THUMB = 48
ROWS_PER_TURN = 2


def thumbnail_pixmap(data: bytes | None, side: int, ratio: float) -> QPixmap:
    """A square, centre-cropped thumbnail with rounded corners and a hairline border (so white
    images still read on a white card), or the generic image icon."""
    source = QPixmap()
    if not (data and source.loadFromData(data)):
        colors = theme.Colors()
        return theme.icon("image", colors.muted).pixmap(QSize(side, side) * 0.6)
    target = round(side * ratio)
    source = source.scaled(
        target,
        target,
        Qt.AspectRatioMode.KeepAspectRatioByExpanding,
        Qt.TransformationMode.SmoothTransformation,
    )
    x, y = (source.width() - target) // 2, (source.height() - target) // 2
    out = QPixmap(target, target)
    out.fill(Qt.GlobalColor.transparent)
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    path = QPainterPath()
    rect = QRectF(0.5, 0.5, target - 1, target - 1)
    path.addRoundedRect(rect, 6 * ratio, 6 * ratio)
    painter.setClipPath(path)
    painter.drawPixmap(0, 0, source, x, y, target, target)
    painter.setClipping(False)
    border = QColor(theme.Colors().text)
    border.setAlphaF(0.15)
    painter.setPen(QPen(border, ratio))
    painter.drawPath(path)
    painter.end()
    out.setDevicePixelRatio(ratio)
    return out


def action_button(icon_name: str, tooltip: str) -> QToolButton:
    button = QToolButton()
    button.setIcon(theme.icon(icon_name))
    button.setIconSize(QSize(18, 18))
    button.setToolTip(tooltip)
    button.setAccessibleName(tooltip)
    button.setAutoRaise(True)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    return button


class UploadRow(QFrame):
    cancel_clicked = Signal(str)
    retry_clicked = Signal(str)
    copy_clicked = Signal(str)
    open_clicked = Signal(str)
    copy_image_clicked = Signal(str)
    save_as_clicked = Signal(str)
    qr_clicked = Signal(str)
    edit_clicked = Signal(str)  # open the image in the markup editor, for a new upload

    def __init__(self, job: Job, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = job.key
        self.setObjectName("UploadRow")
        self.setFrameShape(QFrame.Shape.NoFrame)

        self.thumb = QLabel()
        self.thumb.setFixedSize(THUMB, THUMB)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setObjectName("Thumb")
        self._thumb_data: bytes | None = b"unset"

        self.name = ElidedLabel()
        self.name.setObjectName("RowName")
        self.badge = QLabel()
        self.badge.setObjectName("Badge")
        self.meta = QLabel()
        self.meta.setObjectName("Muted")
        # A long "Removed: ..." list wraps instead of widening the row past the window.
        self.meta.setWordWrap(True)
        self.detail = QLabel()
        self.detail.setObjectName("Detail")
        self.detail.setWordWrap(True)
        # Server text (errors, links): shown as text, never interpreted as HTML.
        self.detail.setTextFormat(Qt.TextFormat.PlainText)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(6)
        self.progress.setAccessibleName("Upload progress")

        self.cancel_button = action_button("cancel", "Cancel upload")
        self.retry_button = action_button("retry", "Retry upload")
        self.copy_button = action_button("copy", "Copy link")
        self.open_button = action_button("open", "Open in browser")
        self.more_button = action_button("more", "More: copy image, save as, annotate, QR code")
        more = QMenu(self.more_button)
        more.addAction("Copy image", lambda: self.copy_image_clicked.emit(self.key))
        more.addAction("Save as…", lambda: self.save_as_clicked.emit(self.key))
        more.addAction(EDIT_LABEL, lambda: self.edit_clicked.emit(self.key))
        self.qr_action = more.addAction(
            "QR code of the link", lambda: self.qr_clicked.emit(self.key)
        )
        self.more_button.setMenu(more)
        self.more_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.cancel_button.clicked.connect(lambda: self.cancel_clicked.emit(self.key))
        self.retry_button.clicked.connect(lambda: self.retry_clicked.emit(self.key))
        self.copy_button.clicked.connect(lambda: self.copy_clicked.emit(self.key))
        self.open_button.clicked.connect(lambda: self.open_clicked.emit(self.key))

        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(self.name, 1)
        top.addWidget(self.badge)
        text = QVBoxLayout()
        text.setSpacing(3)
        text.addLayout(top)
        text.addWidget(self.progress)
        text.addWidget(self.meta)
        text.addWidget(self.detail)
        actions = QHBoxLayout()
        actions.setSpacing(2)
        buttons = (
            self.copy_button, self.open_button, self.more_button, self.retry_button,
            self.cancel_button,
        )  # fmt: skip
        for button in buttons:
            actions.addWidget(button)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 10, 8, 10)
        layout.setSpacing(12)
        layout.addWidget(self.thumb, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(text, 1)
        layout.addLayout(actions)
        self.show_job(job)

    # -- rendering ----------------------------------------------------------------------------
    def show_job(self, job: Job) -> None:
        colors = theme.Colors(self.palette())
        self.name.setText(job.name)
        if job.thumbnail != self._thumb_data:
            self._thumb_data = job.thumbnail
            self.thumb.setPixmap(thumbnail_pixmap(job.thumbnail, THUMB, self.devicePixelRatioF()))

        state = job.state
        badge_color = {
            JobState.DONE: colors.success,
            JobState.FAILED: colors.danger,
            JobState.UPLOADING: colors.link,
        }.get(state, colors.muted)
        label = state.label
        if job.waiting:
            label, badge_color = "Waiting", colors.warning
        elif state is JobState.QUEUED and not job.ready:
            label = "Preparing"
        self.badge.setText(label)
        text_color, background = colors.badge(badge_color)
        _set_style(self.badge, f"color: {text_color.name()}; background: {background.name()};")
        self.badge.setAccessibleName(f"State: {label}")

        total = max(job.size, 1)
        self.progress.setRange(0, 1000)
        sent = job.size if state is JobState.DONE else job.sent
        self.progress.setValue(min(1000, sent * 1000 // total))
        self.progress.setVisible(state in (JobState.QUEUED, JobState.UPLOADING))
        self._show_meta(job)

        if job.error:
            self._set_detail(job.error, colors.danger)
        elif job.status:
            self._set_detail(job.status, colors.warning)
        elif state is JobState.DONE and job.result is not None:
            self._set_detail(job.result.url, colors.link, link=True)
        else:
            self._set_detail("", colors.muted)

        done = state is JobState.DONE
        self.copy_button.setVisible(done)
        self.open_button.setVisible(done)
        # A failed upload's image is still here to copy, save or mark up again (but it has no
        # link for a QR code).
        self.more_button.setVisible(done or state is JobState.FAILED)
        self.qr_action.setEnabled(done)
        self.retry_button.setVisible(job.can_retry or job.waiting)
        retry_text = "Retry now" if job.waiting else "Retry upload"
        self.retry_button.setToolTip(retry_text)
        self.retry_button.setAccessibleName(retry_text)
        self.cancel_button.setVisible(not state.finished)

    def show_progress(self, job: Job) -> None:
        """The cheap path for the frequent progress updates."""
        self.progress.setValue(min(1000, job.sent * 1000 // max(job.size, 1)))
        self._show_meta(job)

    def _show_meta(self, job: Job) -> None:
        parts = []
        if job.state is JobState.UPLOADING and job.size:
            parts.append(f"{human_size(job.sent)} of {human_size(job.size)}")
            # Speed and time left only from bytes really moving (a waiting try sends none).
            if job.speed > 0 and not job.status:
                parts.append(f"{human_size(job.speed)}/s")
                left = (job.size - job.sent) / job.speed
                parts.append(f"{human_duration(left)} left")
        elif job.size:
            parts.append(human_size(job.size))
        if job.converted_from:
            kind = "JPEG" if job.name.lower().endswith(".jpg") else "PNG"
            parts.append(f"Converted from {job.converted_from} to {kind}, without metadata")
        elif job.removed:
            parts.append("Removed: " + ", ".join(job.removed))
        elif job.ready and job.state is not JobState.FAILED:
            parts.append("No metadata found")
        self.meta.setText("  ·  ".join(parts))
        self.meta.setVisible(bool(parts))

    def _set_detail(self, text: str, color, link: bool = False) -> None:
        self.detail.setVisible(bool(text))
        self.detail.setText(printable(text))
        _set_style(self.detail, f"color: {color.name()};")


def _set_style(widget: QWidget, sheet: str) -> None:
    """A style sheet, set only when it changes: setting one re-polishes the widget, which is
    slow enough to stall the window when a batch updates many rows at once."""
    if getattr(widget, "_picdrop_sheet", None) != sheet:
        widget._picdrop_sheet = sheet
        widget.setStyleSheet(sheet)


class QueueView(QScrollArea):
    """A scrolling list of UploadRows, newest on top and scrolled into view, with an
    empty-state message."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("QueueView")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._rows: dict[str, UploadRow] = {}
        # Rows of a big batch are built a few per turn of the event loop (each takes a few ms),
        # so dropping many files at once never freezes the window while they appear.
        self._pending: dict[str, Callable[[], UploadRow]] = {}
        self._builder = QTimer(self, interval=0)
        self._builder.timeout.connect(self._build_some)
        body = QWidget()
        body.setObjectName("QueueBody")
        self._layout = QVBoxLayout(body)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(8)
        self.empty = QLabel(
            "Uploads you start appear here.", alignment=Qt.AlignmentFlag.AlignCenter
        )
        self.empty.setObjectName("Muted")
        self._layout.addWidget(self.empty)
        self._layout.addStretch()
        self.setWidget(body)

    def rows(self) -> dict[str, UploadRow]:
        self._build_all()
        return dict(self._rows)

    def row(self, key: str) -> UploadRow:
        if key in self._pending:
            self._build_all()
        return self._rows[key]

    def has_row(self, key: str) -> bool:
        """Whether the row is built (a pending one shows the job as it is once built)."""
        return key in self._rows

    def add_later(self, key: str, build: Callable[[], UploadRow]) -> None:
        self._pending[key] = build
        self.empty.hide()
        if not self._builder.isActive():
            self._builder.start()

    def _build_some(self) -> None:
        for _ in range(ROWS_PER_TURN):
            if not self._pending:
                break
            key = next(iter(self._pending))
            self.add(self._pending.pop(key)())
        if not self._pending:
            self._builder.stop()

    def _build_all(self) -> None:
        while self._pending:
            self._build_some()

    def add(self, row: UploadRow) -> None:
        self._rows[row.key] = row
        self._layout.insertWidget(1, row)  # below the (hidden) empty-state label
        self.empty.hide()
        self.verticalScrollBar().setValue(0)  # a new upload is never added out of view

    def remove(self, key: str) -> None:
        self._pending.pop(key, None)
        row = self._rows.pop(key, None)
        if row is not None:
            self._layout.removeWidget(row)
            row.hide()
            row.deleteLater()
        self.empty.setVisible(not self._rows and not self._pending)
