"""HTTP client for a picdrop server (the API in DESIGN.md), on `requests`.

Blocking by design: the upload service calls it from worker threads, the CLI calls it directly.
TLS verification stays on and system proxies (HTTPS_PROXY, ...) are honoured because we never
touch `verify` or `trust_env`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor

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


class _ChunkedBody:
    """A file-like view of the multipart monitor that reads in bounded chunks and checks the
    cancel token on every read, so a cancel stops the transfer within one chunk."""

    def __init__(self, monitor: MultipartEncoderMonitor, cancel: CancelToken) -> None:
        self._monitor = monitor
        self._cancel = cancel
        self.len = monitor.len

    def read(self, size: int = -1) -> bytes:
        self._cancel.raise_if_cancelled()
        if size is None or size < 0 or size > CHUNK:
            size = CHUNK
        return self._monitor.read(size)


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
        fields: dict[str, Any] = {"file": (filename, data, mime)}
        if expires:
            fields["expires"] = expires
        encoder = MultipartEncoder(fields=fields)
        total = len(data)
        last = -1

        def on_read(monitor: MultipartEncoderMonitor) -> None:
            nonlocal last
            # Scale framing+file bytes to file bytes: monotonic and ends exactly at `total`.
            done = monitor.bytes_read >= monitor.len
            sent = total if done else monitor.bytes_read * total // monitor.len
            if progress is not None and sent != last:
                last = sent
                progress(sent, total)

        body = _ChunkedBody(MultipartEncoderMonitor(encoder, on_read), cancel)
        if progress is not None:
            progress(0, total)
        response = self._request(
            "POST",
            "/api/upload",
            data=body,
            headers={"Content-Type": encoder.content_type, "Idempotency-Key": idempotency_key},
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
