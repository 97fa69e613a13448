"""The Settings dialog, offscreen: server addresses checked as typed (never saved when they are
not one), plain sentences from "Test connection", nothing clipped, Return saves, and the link
template field showing what each format writes."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
from PySide6.QtCore import Qt

from desktop.core.api import PicdropClient
from desktop.core.config import AppConfig
from desktop.core.links import LinkFormat
from desktop.core.server_actions import check_server
from desktop.ui.settings_dialog import SettingsDialog

GOOD = ("", "https://img.example.com", "http://127.0.0.1:8000", "http://[::1]:8000/")
BAD = {
    "not a url": "starts with https://",
    "localhost:8000": "starts with https://",
    "ftp://img.example.com": "starts with https://",
    "http://": "no server name",
    "http://img example.com": "no spaces",
    "http://img.example.com:99999": "port",
    "http://exa_mple.com": "not a valid server name",
    "https://img.example.com/?x=1": "no ?, #",
}


@pytest.fixture
def dialog(qtbot):
    def make(config: AppConfig | None = None) -> SettingsDialog:
        made = SettingsDialog(config or AppConfig())
        qtbot.addWidget(made)
        made.show()
        return made

    return make


@pytest.mark.parametrize(("address", "said"), BAD.items())
def test_a_server_address_that_is_not_one_cannot_be_saved(dialog, address, said) -> None:
    settings = dialog()
    settings.server.setText(address)
    assert not settings.save_button.isEnabled() and not settings.test_button.isEnabled()
    assert said in settings.test_result.text() and settings.test_result.isVisible()
    assert "Failed to parse" not in settings.test_result.text()
    settings.accept()  # Return, or a Save that slipped through
    assert settings.result() != SettingsDialog.DialogCode.Accepted
    # Nor is it tested: the check says what is wrong without asking the network.
    ok, sentence = check_server(PicdropClient(address or "http://x"), address)
    assert not ok and said in sentence


@pytest.mark.parametrize("address", GOOD)
def test_a_server_address_can_be_saved(dialog, address) -> None:
    settings = dialog()
    settings.server.setText(address)
    assert settings.save_button.isEnabled() and not settings.test_result.isVisible()
    settings.accept()
    assert settings.result() == SettingsDialog.DialogCode.Accepted
    assert settings.config().server_url == address.rstrip("/")


class NotPicdrop(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_error(404, "File not found")

    def log_message(self, *args) -> None:
        pass


def test_a_server_that_is_not_picdrop_is_named_as_such() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotPicdrop)
    Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        ok, sentence = check_server(PicdropClient(url), url)
    finally:
        server.shutdown()
        server.server_close()
    assert not ok
    assert sentence.startswith(f"{url} answered 404, but it is not a picdrop server.")
    assert "Check the address" in sentence


def test_a_long_test_result_is_shown_whole(dialog, qtbot) -> None:
    settings = dialog()
    settings.show_test_result(
        False,
        "http://127.0.0.1:8000 answered 404, but it is not a picdrop server. Check the address "
        "(and the path, if picdrop runs below one). " * 2,
    )
    label = settings.test_result
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()))
    assert label.heightForWidth(label.width()) > 2 * label.fontMetrics().height()


def test_return_after_test_connection_saves(dialog, qtbot) -> None:
    settings = dialog()
    tests = []
    settings.test_requested.connect(tests.append)
    settings.server.setText("https://img.example.com")
    settings.test_button.click()
    qtbot.keyClick(settings.server, Qt.Key.Key_Return)
    assert tests == ["https://img.example.com"]
    assert settings.result() == SettingsDialog.DialogCode.Accepted
    assert settings.windowTitle() == "Settings"


def test_the_template_field_shows_what_each_format_writes(dialog) -> None:
    settings = dialog(AppConfig(link_format=LinkFormat.TEMPLATE, link_template="<{url}>"))
    assert settings.template.isEnabled() and settings.template.text() == "<{url}>"
    assert "{page_url}" in settings.placeholders.text() and settings.placeholders.isVisible()
    settings.link_format.setCurrentIndex(settings.link_format.findData("markdown"))
    assert not settings.template.isEnabled()
    assert settings.template.text() == "![image]({url})"
    assert not settings.placeholders.isVisible()
    assert settings.config().link_template == "<{url}>"  # the custom one is kept
    settings.link_format.setCurrentIndex(settings.link_format.findData("template"))
    assert settings.template.text() == "<{url}>"


def test_the_default_expiry_is_a_setting(dialog) -> None:
    settings = dialog(AppConfig(default_expiry="7d"))
    assert settings.expiry.currentData() == "7d"
    settings.expiry.setCurrentIndex(settings.expiry.findData("never"))
    assert settings.config().default_expiry == "never"
