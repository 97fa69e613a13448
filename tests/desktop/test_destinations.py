"""ShareX custom uploaders as destinations: the `.sxcu` format and syntax as ShareX reads them
(each case names the ShareX rule it follows), and uploads to real hosts started by the tests:
third-party hosts shaped differently from picdrop, and picdrop's own `/api/sharex.sxcu`."""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from desktop.commands.status import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from desktop.core.history import HistoryStore
from desktop.core.sxcu import (
    Ask,
    Context,
    Response,
    SxcuError,
    SyntaxFailure,
    migrate_old_syntax,
    parse_sxcu,
    render,
)
from tests.backend import imagesamples as samples

JSON_ANSWER = json.dumps(
    {"files": [{"url": "https://h.test/a.png", "n": 3, "ok": True}], "data": {"x.y": "dotted"}}
)
XML_ANSWER = (
    "<upload><links><url>https://h.test/x.png</url><del>https://h.test/d/1</del></links></upload>"
)
HTML_ANSWER = '<a href="https://h.test/r.png">link</a> <img src="https://h.test/t.png">'


def answer(text: str = JSON_ANSWER, **headers: str) -> Response:
    return Response(text=text, url="https://h.test/api/upload", headers=headers)


# (template, file name, response, url_encode, expected, ShareX rule)
SYNTAX_CASES = [
    ("plain text", "", None, False, "plain text", "ShareXSyntaxParser: text outside {} is kept"),
    ("{response}", "", answer("hello"), False, "hello", "FunctionResponse"),
    ("{responseurl}", "", answer(), False, "https://h.test/api/upload", "FunctionResponseURL"),
    ("{header:Location}", "", answer(location="https://h.test/l.png"), False,
     "https://h.test/l.png", "FunctionHeader: header names are case-insensitive"),
    ("{json:files[0].url}", "", answer(), False, "https://h.test/a.png",
     "FunctionJson: `$.` is prefixed to the path"),
    ("{json:$.files[0].n}", "", answer(), False, "3", "FunctionJson: a number as text"),
    ("{json:files[0].ok}", "", answer(), False, "True", "FunctionJson: (string) of a boolean"),
    ("{json:data['x.y']}", "", answer(), False, "dotted", "FunctionJson: bracket names"),
    ("{json:missing}", "", answer(), False, "", "FunctionJson: no token, null, nothing"),
    ('{json:\\{"u":"v"\\}|u}', "", None, False, "v",
     "FunctionJson: {json:input|path}, literal braces escaped"),
    ("{xml:/upload/links/url}", "", answer(XML_ANSWER), False, "https://h.test/x.png",
     "FunctionXml: an XPath from the root"),
    ("{xml:<a><b>c</b></a>|/a/b}", "", None, False, "c", "FunctionXml: {xml:input|xpath}"),
    ('{regex:href="(.+?)"|1}', "", answer(HTML_ANSWER), False, "https://h.test/r.png",
     "FunctionRegex: {regex:pattern|group number}"),
    ('{regex:src="(?<u>[^"]+)"|u}', "", answer(HTML_ANSWER), False, "https://h.test/t.png",
     "FunctionRegex: a .NET named group"),
    ("{regex:abc123|\\\\d+}", "", None, False, "",
     "FunctionRegex: 2 parameters are pattern|group"),
    ("{regex:abc123|\\\\d+|0}", "", None, False, "123",
     "FunctionRegex: {regex:input|pattern|group}"),
    ("https://h.test/{filename}", "a b.png", None, True, "https://h.test/a%20b.png",
     "FunctionFileName: URL-encoded where the parser encodes (RequestURL, URL...)"),
    ("{filename}", "a b.png", None, False, "a b.png", "FunctionFileName: plain elsewhere"),
    ("{input}", "", None, False, "", "FunctionInput: empty for files"),
    ("{base64:user:pass}", "", None, False, "dXNlcjpwYXNz",
     "FunctionBase64 (':' after the first only separates the name)"),
    ("{random:x}", "", None, False, "x", "FunctionRandom: picks one parameter"),
    ("{select:one|two}", "", None, False, "one", "FunctionSelect (no window: the first)"),
    ("{prompt:Key|abc}", "", None, False, "abc", "FunctionInputBox alias prompt: the default"),
    ("{inputbox}", "", None, False, "", "FunctionInputBox: empty default"),
    ("a{outputbox:text}b", "", None, False, "ab", "FunctionOutputBox returns nothing"),
    ("https://h.test/{json:{response}|files[0].n}/x", "", answer(), False, "https://h.test/3/x",
     "ShareXSyntaxParser: functions nest in parameters"),
    ("\\{json:x\\}", "", None, False, "{json:x}", "ShareXSyntaxParser: \\ escapes { and }"),
    ("a\\|b", "", None, False, "a|b", "ShareXSyntaxParser: \\ escapes |"),
    ("a|b", "", None, False, "a", "ShareXSyntaxParser: a bare | ends the text"),
    ("{JSON:files[0].n}", "", answer(), False, "3", "CallFunction: names are case-insensitive"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("template", "file_name", "response", "url_encode", "expected", "rule"),
    SYNTAX_CASES,
    ids=[case[-1] for case in SYNTAX_CASES],
)
def test_syntax_renders_as_sharex(
    template: str,
    file_name: str,
    response: Response | None,
    url_encode: bool,
    expected: str,
    rule: str,
) -> None:
    context = Context(file_name=file_name, response=response, url_encode=url_encode)
    assert render(template, context) == expected


@pytest.mark.parametrize(
    ("template", "error"),
    [
        ("{nope}", "Invalid function name: nope"),  # CallFunction
        ("{}", "Function name cannot be empty."),
        ("{json}", 'Minimum parameter count for function "json" is 1.'),
        ("{json:a}", "The answer is not JSON."),  # Newtonsoft: JsonReaderException
    ],
)
def test_syntax_errors(template: str, error: str) -> None:
    with pytest.raises(SyntaxFailure) as failure:
        render(template, Context(response=answer("not json")))
    assert str(failure.value) == error


def test_interactive_functions_ask_through_the_hooks() -> None:
    shown: list[tuple[str, str]] = []
    ask = Ask(
        text=lambda title, default: f"{title}={default}!",
        choose=lambda values: values[-1],
        show=lambda title, text: shown.append((title, text)),
    )
    context = Context(ask=ask, rng=random.Random(1))
    assert render("{prompt:K|d}/{select:a|b}/{outputbox:T|x}", context) == "K=d!/b/"
    assert shown == [("T", "x")]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("$json:files[0].url$", "{json:files[0].url}"),  # `$` opens, then closes
        ("https://h.test/$filename$?a={b}", "https://h.test/{filename}?a=\\{b\\}"),  # braces
        ("$regex:1|1$", "{regex:1|1}"),
        ("a\\$b", "ab"),  # a backslash drops itself and the next character, as ShareX does
    ],
)
def test_old_syntax_migration(old: str, new: str) -> None:
    assert migrate_old_syntax(old) == new


def sxcu(**fields: object) -> str:
    base = {
        "Version": "16.0.0",
        "Name": "Host",
        "DestinationType": "ImageUploader, FileUploader",
        "RequestMethod": "POST",
        "RequestURL": "https://h.test/upload",
        "Body": "MultipartFormData",
        "FileFormName": "file",
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None})


def test_an_old_version_is_migrated_everywhere() -> None:
    uploader = parse_sxcu(
        sxcu(
            Version="13.5.0",
            RequestURL="https://h.test/up?key=$prompt:Key$",
            Headers={"Authorization": "Bearer $base64:x$"},
            URL="$json:url$",
            DeletionURL="$json:del$",
            ErrorMessage="$json:error$",
        )
    )
    assert uploader.request_url == "https://h.test/up"  # CheckRequestURL: query to Parameters
    assert uploader.parameters == {"key": "{prompt:Key}"}
    assert uploader.headers == {"Authorization": "Bearer {base64:x}"}
    assert (uploader.url, uploader.deletion_url) == ("{json:url}", "{json:del}")
    assert uploader.error_message == "{json:error}"
    # A current file is left as it is: `$` means `$` there.
    assert parse_sxcu(sxcu(URL="$json:url$")).url == "$json:url$"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{not json", "it is not JSON"),
        ("[1, 2]", "it is not a JSON object"),
        (sxcu(Version=""), "Unsupported custom uploader"),  # CheckBackwardCompatibility
        (sxcu(Version="12.3.1"), "Unsupported custom uploader"),
        (sxcu(RequestURL=""), "RequestURL must be configured"),
        (sxcu(DestinationType="TextUploader"), "image and file uploaders only"),
        (sxcu(DestinationType="URLShortener"), "image and file uploaders only"),
        (sxcu(Body="JSON"), "Unsupported request format: JSON"),  # CustomImageUploader
        (sxcu(Body="FormURLEncoded"), "Unsupported request format: FormURLEncoded"),
        (sxcu(Body="Yaml"), "Body 'Yaml' is not one of"),
        (sxcu(RequestMethod="TRACE"), "RequestMethod 'TRACE' is not one of"),
        (sxcu(FileFormName=""), "FileFormName must be configured"),
        (sxcu(Headers=["a"]), "Headers must be an object of texts"),
    ],
)
def test_malformed_or_unusable_files_say_why(text: str, error: str) -> None:
    with pytest.raises(SxcuError) as failure:
        parse_sxcu(text)
    assert error in str(failure.value)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "post"])
def test_each_request_method_and_file_body_is_read(method: str) -> None:
    for body in ("MultipartFormData", "Binary", "binary"):
        uploader = parse_sxcu(sxcu(RequestMethod=method, Body=body))
        assert uploader.request_method == method.upper()
        assert uploader.body.lower() == body.lower()


# -- real hosts ---------------------------------------------------------------------------------
@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ThirdPartyHost:
    """A host unlike picdrop: PUT with the file as the body, an API key header, the link in a
    Location header and the rest in XML."""

    url: str = ""
    api_key: str = "s3cret-key"
    received: list[Received] = field(default_factory=list)


@pytest.fixture
def third_party_host() -> Iterator[ThirdPartyHost]:
    host = ThirdPartyHost()

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            host.received.append(
                Received("PUT", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            if self.headers.get("X-Api-Key") != host.api_key:
                self._send(401, b"<error><message>bad key</message></error>")
                return
            n = len(host.received)
            xml = f"<upload><thumb>{host.url}/t/{n}.jpg</thumb><del>{host.url}/d/{n}</del></upload>"
            self._send(201, xml.encode(), location=f"{host.url}/i/{n}.jpg")

        def _send(self, status: int, body: bytes, location: str = "") -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            if location:
                self.send_header("Location", location)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield host
    server.shutdown()
    server.server_close()
    thread.join()


def third_party_sxcu(host: ThirdPartyHost, key: str) -> str:
    return json.dumps(
        {
            "Version": "17.0.0",
            "Name": "Third party",
            "DestinationType": "ImageUploader",
            "RequestMethod": "PUT",
            "RequestURL": host.url + "/files/{filename}",
            "Parameters": {"via": "picdrop"},
            "Headers": {"X-Api-Key": key},
            "Body": "Binary",
            "URL": "{header:location}",
            "ThumbnailURL": "{xml:/upload/thumb}",
            "DeletionURL": "{regex:<del>(.+)</del>|1}",
            "ErrorMessage": "{xml:/error/message}",
        }
    )


@pytest.fixture
def client_dir(tmp_path: Path) -> Path:
    return tmp_path / "client"


def lines(result) -> list[str]:
    return result.stdout.decode().splitlines()


def test_upload_to_a_third_party_host_as_its_sxcu_says(
    third_party_host: ThirdPartyHost,
    run_cli: Callable,
    client_dir: Path,
    tmp_path: Path,
) -> None:
    file = tmp_path / "third.sxcu"
    file.write_text(third_party_sxcu(third_party_host, third_party_host.api_key))
    added = run_cli("destination", "add", "--data-dir", client_dir, file)
    assert added.returncode == EXIT_OK, added.stderr
    request = f"PUT {third_party_host.url}/files/{{filename}}"
    assert lines(added) == [f"added Third-party: {request} (Binary)"]
    stored = client_dir / "destinations" / "Third-party.sxcu"
    assert stored.stat().st_mode & 0o777 == 0o600  # it holds the API key
    listed = run_cli("destination", "list", "--data-dir", client_dir)
    assert lines(listed) == [f"Third-party\t{request} (Binary)"]

    photo = tmp_path / "holiday photo.jpg"
    photo.write_bytes(samples.jpeg_with_metadata())
    result = run_cli("upload", "--data-dir", client_dir, "--to", "third party", "--no-copy", photo)
    assert result.returncode == EXIT_OK, result.stderr
    assert lines(result) == [f"{third_party_host.url}/i/1.jpg"]  # URL: {header:location}

    (got,) = third_party_host.received
    assert got.path == "/files/holiday%20photo.jpg?via=picdrop"  # {filename} encoded, Parameters
    assert got.headers["x-api-key"] == third_party_host.api_key
    assert got.headers["content-type"] == "image/jpeg"
    assert got.body[:3] == b"\xff\xd8\xff"  # the file itself is the body (Binary)
    for secret in samples.JPEG_SECRETS:  # stripped on this machine, whoever the host is
        assert secret not in got.body

    history = HistoryStore(client_dir / "history.sqlite3")
    try:
        (row,) = history.items()
        assert row.server == "sxcu:Third-party"
        assert row.url == f"{third_party_host.url}/i/1.jpg"
        assert row.thumbnail_url == f"{third_party_host.url}/t/1.jpg"  # {xml:...}
        assert row.delete_url == f"{third_party_host.url}/d/1"  # {regex:...|1}
        assert row.removed  # and the row says what was stripped
    finally:
        history.close()


def test_a_host_error_is_told_with_the_sxcu_error_message(
    third_party_host: ThirdPartyHost,
    run_cli: Callable,
    client_dir: Path,
    tmp_path: Path,
    images,
) -> None:
    file = tmp_path / "third.sxcu"
    file.write_text(third_party_sxcu(third_party_host, "wrong-key"))
    assert run_cli("destination", "add", "--data-dir", client_dir, file).returncode == EXIT_OK
    result = run_cli("upload", "--data-dir", client_dir, "--to", "Third-party", *images(1))
    assert result.returncode == EXIT_FAILED
    assert "Refused by the server: bad key" in result.stderr.decode()  # ErrorMessage: {xml:...}
    assert "wrong-key" not in result.stderr.decode()  # a key is never printed


def test_unknown_destination_and_bad_file_are_usage_errors(
    run_cli: Callable, client_dir: Path, tmp_path: Path, images
) -> None:
    result = run_cli("upload", "--data-dir", client_dir, "--to", "nowhere", *images(1))
    assert result.returncode == EXIT_USAGE
    assert "no destination 'nowhere'" in result.stderr.decode()
    bad = tmp_path / "text.sxcu"
    bad.write_text(sxcu(DestinationType="TextUploader", Name="Paste"))
    result = run_cli("destination", "add", "--data-dir", client_dir, bad)
    assert result.returncode == EXIT_USAGE
    assert "image and file uploaders only" in result.stderr.decode()


def test_picdrops_own_sxcu_imported_from_its_url_and_made_the_default(
    live_server, run_cli: Callable, client_dir: Path, tmp_path: Path
) -> None:
    added = run_cli("destination", "import", "--data-dir", client_dir, live_server.url)
    assert added.returncode == EXIT_OK, added.stderr
    listed = run_cli("destination", "list", "--data-dir", client_dir)
    (name,) = [line.split("\t")[0] for line in lines(listed)]
    chosen = run_cli("destination", "default", "--data-dir", client_dir, name)
    assert lines(chosen) == [f"uploads go to {name}"]

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(samples.jpeg_with_metadata())
    result = run_cli("upload", "--data-dir", client_dir, "--no-copy", photo)  # no --to
    assert result.returncode == EXIT_OK, result.stderr
    (link,) = lines(result)
    assert re.fullmatch(re.escape(live_server.url) + r"/[\w-]{10,}\.jpg", link)  # {json:url}
    served = requests.get(link, timeout=10)
    assert served.status_code == 200
    assert not any(secret in served.content for secret in samples.JPEG_SECRETS)
    history = HistoryStore(client_dir / "history.sqlite3")
    try:
        (row,) = history.items()
        assert (row.server, row.url) == (f"sxcu:{name}", link)
        assert row.delete_url and row.delete_url.startswith(f"{live_server.url}/delete/")
    finally:
        history.close()

    back = run_cli("destination", "default", "--data-dir", client_dir, "server")
    assert lines(back) == ["uploads go to the picdrop server"]


def test_a_dropped_sxcu_is_imported_and_the_app_uploads_there(
    qapp, qtbot, tmp_path: Path, third_party_host: ThirdPartyHost
) -> None:
    import shiboken6
    from PySide6.QtCore import QMimeData, QSettings, QUrl

    from desktop.app import PicdropApp
    from desktop.core.intake import FileSource
    from tests.desktop.test_desktop_uploads import drop

    app = PicdropApp(
        qapp,
        data_dir=tmp_path / "app-data",
        qsettings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
        environ={"PICDROP_SERVER": third_party_host.url},  # no built-in server needed
        tray_available=True,
    )
    try:
        file = tmp_path / "third.sxcu"
        file.write_text(third_party_sxcu(third_party_host, third_party_host.api_key))
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(file))])
        drop(app.window.drop_zone, mime)
        assert app.destinations.names() == ["Third-party"]
        assert app.uploads.jobs() == []  # imported, not uploaded

        # Metadata is removed even with the option off (no host but picdrop strips it).
        app.apply_config(replace(app.config, strip_metadata=False))
        # Chosen in the tray's "Upload to" menu, which shows the one in use.
        assert app.tray is not None
        app.tray.menu.aboutToShow.emit()
        (choices,) = [
            a.menu() for a in app.tray.menu.actions()
            if a.menu() and a.menu().objectName() == "destinations"
        ]  # fmt: skip
        assert choices.title() == "Upload to: picdrop server"
        assert [(a.text(), a.isChecked()) for a in choices.actions()] == [
            ("picdrop server", True),
            ("Third-party", False),
        ]
        choices.actions()[1].trigger()
        assert app.config.destination == "Third-party"
        label = app.window.server_label.text()
        assert label == "Uploading to Third-party (ShareX custom uploader)"
        photo = tmp_path / "photo.jpg"
        photo.write_bytes(samples.jpeg_with_metadata())
        with qtbot.waitSignal(app.uploads.job_done, timeout=20_000) as done:
            app.uploads.enqueue([FileSource(photo)])
        job = app.uploads.job(done.args[0])
        assert job.result is not None and job.result.url == f"{third_party_host.url}/i/1.jpg"
        assert qapp.clipboard().text() == job.result.url
        (got,) = third_party_host.received
        assert not any(secret in got.body for secret in samples.JPEG_SECRETS)
        row = app.history.get(job.key)
        assert row is not None and row.server == "sxcu:Third-party" and row.removed

        # Removed in Settings: forgotten, and uploads go to the server again.
        app.remove_uploader("Third-party")
        assert app.destinations.names() == []
        assert app.config.destination == ""
        assert app.window.server_label.text() == f"Uploading to {third_party_host.url}"
    finally:
        app.window.close()
        app.shutdown()
        shiboken6.delete(app.window)
        shiboken6.delete(app)


def test_history_deletes_a_custom_upload_through_its_deletion_url(
    make_service, make_window, history: HistoryStore, qtbot, monkeypatch, tmp_path: Path
) -> None:
    from PySide6.QtGui import QDesktopServices

    from desktop.core.api import UploadResult
    from desktop.core.history import HistoryItem
    from desktop.core.jobs import JobState

    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()))
    history.add_queued(
        HistoryItem("k1", "k1", "b", "a.png", 3, "image/png", JobState.QUEUED, "sxcu:Host", 1.0),
        b"abc",
    )
    link = "https://h.test/i/1.png"
    history.set_done(
        "k1",
        UploadResult("", link, link, link, "https://h.test/d/1?k=x", "", 0, 0, 3, "image/png", ""),
    )
    window = make_window(make_service("http://unused.test"))
    window.tabs.setCurrentIndex(1)
    window.history_view.select(["k1"])
    assert window.history_view.delete_button.isEnabled()
    window.history_view.delete_button.click()
    assert opened == ["https://h.test/d/1?k=x"]


def test_settings_lists_what_each_destination_sends_and_removes_one(qtbot) -> None:
    from desktop.core.config import AppConfig
    from desktop.ui.settings_dialog import SettingsDialog

    described = {"Host": "PUT https://h.test/up (Binary)", "Other": "POST https://o.test (X)"}
    dialog = SettingsDialog(AppConfig(destination="Host"), destinations=described)
    qtbot.addWidget(dialog)
    assert [dialog.destination.itemData(i) for i in range(dialog.destination.count())] == [
        "",
        "Host",
        "Other",
    ]
    assert dialog.destination_detail.text() == "Sends: PUT https://h.test/up (Binary)"
    with qtbot.waitSignal(dialog.remove_requested) as removed:
        dialog.remove_button.click()
    assert removed.args == ["Host"]
    assert dialog.config().destination == "Host"
    dialog.destination.setCurrentIndex(0)  # the picdrop server: nothing to remove
    assert not dialog.remove_button.isEnabled()
    assert dialog.config().destination == ""


def test_destination_test_uploads_a_sample_and_prints_its_links(
    third_party_host: ThirdPartyHost, run_cli: Callable, client_dir: Path, tmp_path: Path
) -> None:
    file = tmp_path / "third.sxcu"
    file.write_text(third_party_sxcu(third_party_host, third_party_host.api_key))
    assert run_cli("destination", "add", "--data-dir", client_dir, file).returncode == EXIT_OK
    result = run_cli("destination", "test", "--data-dir", client_dir, "Third-party")
    assert result.returncode == EXIT_OK, result.stderr
    assert lines(result) == [f"{third_party_host.url}/i/1.jpg"]
    assert f"delete it at {third_party_host.url}/d/1" in result.stderr.decode()
    assert third_party_host.received[0].body.startswith(b"\x89PNG")

    third_party_host.api_key = "rotated"  # the stored key no longer works
    result = run_cli("destination", "test", "--data-dir", client_dir, "Third-party")
    assert result.returncode == EXIT_FAILED
    assert "Refused by the server: bad key" in result.stderr.decode()
