"""Errors the service reports to clients: an HTTP status, a machine code and a sentence.

`backend.images.ImageRejected` carries the same three attributes; the HTTP layer renders both.
"""

from __future__ import annotations


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(ApiError):
    pass


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"

    def __init__(
        self, message: str = "There is no image here: it never existed, expired or was deleted."
    ) -> None:
        super().__init__(message)


class PayloadTooLarge(ApiError):
    status = 413
    code = "too_large"


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_type"


class IdempotencyMismatch(ApiError):
    status = 422
    code = "idempotency_key_reused"


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"


class Removed(ApiError):
    status = 451
    code = "removed"

    def __init__(self, message: str = "This image was removed by the moderators.") -> None:
        super().__init__(message)


class InsufficientStorage(ApiError):
    status = 507
    code = "storage_full"


class RequestTimeout(ApiError):
    status = 408
    code = "timeout"


class Blocked(ApiError):
    """An upload of content the moderators removed (same bytes or a perceptual near-copy)."""

    status = 451
    code = "blocked"

    def __init__(
        self,
        message: str = "This image was removed by the moderators and cannot be uploaded again.",
    ) -> None:
        super().__init__(message)


class ScannerRejected(ApiError):
    status = 422
    code = "rejected_by_scanner"


class ServiceUnavailable(ApiError):
    status = 503
    code = "unavailable"


class ScannerUnavailable(ServiceUnavailable):
    code = "scanner_unavailable"
