"""The Settings dialog: edits an AppConfig; "Test connection" asks the app to check a server."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.core.config import (
    SERVER_ENV,
    AfterCapture,
    AppConfig,
    expiry_choices,
    server_url_problem,
)
from desktop.core.links import PLACEHOLDERS, LinkFormat, unknown_placeholders
from desktop.core.printable import printable
from desktop.ui import theme
from desktop.ui.geometry import fit_to_screen
from desktop.ui.hotkey_settings import HotkeySettings


class SettingsDialog(QDialog):
    test_requested = Signal(str)  # server URL ("" = the built-in local server)
    import_requested = Signal()  # choose .sxcu files to import
    remove_requested = Signal(str)  # an imported custom uploader to forget

    def __init__(
        self,
        config: AppConfig,
        env_server: str = "",
        parent: QWidget | None = None,
        destinations: dict[str, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")  # Qt adds " — picdrop"
        self.setMinimumWidth(520)
        self._config = config

        self.server = QLineEdit(config.server_url)
        self.server.setPlaceholderText("Empty: the built-in local server")
        self.server.setAccessibleName("Server URL")
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(lambda: self.test_requested.emit(self.server.text()))
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        self.test_result.setTextFormat(Qt.TextFormat.PlainText)  # a server's words, never HTML
        self.test_result.hide()
        server_row = QHBoxLayout()
        server_row.addWidget(self.server, 1)
        server_row.addWidget(self.test_button)

        self.destination = QComboBox()
        self.destination.setAccessibleName("Upload to")
        self.destination_detail = QLabel()
        self.destination_detail.setObjectName("Muted")
        self.destination_detail.setTextFormat(Qt.TextFormat.PlainText)  # a file's words
        self.destination_detail.setWordWrap(True)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Forget this custom uploader")
        self.remove_button.clicked.connect(
            lambda: self.remove_requested.emit(self.destination.currentData())
        )
        self._described: dict[str, str] = {}
        self.destination.currentIndexChanged.connect(self._sync_destination)
        self.set_destinations(destinations or {}, config.destination)
        self.import_button = QPushButton("Import .sxcu…")
        self.import_button.setToolTip("Add a ShareX custom uploader (or drop one on the window)")
        self.import_button.clicked.connect(self.import_requested)
        destination_row = QHBoxLayout()
        destination_row.addWidget(self.destination, 1)
        destination_row.addWidget(self.remove_button)
        destination_row.addWidget(self.import_button)
        self.destination_note = QLabel(
            "Metadata is removed on this computer before any upload, whatever the destination."
        )
        self.destination_note.setObjectName("Muted")
        self.destination_note.setWordWrap(True)

        self.link_format = QComboBox()
        for fmt in LinkFormat:
            self.link_format.addItem(fmt.label, fmt.value)
        self.link_format.setCurrentIndex(self.link_format.findData(config.link_format.value))
        self._custom_template = config.link_template
        self.template = QLineEdit(config.link_template)
        self.template.setAccessibleName("Link template")
        self.placeholders = QLabel("Placeholders: " + " ".join(f"{{{p}}}" for p in PLACEHOLDERS))
        self.placeholders.setObjectName("Muted")
        self.placeholders.setWordWrap(True)
        self.placeholders.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.template_warning = QLabel()
        self.template_warning.setObjectName("Muted")
        self.link_format.currentIndexChanged.connect(self._sync_template)
        self.template.textEdited.connect(self._on_template_edited)

        self.expiry = QComboBox()
        self.expiry.setAccessibleName("New uploads expire")
        for name, label in expiry_choices():
            self.expiry.addItem(label, name)
        self.expiry.setCurrentIndex(max(0, self.expiry.findData(config.default_expiry)))

        self.parallel = QSpinBox()
        self.parallel.setRange(1, 10)
        self.parallel.setValue(config.parallel_uploads)
        self.auto_copy = QCheckBox("Copy the link when an upload finishes")
        self.auto_copy.setChecked(config.auto_copy)
        self.auto_album = QCheckBox("Make an album of each batch automatically")
        self.auto_album.setToolTip(
            "After two or more uploads to a picdrop server: one link for them all, copied"
        )
        self.auto_album.setChecked(config.auto_album)
        self.strip = QCheckBox("Remove metadata (location, camera…) before uploading")
        self.strip.setChecked(config.strip_metadata)
        self.open_after = QCheckBox("Open the link in the browser after uploading")
        self.open_after.setChecked(config.open_after_upload)
        self.share_lan = QCheckBox("Share on my local network (built-in server only)")
        self.share_lan.setChecked(config.share_on_lan)
        self.start_minimized = QCheckBox("Start minimized to the tray (when there is a tray)")
        self.start_minimized.setChecked(config.start_minimized)
        self.start_on_login = QCheckBox("Start picdrop when I log in")
        self.start_on_login.setChecked(config.start_on_login)

        form = QFormLayout()
        form.addRow("Upload to", destination_row)
        form.addRow("", self.destination_detail)
        form.addRow("", self.destination_note)
        form.addRow("Server", server_row)
        form.addRow("", self.test_result)
        if env_server:
            note = QLabel(f"{SERVER_ENV} is set: uploads go to {env_server}")
            note.setObjectName("Muted")
            form.addRow("", note)
        form.addRow("Link format", self.link_format)
        form.addRow("Template", self.template)
        form.addRow("", self.placeholders)
        form.addRow("", self.template_warning)
        form.addRow("Links expire", self.expiry)
        form.addRow("Parallel uploads", self.parallel)
        form.addRow("", self.auto_copy)
        form.addRow("", self.auto_album)
        form.addRow("", self.strip)
        form.addRow("", self.open_after)
        form.addRow("", self.share_lan)
        form.addRow("", self.start_minimized)
        form.addRow("", self.start_on_login)
        form.addRow("After capture", self._after_capture_choice(config))

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.hotkeys = HotkeySettings(config)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.hotkeys)
        layout.addWidget(buttons)
        # Return saves, wherever the focus is; no other button takes it over.
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(button is self.save_button)
        self.save_button.setDefault(True)
        self.server.textChanged.connect(self._check_server)
        self._sync_template()
        self._check_server()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        fit_to_screen(self)

    def _check_server(self) -> None:
        """Checked as it is typed: a server address that is not one cannot be tested or saved."""
        problem = server_url_problem(self.server.text())
        self.save_button.setEnabled(not problem)
        self.test_button.setEnabled(not problem)
        self.server.setAccessibleDescription(problem)
        self.show_test_result(False, problem)

    def accept(self) -> None:
        if not server_url_problem(self.server.text()):
            super().accept()

    def set_destinations(self, described: dict[str, str], current: str | None = None) -> None:
        """The picdrop server first, then the imported custom uploaders (name: what it sends)."""
        current = self.destination.currentData() if current is None else current
        self._described = dict(described)
        self.destination.blockSignals(True)
        self.destination.clear()
        self.destination.addItem("picdrop server (below)", "")
        for name in described:
            self.destination.addItem(f"{name} (ShareX custom uploader)", name)
        self.destination.setCurrentIndex(max(0, self.destination.findData(current)))
        self.destination.blockSignals(False)
        self._sync_destination()

    def _sync_destination(self) -> None:
        name = self.destination.currentData() or ""
        self.remove_button.setEnabled(bool(name))
        self.destination_detail.setText(f"Sends: {self._described[name]}" if name else "")
        self.destination_detail.setVisible(bool(name))

    def _on_template_edited(self, text: str) -> None:
        self._custom_template = text
        self._sync_template()

    def _sync_template(self) -> None:
        """The custom template, editable; for the other formats what they write, greyed."""
        fmt = LinkFormat(self.link_format.currentData())
        is_template = fmt is LinkFormat.TEMPLATE
        self.template.setEnabled(is_template)
        shown = self._custom_template if is_template else fmt.template
        if self.template.text() != shown:
            self.template.setText(shown)
        self.placeholders.setVisible(is_template)
        unknown = unknown_placeholders(self.template.text()) if is_template else []
        self.template_warning.setText(
            "Unknown placeholders stay as they are: " + ", ".join(f"{{{u}}}" for u in unknown)
            if unknown
            else ""
        )
        self.template_warning.setVisible(bool(unknown))

    def show_test_result(self, ok: bool, message: str) -> None:
        colors = theme.Colors(self.palette())
        self.test_result.setStyleSheet(
            f"color: {(colors.success if ok else colors.danger).name()};"
        )
        self.test_result.setText(printable(message))
        self.test_result.setVisible(bool(message))
        # A longer sentence needs more lines: grow the dialog rather than clip them.
        self.layout().activate()
        self.resize(self.width(), max(self.height(), self.sizeHint().height()))

    def _after_capture_choice(self, config: AppConfig) -> QComboBox:
        self.after_capture = QComboBox()
        self.after_capture.setAccessibleName("After capture")
        for choice, label in (
            (AfterCapture.EDITOR, "Open the editor"),
            (AfterCapture.UPLOAD, "Upload at once"),
            (AfterCapture.COPY, "Copy the image only"),
        ):
            self.after_capture.addItem(label, choice.value)
        self.after_capture.setCurrentIndex(
            self.after_capture.findData(AfterCapture.parse(config.after_capture).value)
        )
        return self.after_capture

    def config(self) -> AppConfig:
        return replace(
            self._config,
            server_url=self.server.text().strip().rstrip("/"),
            destination=self.destination.currentData() or "",
            link_format=LinkFormat(self.link_format.currentData()),
            link_template=self._custom_template,
            default_expiry=self.expiry.currentData() or "",
            parallel_uploads=self.parallel.value(),
            auto_copy=self.auto_copy.isChecked(),
            auto_album=self.auto_album.isChecked(),
            strip_metadata=self.strip.isChecked(),
            open_after_upload=self.open_after.isChecked(),
            share_on_lan=self.share_lan.isChecked(),
            start_minimized=self.start_minimized.isChecked(),
            start_on_login=self.start_on_login.isChecked(),
            **{f"hotkey_{action}": text for action, text in self.hotkeys.texts().items()},
            after_capture=self.after_capture.currentData(),
        )
