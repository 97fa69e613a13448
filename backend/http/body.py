"""Reading request bodies: an upload's (multipart `file`, `file[]`, `images[]`, or raw bytes) and
the small ones of forms and the JSON API (reports, admin notes).

Bodies are parsed as they stream in and counted as they arrive, so an oversized upload is refused
(413) as soon as it crosses the limit — before the rest is read, and at once when Content-Length
already says so. Small files stay in memory; bigger ones spill to an anonymous temporary file in
DATA_DIR/spool (the data directory the operator sized for it, not the system's /tmp), so many
concurrent large uploads do not pile up in RAM.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.requests import ClientDisconnect, Request

from backend.errors import BadRequest, PayloadTooLarge, RequestTimeout, UnsupportedMediaType

FILE_FIELDS = {"file", "file[]", "images[]", "image"}
SPOOL_BYTES = 1024 * 1024
SPOOL_DIR = "spool"  # under the data directory
MAX_FIELD_BYTES = 1024
MULTIPART_OVERHEAD = 64 * 1024  # headers and boundaries around the file part
MAX_SMALL_BODY = 16 * 1024
MAX_FORM_FIELDS = 20


class ClientGone(Exception):
    """The client disconnected before sending the whole body; there is nobody to answer."""


@dataclass
class UploadBody:
    """The received file (in memory or spilled to disk) and the small form fields around it.

    The caller must `close()` it. `read()` loads the bytes: do that only when a processing slot
    is free, so that waiting uploads hold no more memory than their spool.
    """

    file: _Spool
    filename: str | None
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        """Digest of the bytes as received (idempotency keys are matched against it)."""
        return self.file.sha256.hexdigest()

    def read(self) -> bytes:
        return self.file.getvalue()

    def write(self, data: bytes) -> None:
        """Add bytes that arrive another way (a URL upload's); PayloadTooLarge past the limit."""
        self.file.write(data)

    def close(self) -> None:
        self.file.close()


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"This file is larger than the {limit / 1024 / 1024:g} MB limit of this server."
    )


def empty_upload(request: Request, max_bytes: int) -> UploadBody:
    """An upload body to `write` into, spooled like a received one."""
    return UploadBody(_Spool(max_bytes, _spool_dir(request)), filename=None)


def _spool_dir(request: Request) -> Path:
    spool = Path(request.app.state.settings.data_dir, SPOOL_DIR)
    spool.mkdir(exist_ok=True)
    return spool


def _declared_length(request: Request) -> int | None:
    declared = request.headers.get("content-length")
    if declared is None:
        return None
    if not (declared.isascii() and declared.isdigit()):
        raise BadRequest("The Content-Length header is not a number.")
    return int(declared)


async def _each_chunk(
    request: Request, stall_timeout: float | None, take: Callable[[bytes], None]
) -> None:
    """`take` each of the body's chunks; RequestTimeout when none arrives for `stall_timeout`
    seconds. One cancel scope for the whole body, its deadline moved on at each chunk (a scope
    entered and left per chunk took ~2 % of an upload's Python time)."""
    stream = request.stream()
    try:
        with anyio.CancelScope() as scope:
            if stall_timeout:
                scope.deadline = anyio.current_time() + stall_timeout
            async for chunk in stream:
                if stall_timeout:
                    scope.deadline = anyio.current_time() + stall_timeout
                take(chunk)
    finally:
        await stream.aclose()
    if scope.cancelled_caught:
        raise RequestTimeout(f"The upload stalled: no data arrived for {stall_timeout:g} seconds.")


async def read_upload(
    request: Request, max_bytes: int, stall_timeout: float | None = None
) -> UploadBody:
    ctype, params = parse_options_header(request.headers.get("content-type"))
    ctype = ctype.lower()
    length = _declared_length(request)
    overhead = MULTIPART_OVERHEAD if ctype == b"multipart/form-data" else 0
    if length is not None and length > max_bytes + overhead:
        raise too_large(max_bytes)
    spool = _spool_dir(request)
    if ctype == b"multipart/form-data":
        boundary = params.get(b"boundary")
        if not boundary:
            raise BadRequest("The multipart body has no boundary.")
        return await _read_multipart(request, boundary, max_bytes, stall_timeout, spool)
    if ctype.startswith(b"image/") or ctype in (b"application/octet-stream", b""):
        return await _read_raw(request, max_bytes, stall_timeout, spool)
    raise UnsupportedMediaType(
        "Send the image as multipart/form-data (field 'file') or as a raw image/* body."
    )


async def _read_raw(
    request: Request, max_bytes: int, stall_timeout: float | None, spool: Path
) -> UploadBody:
    sink = _Spool(max_bytes, spool)
    try:
        await _each_chunk(request, stall_timeout, sink.write)
    except ClientDisconnect:
        sink.close()
        raise ClientGone() from None
    except BaseException:
        sink.close()
        raise
    return UploadBody(file=sink, filename=None)


async def _read_multipart(
    request: Request, boundary: bytes, max_bytes: int, stall_timeout: float | None, spool: Path
) -> UploadBody:
    reader = _MultipartReader(max_bytes, spool)
    parser = MultipartParser(boundary, reader.callbacks())
    received = 0

    def take(chunk: bytes) -> None:
        nonlocal received
        received += len(chunk)
        if received > max_bytes + MULTIPART_OVERHEAD:
            raise too_large(max_bytes)
        _write(parser, chunk)

    try:
        await _each_chunk(request, stall_timeout, take)
        _finish(parser)
    except ClientDisconnect:
        reader.close()
        raise ClientGone() from None
    except BaseException:
        reader.close()
        raise
    return reader.result()


def _write(parser: MultipartParser, data: bytes) -> None:
    try:
        parser.write(data)
    except MultipartParseError:
        raise BadRequest("The multipart body is malformed.") from None


def _finish(parser: MultipartParser) -> None:
    """End of the body: the parser must have seen the closing boundary."""
    try:
        parser.finalize()
    except MultipartParseError:
        raise BadRequest("The multipart body is malformed.") from None
    if parser.state != MultipartState.END:
        raise BadRequest("The multipart body ends before its closing boundary: it was cut off.")


class _Spool:
    """Bytes in memory up to SPOOL_BYTES, then in an unlinked temporary file in `directory`."""

    def __init__(self, limit: int, directory: Path) -> None:
        self.limit = limit
        self.size = 0
        self.sha256 = hashlib.sha256()
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, dir=directory)  # noqa: SIM115

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise too_large(self.limit)
        self.sha256.update(data)
        self._file.write(data)

    def getvalue(self) -> bytes:
        self._file.seek(0)
        return self._file.read()

    def close(self) -> None:
        self._file.close()


class _MultipartReader:
    """Collects the one file part and a few small text fields from python-multipart's events.
    Without a spool directory, a form of text fields only: a file part is refused."""

    def __init__(
        self, max_bytes: int, spool: Path | None, field_bytes: int = MAX_FIELD_BYTES
    ) -> None:
        self.max_bytes = max_bytes
        self.spool = spool
        self.field_bytes = field_bytes
        self.fields: dict[str, str] = {}
        self.file: _Spool | None = None
        self.filename: str | None = None
        self.files_seen = 0
        self.parts_seen = 0
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._field_name: str | None = None
        self._field_value = bytearray()
        self._in_file = False

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._header_name.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._field_name = None
        self._field_value = bytearray()
        self._in_file = False

    def _header_end(self) -> None:
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        if self.spool is None and filename is not None:
            raise BadRequest("This form takes text fields only, not files.")
        self.parts_seen += 1
        if self.parts_seen > MAX_FORM_FIELDS:
            raise BadRequest(f"The form has more than {MAX_FORM_FIELDS} fields.")
        if self.spool is not None and (name in FILE_FIELDS or filename is not None):
            self.files_seen += 1
            if self.files_seen > 1:
                raise BadRequest("Send one file per request.")
            self._in_file = True
            self.filename = filename.decode("utf-8", "replace") if filename is not None else None
            self.file = _Spool(self.max_bytes, self.spool)
        else:
            self._field_name = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            assert self.file is not None
            self.file.write(data[start:end])
        elif self._field_name is not None:
            self._field_value.extend(data[start:end])
            if len(self._field_value) > self.field_bytes:
                raise BadRequest(f"The form field {self._field_name!r} is too long.")

    def _part_end(self) -> None:
        if self._field_name is not None and not self._in_file:
            self.fields[self._field_name] = self._field_value.decode("utf-8", "replace")

    def result(self) -> UploadBody:
        if self.file is None:
            raise BadRequest("The form has no file: send the image in a field named 'file'.")
        return UploadBody(self.file, self.filename, self.fields)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


# -- small bodies: forms and the JSON API (reports, admin notes) ---------------------------------
def _small_too_large(limit: int) -> PayloadTooLarge:
    # Connection: close, or the server would read (and discard) the rest of the body.
    return PayloadTooLarge(
        f"This request is larger than {limit // 1024} KB.", headers={"Connection": "close"}
    )


async def small_body(request: Request, limit: int = MAX_SMALL_BODY) -> bytes:
    length = _declared_length(request)
    if length is not None and length > limit:
        raise _small_too_large(limit)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                raise _small_too_large(limit)
    except ClientDisconnect:
        raise BadRequest("The request body was cut off.") from None
    return bytes(body)


def parse_json_object(body: bytes) -> dict[str, Any]:
    """A JSON object from a client. Its size is bounded by the caller; its nesting depth by the
    parser's recursion limit, which ends as RecursionError: malformed, like any other garbage."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    return data


async def form_fields(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    """A JSON object, a urlencoded form or a multipart form (no files), as a dict."""
    body = await small_body(request)
    if allow_empty and not body.strip():
        return {}
    raw_type, params = parse_options_header(request.headers.get("content-type"))
    ctype = raw_type.decode("latin-1").lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        return parse_json_object(body)
    if ctype == "application/x-www-form-urlencoded":
        try:
            pairs = urllib.parse.parse_qsl(
                body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
            )
        except ValueError:
            raise BadRequest("The form is malformed.") from None
        return dict(pairs)
    if ctype == "multipart/form-data":
        return _multipart_fields(body, params.get(b"boundary"))
    raise UnsupportedMediaType(
        "Send the fields as JSON, application/x-www-form-urlencoded or multipart/form-data."
    )


def _multipart_fields(body: bytes, boundary: bytes | None) -> dict[str, Any]:
    if not boundary:
        raise BadRequest("The multipart body has no boundary.")
    reader = _MultipartReader(0, None, field_bytes=MAX_SMALL_BODY)
    parser = MultipartParser(boundary, reader.callbacks())
    _write(parser, body)
    _finish(parser)
    return reader.fields
