"""HTTP client for a picdrop server (the API in DESIGN.md), on `requests`.

Blocking by design: the upload service calls it from worker threads, the CLI calls it directly.
TLS verification stays on and system proxies (HTTPS_PROXY, ...) are honoured because we never
touch `verify` or `trust_env`.

The server is not trusted: every answer is read with a size cap and checked against the API's
schema, redirects go only to http(s) and never from https down to http, server text is made
printable, and every failure is a `PicdropError` whose message is one sentence.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.fields import format_multipart_header_param

from desktop import __version__
from desktop.core.printable import is_printable, printable

USER_AGENT = f"picdrop-desktop/{__version__}"
# (connect, read) seconds. The read timeout also bounds how long a stalled server can hold a
# worker after the whole body was sent.
DEFAULT_TIMEOUT = (10.0, 120.0)
# How much of the body is read per call; each read is a point where a cancel takes effect.
CHUNK = 64 * 1024
# A picdrop answer (JSON, an error, a redirect) is a few hundred bytes; reading stops past this.
MAX_ANSWER = 1024 * 1024
# An image fetched back from a server (History's "Copy image"): far above any server's limit.
MAX_IMAGE = 256 * 1024 * 1024
MAX_REDIRECTS = 5
# How much of a server's error sentence is shown.
MAX_MESSAGE = 300

ProgressCallback = Callable[[int, int], None]


class PicdropError(Exception):
    """Why a request to a picdrop server failed; str() is one printable sentence."""


class ApiError(PicdropError):
    """The server answered with an error status. `message` is its sentence for a person."""

    def __init__(
        self, status: int, message: str, code: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.retry_after = retry_after


class ServerUnreachable(PicdropError):
    """No HTTP answer at all: refused, reset, DNS failure, timeout."""

    def __init__(self, base_url: str, reason: str) -> None:
        super().__init__(f"Cannot reach {base_url}: {reason}")
        self.base_url = base_url
        self.reason = reason


class BadAnswer(PicdropError):
    """The server answered, but not as a picdrop server does: an answer that is too large, not
    JSON, not what the API promises, or a redirect that is not followed. Never retried."""

    def __init__(self, base_url: str, problem: str) -> None:
        super().__init__(printable(f"{base_url} gave an answer picdrop cannot use: {problem}"))


class RedirectRefused(requests.exceptions.RequestException):
    """A redirect that GuardedSession does not follow."""


class UploadCancelled(Exception):
    """Raised inside the body iterator to abort a transfer; deliberately not an OSError, so
    urllib3 does not mistake it for a network error and retry: it discards the connection."""


class CancelToken:
    """Set from any thread; checked by the transfer between chunks and by backoff waits, which
    `wake` also ends early (the user's "Retry now")."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._cancelled = False
        self._woken = False

    def cancel(self) -> None:
        with self._changed:
            self._cancelled = True
            self._changed.notify_all()

    def wake(self) -> None:
        """End the current (or next) backoff wait now, without cancelling."""
        with self._changed:
            self._woken = True
            self._changed.notify_all()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds` (less when woken); True if cancelled meanwhile."""
        with self._changed:
            self._changed.wait_for(lambda: self._cancelled or self._woken, seconds)
            self._woken = False
            return self._cancelled

    def raise_if_cancelled(self) -> None:
        if self._cancelled:
            raise UploadCancelled()


@dataclass(frozen=True)
class UploadResult:
    id: str
    url: str
    page_url: str
    thumbnail_url: str
    delete_url: str
    delete_token: str
    width: int
    height: int
    size: int
    mime: str
    sha256: str
    expires_at: Any = None

    @classmethod
    def from_json(cls, data: object) -> UploadResult:
        """The result in a 201 answer; ValueError naming the first field that breaks the
        schema (backend's UploadResult model, restated here: the desktop never imports it)."""
        if not isinstance(data, dict):
            raise ValueError("the answer is not a JSON object")
        for name, (valid, what) in UPLOAD_RESULT_SCHEMA.items():
            if name not in data:
                raise ValueError(f"{name!r} is missing")
            if not valid(data[name]):
                raise ValueError(f"{name!r} is not {what}")
        return cls(**{name: data[name] for name in UPLOAD_RESULT_SCHEMA})


_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MIME = re.compile(r"image/[a-z0-9.+-]{1,64}")
MAX_URL = 2048


def _is_link(value: object) -> bool:
    """A link in an answer: an absolute http(s) URL with a host, nothing unprintable or blank."""
    if not isinstance(value, str) or len(value) > MAX_URL or not is_printable(value):
        return False
    if any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed [IPv6 bracket
        return False


def _is_token(value: object) -> bool:
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def _is_time_or_none(value: object) -> bool:
    if value is None:
        return True
    if not isinstance(value, str) or len(value) > 64:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


# field -> (check, what the field must be, for the error)
UPLOAD_RESULT_SCHEMA: dict[str, tuple[Callable[[object], bool], str]] = {
    "id": (_is_token, "an ID of letters, digits, - and _"),
    "url": (_is_link, "an http(s) URL"),
    "page_url": (_is_link, "an http(s) URL"),
    "thumbnail_url": (_is_link, "an http(s) URL"),
    "delete_url": (_is_link, "an http(s) URL"),
    "delete_token": (_is_token, "a token of letters, digits, - and _"),
    "width": (_is_count, "a whole number"),
    "height": (_is_count, "a whole number"),
    "size": (_is_count, "a whole number"),
    "mime": (lambda v: isinstance(v, str) and _MIME.fullmatch(v) is not None, "an image type"),
    "sha256": (lambda v: isinstance(v, str) and _SHA256.fullmatch(v) is not None, "a SHA-256"),
    "expires_at": (_is_time_or_none, "a time or null"),
}


@dataclass(frozen=True)
class AlbumResult:
    """A new album (POST /api/albums): its page, and the token that deletes it (not its images)."""

    id: str
    url: str
    delete_token: str
    images: int  # how many of the given images it holds

    @classmethod
    def from_json(cls, data: object) -> AlbumResult:
        """ValueError naming the first field that breaks the schema (backend's NewAlbumResult)."""
        if not isinstance(data, dict):
            raise ValueError("the answer is not a JSON object")
        for name, (valid, what) in ALBUM_RESULT_SCHEMA.items():
            if not valid(data.get(name)):
                raise ValueError(f"{name!r} is missing or not {what}")
        return cls(data["id"], data["url"], data["delete_token"], len(data["images"]))


ALBUM_RESULT_SCHEMA: dict[str, tuple[Callable[[object], bool], str]] = {
    "id": UPLOAD_RESULT_SCHEMA["id"],
    "url": UPLOAD_RESULT_SCHEMA["url"],
    "delete_token": UPLOAD_RESULT_SCHEMA["delete_token"],
    "images": (lambda v: isinstance(v, list), "a list"),
}


class StreamedBody:
    """A request body sent straight from the bytes in memory, CHUNK at a time, between an
    optional head and tail (multipart framing).

    An iterable with a length: requests sends it with a Content-Length, and http.client writes
    each chunk as it comes (a file-like body would be read 8 KB at a time, each read a round of
    Python; this is a few dozen). Every chunk checks the cancel token first, so a cancel stops
    the transfer within one chunk, and reports progress in bytes of the file.
    """

    def __init__(
        self,
        data: bytes,
        cancel: CancelToken,
        progress: ProgressCallback | None,
        head: bytes = b"",
        tail: bytes = b"",
    ) -> None:
        self._head = head
        self._tail = tail
        self._data = data
        self._cancel = cancel
        self._progress = progress

    def __len__(self) -> int:
        return len(self._head) + len(self._data) + len(self._tail)

    def __iter__(self) -> Iterator[bytes | memoryview]:
        self._cancel.raise_if_cancelled()
        yield self._head
        view = memoryview(self._data)
        total = len(view)
        for start in range(0, total, CHUNK):
            self._cancel.raise_if_cancelled()
            yield view[start : start + CHUNK]
            if self._progress is not None:
                self._progress(min(total, start + CHUNK), total)
        yield self._tail


class MultipartBody(StreamedBody):
    """multipart/form-data: the text fields, then the file under `file_field`."""

    def __init__(
        self,
        fields: dict[str, str],
        filename: str,
        data: bytes,
        mime: str,
        cancel: CancelToken,
        progress: ProgressCallback | None,
        file_field: str = "file",
    ) -> None:
        self.boundary = secrets.token_hex(16)
        head = b"".join(
            f"--{self.boundary}\r\nContent-Disposition: form-data; {_param('name', name)}"
            f"\r\n\r\n{value}\r\n".encode()
            for name, value in fields.items()
        )
        head += (
            f"--{self.boundary}\r\nContent-Disposition: form-data; "
            f"{_param('name', file_field)}; {_param('filename', filename)}\r\n"
            f"Content-Type: {mime}\r\n\r\n"
        ).encode()
        tail = f"\r\n--{self.boundary}--\r\n".encode()
        super().__init__(data, cancel, progress, head, tail)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"


def _param(name: str, value: str) -> str:
    """name="value" as browsers (and urllib3) write it in a multipart header."""
    return format_multipart_header_param(name, value)


class GuardedSession(requests.Session):
    """A requests.Session that follows at most MAX_REDIRECTS redirects, only to http(s), never
    from https down to http, and only when the redirect's own body is small (requests reads it
    whole before following)."""

    def __init__(self) -> None:
        super().__init__()
        self.max_redirects = MAX_REDIRECTS
        self.hooks["response"].append(self._check_redirect)

    def _check_redirect(self, response: requests.Response, **_kw: Any) -> None:
        location = self.get_redirect_target(response)
        if location is None:
            return
        problem = ""
        try:
            target = urljoin(response.url, location)
            scheme = urlsplit(target).scheme
        except ValueError:
            target, scheme = location, ""
        length = response.headers.get("Content-Length", "")
        if scheme not in ("http", "https"):
            problem = f"a redirect to {target!r}, which is not an http(s) URL"
        elif scheme == "http" and urlsplit(response.url).scheme == "https":
            problem = f"a redirect from https down to plain http ({target!r})"
        elif not length.isdigit() or int(length) > MAX_ANSWER:
            problem = "a redirect whose answer has no or too large a length"
        if problem:
            response.close()
            raise RedirectRefused(problem)


class PicdropClient:
    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or GuardedSession()
        self.session.headers["User-Agent"] = USER_AGENT
        self.timeout = timeout

    def close(self) -> None:
        self.session.close()

    # -- endpoints ------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        answer = self._json(self._request("GET", "/healthz", timeout=(5.0, 10.0)))
        if not isinstance(answer, dict):
            raise BadAnswer(self.base_url, "the health answer is not a JSON object")
        return answer

    def upload(
        self,
        data: bytes,
        filename: str,
        mime: str,
        *,
        idempotency_key: str,
        expires: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> UploadResult:
        """POST /api/upload with a streamed multipart body.

        `progress(sent, total)` reports bytes of the file (not of the multipart framing),
        rising monotonically to `len(data)`. `cancel` aborts the transfer between chunks.
        """
        cancel = cancel or CancelToken()
        fields = {"expires": expires} if expires else {}
        body = MultipartBody(fields, filename, data, mime, cancel, progress)
        if progress is not None:
            progress(0, len(data))
        answer = self._request(
            "POST",
            "/api/upload",
            data=body,
            headers={"Content-Type": body.content_type, "Idempotency-Key": idempotency_key},
        )
        try:
            return UploadResult.from_json(self._json(answer))
        except ValueError as exc:
            raise BadAnswer(self.base_url, str(exc)) from exc

    def delete(self, image_id: str, delete_token: str) -> None:
        self._request(
            "DELETE",
            f"/api/images/{image_id}",
            headers={"Authorization": f"Bearer {delete_token}"},
        )

    def create_album(self, members: list[tuple[str, str]]) -> AlbumResult:
        """POST /api/albums with each image's (id, delete token): the token shows it is ours."""
        images = [{"id": image_id, "delete_token": token} for image_id, token in members]
        answer = self._request(
            "POST",
            "/api/albums",
            data=json.dumps({"images": images}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            return AlbumResult.from_json(self._json(answer))
        except ValueError as exc:
            raise BadAnswer(self.base_url, str(exc)) from exc

    def delete_album(self, album_id: str, delete_token: str) -> None:
        """The album goes; its images stay."""
        self._request(
            "DELETE",
            f"/api/albums/{album_id}",
            headers={"Authorization": f"Bearer {delete_token}"},
        )

    # -- plumbing -------------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kw: Any) -> bytes:
        """The body of a successful answer (read up to MAX_ANSWER); every failure raised as a
        PicdropError (UploadCancelled passes through)."""
        kw.setdefault("timeout", self.timeout)
        answer = exchange(self.session, method, self.base_url + path, self.base_url, **kw)
        if answer.status >= 400:
            raise _api_error(answer)
        if answer.body is None:
            raise BadAnswer(self.base_url, f"the answer is larger than {MAX_ANSWER} bytes")
        return answer.body

    def _json(self, body: bytes) -> Any:
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[..." nested deep
            raise BadAnswer(self.base_url, "the answer is not JSON") from exc


def fetch_image(url: str, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> bytes:
    """The bytes of a published image (History's "Copy image" and "Save as…"), read up to
    MAX_IMAGE, with the same guarded redirects as every other request; failures as for the API."""
    origin = urllib.parse.urlsplit(url)
    label = f"{origin.scheme}://{origin.netloc}"
    with GuardedSession() as session:
        session.headers["User-Agent"] = USER_AGENT
        answer = exchange(session, "GET", url, label, limit=MAX_IMAGE, timeout=timeout)
    if answer.status >= 400:
        raise _api_error(answer)
    if answer.body is None:
        raise BadAnswer(label, f"the image is larger than {MAX_IMAGE // 2**20} MB")
    return answer.body


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    headers: requests.structures.CaseInsensitiveDict[str]
    url: str  # after redirects
    body: bytes | None  # None: longer than MAX_ANSWER (the rest was never read)


def exchange(
    session: requests.Session,
    method: str,
    url: str,
    label: str,
    *,
    limit: int = MAX_ANSWER,
    **kw: Any,
) -> Answer:
    """One HTTP exchange; the answer whatever its status, its body read up to `limit` bytes. No
    answer at all is raised as ServerUnreachable, a broken one as BadAnswer (`label` names the
    host in the sentence); UploadCancelled passes through."""
    try:
        with session.request(method, url, stream=True, **kw) as response:
            body = read_capped(response, limit)
    except UploadCancelled:
        raise
    except requests.exceptions.SSLError as exc:
        raise ServerUnreachable(
            label, "its secure connection could not be verified (check its certificate)"
        ) from exc
    except requests.exceptions.ConnectionError as exc:
        raise ServerUnreachable(label, _connection_reason(exc)) from exc
    except requests.exceptions.Timeout as exc:
        raise ServerUnreachable(label, "no answer (timed out)") from exc
    except requests.exceptions.ChunkedEncodingError as exc:
        # The answer broke off halfway (server killed or restarted): no answer, so retry.
        raise ServerUnreachable(label, "the answer broke off") from exc
    except RedirectRefused as exc:
        raise BadAnswer(label, str(exc)) from exc
    except requests.exceptions.RequestException as exc:
        raise BadAnswer(label, _request_problem(exc)) from exc
    return Answer(response.status_code, response.reason or "", response.headers, response.url, body)


def read_capped(response: requests.Response, limit: int) -> bytes | None:
    """The (decoded) body, or None as soon as it proves longer than `limit`: the rest is never
    read, and closing the response drops the connection."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    for chunk in response.iter_content(CHUNK):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _api_error(answer: Answer) -> ApiError:
    message, code = "", ""
    try:
        payload = json.loads(answer.body) if answer.body is not None else None
    except (ValueError, RecursionError):
        payload = None
    if isinstance(payload, dict):
        message = _shown(payload.get("error"))
        code = _shown(payload.get("code"))
    if not message:
        message = status_sentence(answer)
    return ApiError(answer.status, message, code, parse_retry_after(answer.headers))


def status_sentence(answer: Answer) -> str:
    return f"The server answered {answer.status} {_shown(answer.reason)}".strip()


def _shown(value: object) -> str:
    """Server text as it may be shown: a string, printable, at most MAX_MESSAGE characters."""
    if not isinstance(value, str):
        return ""
    text = printable(value.strip())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _request_problem(exc: requests.exceptions.RequestException) -> str:
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return f"more than {MAX_REDIRECTS} redirects"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return "the answer could not be decoded"
    return "the request could not be made (check the server address)"


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date)."""
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _connection_reason(exc: Exception) -> str:
    """A short human reason from requests' nested connection errors."""
    text = str(exc).lower()
    for needle, reason in (
        ("refused", "connection refused"),
        ("reset", "connection reset"),
        ("aborted", "connection aborted"),
        ("name or service not known", "unknown host name"),
        ("nodename nor servname", "unknown host name"),
        ("getaddrinfo failed", "unknown host name"),
        ("timed out", "no answer (timed out)"),
        ("remote end closed", "the server closed the connection"),
        ("broken pipe", "the server closed the connection"),
    ):
        if needle in text:
            return reason
    return "network error"
