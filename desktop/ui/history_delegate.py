"""How one history item is painted, as a list row or a grid tile: thumbnail, name, a state badge
like the Uploads tab's, when, which server (and whether it answers), the link or the error,
elided with an ellipsis where it does not fit. Painting only: no widget per row."""

from __future__ import annotations

from urllib.parse import urlsplit

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPixmap
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from desktop.core.destinations import SXCU_PREFIX
from desktop.core.history import HistoryItem
from desktop.core.jobs import JobState
from desktop.core.printable import printable
from desktop.core.units import human_age as when
from desktop.ui import theme
from desktop.ui.history_model import ItemRole, ReachableRole

ROW_HEIGHT = 60
ROW_THUMB = 44
TILE = QSize(156, 196)
TILE_THUMB = 132
PAD = 8


def badge(item: HistoryItem) -> tuple[str, str]:
    """The state badge's text and tone (a `theme.Colors` attribute), as on the Uploads tab."""
    tone = {
        JobState.DONE: "success",
        JobState.FAILED: "danger",
        JobState.UPLOADING: "accent",
    }.get(item.state, "muted")
    return item.state.label, tone


def server_label(server: str) -> str:
    """Where an upload lives, in a few words."""
    if server.startswith(SXCU_PREFIX):
        return f"{server[len(SXCU_PREFIX) :]} (custom uploader)"
    parts = urlsplit(server)
    if parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return "this computer (built-in server)"
    return parts.netloc or server


def server_text(item: HistoryItem, reachable: bool | None) -> str:
    label = server_label(item.server)
    if reachable is False:
        return f"{label}, not reachable"
    return label


def detail(item: HistoryItem) -> str:
    """The link, or what went wrong: one line of plain text."""
    return printable(item.error or item.url or "")


class HistoryDelegate(QStyledItemDelegate):
    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        if self._grid(option):
            return TILE
        return QSize(0, ROW_HEIGHT)  # as wide as the view

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        item: HistoryItem | None = index.data(ItemRole)
        if item is None:
            return
        colors = theme.Colors(option.palette)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        card = QRectF(option.rect).adjusted(1, 2, -1, -2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(colors.accent if selected else colors.border)
        painter.setBrush(colors.subtle if selected else colors.card)
        painter.drawRoundedRect(card, 8, 8)
        thumbnail = index.data(Qt.ItemDataRole.DecorationRole)
        reachable = index.data(ReachableRole)
        if self._grid(option):
            self._paint_tile(painter, option, item, thumbnail, reachable, colors)
        else:
            self._paint_row(painter, option, item, thumbnail, reachable, colors)
        painter.restore()

    @staticmethod
    def _grid(option: QStyleOptionViewItem) -> bool:
        view = option.widget
        return isinstance(view, QListView) and view.viewMode() is QListView.ViewMode.IconMode

    def row_layout(
        self, option: QStyleOptionViewItem, item: HistoryItem, reachable: bool | None
    ) -> list[tuple[QRect, QFont, str]]:
        """A list row's two lines of text: where each goes, its font, the text as shown."""
        rect = option.rect
        left = rect.left() + PAD + 2 + ROW_THUMB + PAD + 4
        right = rect.right() - PAD - 2
        bold = QFont(option.font)
        bold.setWeight(QFont.Weight.DemiBold)
        line = QFontMetrics(option.font).height()
        pill = _badge_rect(option.font, badge(item)[0], right, rect.top() + 8)
        top = QRect(left, rect.top() + 8, pill.left() - left - PAD, line + 2)
        meta = "  ·  ".join(
            p for p in (when(item.created_at), server_text(item, reachable), detail(item)) if p
        )
        bottom = QRect(left, top.bottom() + 4, right - left, line + 2)
        return [(top, bold, elide(item.name, bold, top.width())),
                (bottom, option.font, elide(meta, option.font, bottom.width()))]  # fmt: skip

    def _paint_row(self, painter, option, item, thumbnail, reachable, colors) -> None:
        rect = option.rect
        thumb = QRect(rect.left() + PAD + 2, rect.top() + (rect.height() - ROW_THUMB) // 2,
                      ROW_THUMB, ROW_THUMB)  # fmt: skip
        _paint_thumbnail(painter, thumb, thumbnail, colors)
        label, tone = badge(item)
        _paint_badge(painter, option.font, label, getattr(colors, tone), rect.right() - PAD - 2,
                     rect.top() + 8)  # fmt: skip
        meta_color = colors.danger if item.state is JobState.FAILED else colors.muted
        (name_rect, bold, name), (meta_rect, font, meta) = self.row_layout(option, item, reachable)
        _paint_text(painter, bold, colors.text, name_rect, name)
        _paint_text(painter, font, meta_color, meta_rect, meta)

    def _paint_tile(self, painter, option, item, thumbnail, reachable, colors) -> None:
        rect = option.rect
        thumb = QRect(rect.left() + (rect.width() - TILE_THUMB) // 2, rect.top() + PAD,
                      TILE_THUMB, TILE_THUMB)  # fmt: skip
        _paint_thumbnail(painter, thumb, thumbnail, colors)
        label, tone = badge(item)
        _paint_badge(painter, option.font, label, getattr(colors, tone), thumb.right() - 4,
                     thumb.top() + 4, solid=True)  # fmt: skip
        line = QFontMetrics(option.font).height()
        name = QRect(rect.left() + PAD, thumb.bottom() + 6, rect.width() - 2 * PAD, line + 2)
        bold = QFont(option.font)
        bold.setWeight(QFont.Weight.DemiBold)
        _paint_text(painter, bold, colors.text, name, item.name)
        meta = QRect(name.left(), name.bottom() + 2, name.width(), line + 2)
        # A tile has room for one short line: an unreachable server comes first.
        text = (
            "Server not reachable"
            if reachable is False
            else f"{when(item.created_at)} · {server_text(item, reachable)}"
        )
        meta_color = colors.danger if reachable is False else colors.muted
        _paint_text(painter, option.font, meta_color, meta, text)


def _paint_thumbnail(
    painter: QPainter, rect: QRect, pixmap: QPixmap | None, colors: theme.Colors
) -> None:
    path = QPainterPath()
    path.addRoundedRect(QRectF(rect), 6, 6)
    painter.save()
    painter.setClipPath(path)
    if pixmap is None or pixmap.isNull():
        painter.fillRect(rect, colors.subtle)
        side = rect.width() // 2
        icon = theme.icon("image", colors.muted).pixmap(QSize(side, side))
        painter.drawPixmap(rect.center().x() - side // 2, rect.center().y() - side // 2, icon)
    else:
        scaled = pixmap.scaled(
            rect.size() * painter.device().devicePixelRatioF(),
            Qt.AspectRatioMode.KeepAspectRatioByExpanding,
            Qt.TransformationMode.SmoothTransformation,
        )
        scaled.setDevicePixelRatio(painter.device().devicePixelRatioF())
        size = scaled.deviceIndependentSize()
        x = rect.left() + (rect.width() - size.width()) / 2
        y = rect.top() + (rect.height() - size.height()) / 2
        painter.drawPixmap(round(x), round(y), scaled)
    painter.restore()
    painter.setPen(colors.border)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPath(path)


def _paint_badge(
    painter: QPainter, font: QFont, label: str, color: QColor, right: int, top: int,
    solid: bool = False,
) -> QRect:  # fmt: skip
    """A pill with `label`, its right edge at `right`; returns where it went."""
    small = _badge_font(font)
    rect = _badge_rect(font, label, right, top)
    fill = QColor(color)
    if not solid:
        fill.setAlphaF(0.13)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(fill)
    painter.drawRoundedRect(QRectF(rect), rect.height() / 2, rect.height() / 2)
    painter.setFont(small)
    painter.setPen(QColor("white") if solid else color)
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)
    return rect


def _badge_font(font: QFont) -> QFont:
    small = QFont(font)
    small.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
    small.setWeight(QFont.Weight.DemiBold)
    return small


def _badge_rect(font: QFont, label: str, right: int, top: int) -> QRect:
    metrics = QFontMetrics(_badge_font(font))
    width = metrics.horizontalAdvance(label) + 16
    return QRect(right - width, top, width, metrics.height() + 2)


def elide(text: str, font: QFont, width: int) -> str:
    """`text` cut to `width` with an ellipsis ("…") when it does not fit."""
    return QFontMetrics(font).elidedText(text, Qt.TextElideMode.ElideRight, max(0, width))


def _paint_text(painter: QPainter, font: QFont, color: QColor, rect: QRect, text: str) -> None:
    """One line, cut with an ellipsis when it does not fit."""
    painter.setFont(font)
    painter.setPen(color)
    painter.drawText(
        rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
        elide(text, font, rect.width()),
    )  # fmt: skip
