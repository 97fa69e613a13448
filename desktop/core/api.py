"""HTTP client for a picdrop server (the API in DESIGN.md), on `requests`.

Blocking by design: the upload service calls it from worker threads, the CLI calls it directly.
TLS verification stays on and system proxies (HTTPS_PROXY, ...) are honoured because we never
touch `verify` or `trust_env`.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.fields import format_multipart_header_param

from desktop import __version__

USER_AGENT = f"picdrop-desktop/{__version__}"
# (connect, read) seconds. The read timeout also bounds how long a stalled server can hold a
# worker after the whole body was sent.
DEFAULT_TIMEOUT = (10.0, 120.0)
# How much of the body is read per call; each read is a point where a cancel takes effect.
CHUNK = 64 * 1024

ProgressCallback = Callable[[int, int], None]


class ApiError(Exception):
    """The server answered with an error status. `message` is its sentence for a person."""

    def __init__(
        self, status: int, message: str, code: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.retry_after = retry_after


class ServerUnreachable(Exception):
    """No HTTP answer at all: refused, reset, DNS failure, timeout."""

    def __init__(self, base_url: str, reason: str) -> None:
        super().__init__(f"Cannot reach {base_url}: {reason}")
        self.base_url = base_url
        self.reason = reason


class UploadCancelled(Exception):
    """Raised inside the body iterator to abort a transfer; deliberately not an OSError, so
    urllib3 does not mistake it for a network error and retry: it discards the connection."""


class CancelToken:
    """Set from any thread; checked by the transfer between chunks and by backoff waits."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if cancelled meanwhile."""
        return self._event.wait(seconds)

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
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
    def from_json(cls, data: dict[str, Any]) -> UploadResult:
        fields = cls.__dataclass_fields__
        return cls(**{k: data.get(k) for k in fields})


class _MultipartBody:
    """A multipart/form-data body sent straight from the bytes in memory, CHUNK at a time.

    An iterable with a length: requests sends it with a Content-Length, and http.client writes
    each chunk as it comes (a file-like body would be read 8 KB at a time, each read a round of
    Python; this is a few dozen). Every chunk checks the cancel token first, so a cancel stops
    the transfer within one chunk, and reports progress in bytes of the file.
    """

    def __init__(
        self,
        fields: dict[str, str],
        filename: str,
        data: bytes,
        mime: str,
        cancel: CancelToken,
        progress: ProgressCallback | None,
    ) -> None:
        self.boundary = secrets.token_hex(16)
        head = b"".join(
            f"--{self.boundary}\r\nContent-Disposition: form-data; {_param('name', name)}"
            f"\r\n\r\n{value}\r\n".encode()
            for name, value in fields.items()
        )
        head += (
            f"--{self.boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; {_param("filename", filename)}\r\n'
            f"Content-Type: {mime}\r\n\r\n"
        ).encode()
        self._head = head
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._data = data
        self._cancel = cancel
        self._progress = progress

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

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


def _param(name: str, value: str) -> str:
    """name="value" as browsers (and urllib3) write it in a multipart header."""
    return format_multipart_header_param(name, value)


class PicdropClient:
    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.timeout = timeout

    def close(self) -> None:
        self.session.close()

    # -- endpoints ------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        response = self._request("GET", "/healthz", timeout=(5.0, 10.0))
        return response.json()

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
        body = _MultipartBody(fields, filename, data, mime, cancel, progress)
        if progress is not None:
            progress(0, len(data))
        response = self._request(
            "POST",
            "/api/upload",
            data=body,
            headers={"Content-Type": body.content_type, "Idempotency-Key": idempotency_key},
        )
        return UploadResult.from_json(response.json())

    def delete(self, image_id: str, delete_token: str) -> None:
        self._request(
            "DELETE",
            f"/api/images/{image_id}",
            headers={"Authorization": f"Bearer {delete_token}"},
        )

    # -- plumbing -------------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, self.base_url + path, **kw)
        except UploadCancelled:
            raise
        except requests.exceptions.SSLError as exc:
            raise ServerUnreachable(self.base_url, f"secure connection failed ({exc})") from exc
        except requests.exceptions.ConnectionError as exc:
            raise ServerUnreachable(self.base_url, _connection_reason(exc)) from exc
        except requests.exceptions.Timeout as exc:
            raise ServerUnreachable(self.base_url, "no answer (timed out)") from exc
        except requests.exceptions.ChunkedEncodingError as exc:
            # The answer broke off halfway (server killed or restarted): no answer, so retry.
            raise ServerUnreachable(self.base_url, "the answer broke off") from exc
        if response.status_code >= 400:
            raise _api_error(response)
        return response


def _api_error(response: requests.Response) -> ApiError:
    message, code = "", ""
    try:
        payload = response.json()
        if isinstance(payload, dict):
            message = str(payload.get("error") or "")
            code = str(payload.get("code") or "")
    except ValueError:
        pass
    if not message:
        message = f"The server answered {response.status_code} {response.reason or ''}".strip()
    return ApiError(response.status_code, message, code, parse_retry_after(response))


def parse_retry_after(response: requests.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date)."""
    value = response.headers.get("Retry-After")
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
