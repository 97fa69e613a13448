"""Perceptual hashes left for later (backend.moderation: `fingerprint_at_upload`), computed as
image work: charged to the byte budget, in a slot small uploads never wait behind, with the
decode deadline. Run by a background loop, and at once for an image that has just been reported
(its uploader may delete it a moment later: the report must keep its hash, so that the picture
can still be blocked)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

import anyio

from backend.catalog import ImageRecord
from backend.errors import NotFound
from backend.http.imagework import ImageWork
from backend.images import ImageRejected
from backend.moderation import Fingerprinted, Moderation
from backend.storage import StorageUnavailable

log = logging.getLogger(__name__)


async def compute(work: ImageWork, moderation: Moderation, due: list[ImageRecord]) -> None:
    """Each image's bytes are read inside its jobs, charged: a batch is never in memory at once.
    Raises StorageUnavailable (after keeping the hashes made) when the store cannot be read."""
    done = []
    try:
        for record in due:
            try:
                done.append(
                    await work.background(
                        functools.partial(moderation.fingerprint_memory, record),
                        functools.partial(moderation.fingerprint, record),
                        extra_memory=record.size,
                    )
                )
            except ImageRejected as exc:  # undecodable, too slow: it keeps no hash
                log.warning("upload %s keeps no perceptual hash: %s", record.id, exc)
                done.append(Fingerprinted(record.id, None))
            except NotFound:  # its blob is missing: it keeps no hash
                done.append(Fingerprinted(record.id, None))
    finally:
        await anyio.to_thread.run_sync(moderation.record_fingerprints, done)


async def for_report(work: ImageWork, moderation: Moderation, image_id: str) -> None:
    """The hash of a just-reported image, now, if it is still due."""
    due = await anyio.to_thread.run_sync(
        functools.partial(moderation.fingerprints_due, 1, image_id)
    )
    if due:
        with contextlib.suppress(StorageUnavailable):  # the background pass makes it later
            await compute(work, moderation, due)


async def forever(work: ImageWork, moderation: Moderation, interval: float) -> None:
    """Passes, with a pause between them."""
    while True:
        try:
            await one_pass(work, moderation)
        except Exception as exc:  # an outage (database, store): one line, retried next interval
            why = next(iter(str(exc).splitlines()), "")
            log.warning("perceptual hash pass failed (%s: %s)", type(exc).__name__, why)
        await asyncio.sleep(interval)


async def one_pass(work: ImageWork, moderation: Moderation) -> bool:
    """Every hash due, a few at a time so that uploads take turns with them; False when another
    process (of this server or another replica) is making them: both would hash the same
    uploads, and take a copy of removed content down twice."""
    held = moderation.catalog.exclusive("fingerprints")
    mine = await anyio.to_thread.run_sync(held.__enter__)
    try:
        if mine:
            while due := await anyio.to_thread.run_sync(moderation.fingerprints_due):
                await compute(work, moderation, due)
        return mine
    finally:  # in a thread: on PostgreSQL the unlock is a query
        await anyio.to_thread.run_sync(held.__exit__, None, None, None)
