"""Reading an upload's body: multipart (`file`, `file[]`, `images[]`) or raw bytes.

Bodies are parsed as they stream in and counted as they arrive, so an oversized upload is refused
(413) as soon as it crosses the limit — before the rest is read, and at once when Content-Length
already says so. Small files stay in memory; bigger ones spill to an anonymous temporary file, so
many concurrent large uploads do not pile up in RAM.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from backend.errors import BadRequest, PayloadTooLarge, RequestTimeout, UnsupportedMediaType

FILE_FIELDS = {"file", "file[]", "images[]", "image"}
SPOOL_BYTES = 1024 * 1024
MAX_FIELD_BYTES = 1024
MULTIPART_OVERHEAD = 64 * 1024  # headers and boundaries around the file part


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

    def close(self) -> None:
        self.file.close()


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"This file is larger than the {limit / 1024 / 1024:g} MB limit of this server."
    )


async def _chunks(request: Request, stall_timeout: float | None) -> AsyncIterator[bytes]:
    """The body's chunks; RequestTimeout when none arrives for `stall_timeout` seconds."""
    stream = request.stream()
    try:
        while True:
            try:
                with anyio.fail_after(stall_timeout) if stall_timeout else contextlib.nullcontext():
                    chunk = await anext(stream)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise RequestTimeout(
                    f"The upload stalled: no data arrived for {stall_timeout:g} seconds."
                ) from None
            yield chunk
    finally:
        await stream.aclose()


async def read_upload(
    request: Request, max_bytes: int, stall_timeout: float | None = None
) -> UploadBody:
    ctype, params = parse_options_header(request.headers.get("content-type"))
    ctype = ctype.lower()
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise BadRequest("The Content-Length header is not a number.") from None
        if length > max_bytes + (MULTIPART_OVERHEAD if ctype == b"multipart/form-data" else 0):
            raise _too_large(max_bytes)
    if ctype == b"multipart/form-data":
        boundary = params.get(b"boundary")
        if not boundary:
            raise BadRequest("The multipart body has no boundary.")
        return await _read_multipart(request, boundary, max_bytes, stall_timeout)
    if ctype.startswith(b"image/") or ctype in (b"application/octet-stream", b""):
        return await _read_raw(request, max_bytes, stall_timeout)
    raise UnsupportedMediaType(
        "Send the image as multipart/form-data (field 'file') or as a raw image/* body."
    )


async def _read_raw(request: Request, max_bytes: int, stall_timeout: float | None) -> UploadBody:
    sink = _Spool(max_bytes)
    try:
        async with contextlib.aclosing(_chunks(request, stall_timeout)) as chunks:
            async for chunk in chunks:
                sink.write(chunk)
    except ClientDisconnect:
        sink.close()
        raise ClientGone() from None
    except BaseException:
        sink.close()
        raise
    return UploadBody(file=sink, filename=None)


async def _read_multipart(
    request: Request, boundary: bytes, max_bytes: int, stall_timeout: float | None
) -> UploadBody:
    reader = _MultipartReader(max_bytes)
    parser = MultipartParser(boundary, reader.callbacks())
    received = 0
    try:
        async with contextlib.aclosing(_chunks(request, stall_timeout)) as chunks:
            async for chunk in chunks:
                received += len(chunk)
                if received > max_bytes + MULTIPART_OVERHEAD:
                    raise _too_large(max_bytes)
                parser.write(chunk)
        parser.finalize()
    except MultipartParseError:
        reader.close()
        raise BadRequest("The multipart body is malformed.") from None
    except ClientDisconnect:
        reader.close()
        raise ClientGone() from None
    except BaseException:
        reader.close()
        raise
    return reader.result()


class _Spool:
    """Bytes in memory up to SPOOL_BYTES, then in an unlinked temporary file."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.sha256 = hashlib.sha256()
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise _too_large(self.limit)
        self.sha256.update(data)
        self._file.write(data)

    def getvalue(self) -> bytes:
        self._file.seek(0)
        return self._file.read()

    def close(self) -> None:
        self._file.close()


class _MultipartReader:
    """Collects the one file part and a few small text fields from python-multipart's events."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.fields: dict[str, str] = {}
        self.file: _Spool | None = None
        self.filename: str | None = None
        self.files_seen = 0
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
        if name in FILE_FIELDS or filename is not None:
            self.files_seen += 1
            if self.files_seen > 1:
                raise BadRequest("Send one file per request.")
            self._in_file = True
            self.filename = filename.decode("utf-8", "replace") if filename is not None else None
            self.file = _Spool(self.max_bytes)
        else:
            self._field_name = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            assert self.file is not None
            self.file.write(data[start:end])
        elif self._field_name is not None:
            self._field_value.extend(data[start:end])
            if len(self._field_value) > MAX_FIELD_BYTES:
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
