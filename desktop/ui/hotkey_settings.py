"""Settings' "Global hotkeys" section: one field per action in the text form ("Ctrl+Shift+4"),
checked as it is typed, and what the system said about each key (taken by another program, not
offered by the desktop) next to it."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from desktop.core.config import AppConfig, hotkey_texts
from desktop.core.hotkeys import Action, parse_bindings
from desktop.core.printable import printable
from desktop.ui import theme


class HotkeySettings(QGroupBox):
    def __init__(self, config: AppConfig, parent: QWidget | None = None) -> None:
        super().__init__("Global hotkeys", parent)
        self.fields: dict[Action, QLineEdit] = {}
        self.messages: dict[Action, QLabel] = {}
        self._reported: dict[Action, str] = {}  # the running app's word on each key
        form = QFormLayout()
        for action, text in hotkey_texts(config).items():
            field = QLineEdit(text)
            field.setPlaceholderText("None")
            field.setAccessibleName(f"Hotkey: {action.label}")
            field.setToolTip("For example Ctrl+Shift+4 or Alt+F9; empty: no hotkey")
            field.textChanged.connect(self._check)
            message = QLabel()
            message.setWordWrap(True)
            message.setTextFormat(Qt.TextFormat.PlainText)
            message.hide()
            form.addRow(action.label, field)
            form.addRow("", message)
            self.fields[action] = field
            self.messages[action] = message
        self.notice = QLabel()  # hotkeys cannot work at all here (no portal...)
        self.notice.setWordWrap(True)
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice.hide()
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.notice)
        self._saved, _problems = parse_bindings(hotkey_texts(config))

    def texts(self) -> dict[Action, str]:
        return {action: field.text().strip() for action, field in self.fields.items()}

    def show_problems(self, problems: Mapping[Action, str], notice: str) -> None:
        """What the running app found binding the saved keys."""
        self._reported = dict(problems)
        self.notice.setText(printable(notice))
        self.notice.setVisible(bool(notice))
        self._check()

    def _check(self) -> None:
        danger = f"color: {theme.Colors(self.palette()).danger.name()};"
        bound, problems = parse_bindings(self.texts())
        for action, label in self.messages.items():
            # The app's report is about the saved key: shown while the field still holds it.
            unchanged = bound.get(action) == self._saved.get(action)
            text = problems.get(action) or (self._reported.get(action, "") if unchanged else "")
            label.setText(printable(text))
            label.setStyleSheet(danger)
            label.setVisible(bool(text))
