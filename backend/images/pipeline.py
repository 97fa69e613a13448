"""The upload path's one call: probe, strip, verify, and the content address of the result;
and what that call will cost in memory, known before it runs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from backend.images._limits import Limits
from backend.images.cost import decode_memory
from backend.images.formats import ImageInfo, probe
from backend.images.strip import strip_metadata
from backend.images.verify import verify_and_hash, verify_structure


@dataclass(frozen=True)
class Processed:
    data: bytes  # the stripped bytes: what is stored and served
    info: ImageInfo
    removed: tuple[str, ...]
    sha256: str  # hex digest of `data`, the blob store's content address
    # Perceptual hash (fingerprint.py) for the blocklist; None when the picture is too plain,
    # or when it was not asked for (`fingerprinted` False: computed later, off the upload path).
    dhash: str | None = None
    fingerprinted: bool = True


def process(
    data: bytes, limits: Limits, data_sha256: str | None = None, *, fingerprint: bool = True
) -> Processed:
    """Raise an ImageRejected subclass, or return the bytes that may be published.

    `data_sha256`: the SHA-256 of `data` when the caller has it already (the upload path hashes
    the body while it streams in); reused when stripping leaves the bytes as they were.
    `fingerprint`: compute the perceptual hash now (it decodes pixels); without it the image is
    checked structurally only (`verify_structure`).
    """
    info = probe(data, limits)
    stripped = strip_metadata(data, info)
    # The stripped bytes are what people will download, so those are the ones checked.
    dhash = None
    if fingerprint:
        dhash = verify_and_hash(stripped.data, info, limits)
    else:
        verify_structure(stripped.data, info, limits)
    return Processed(
        stripped.data,
        info,
        stripped.removed,
        data_sha256
        if data_sha256 is not None and stripped.data == data
        else hashlib.sha256(stripped.data).hexdigest(),
        dhash,
        fingerprint,
    )


def process_memory(data: bytes, limits: Limits) -> int:
    """The bytes of pixels `process(data, limits)` will hold at its peak, from the headers.
    Raises what `probe` raises."""
    return decode_memory(data, probe(data, limits))
