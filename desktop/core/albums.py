"""Albums: one link for a batch of uploads to a picdrop server (its POST /api/albums).

Which uploads make the album, asking the server for it, and the sentences for what went wrong.
Qt-free: the app runs it on a worker thread, the `picdrop upload --album` command directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from desktop.core.api import AlbumResult, ApiError, PicdropClient, PicdropError, ServerUnreachable
from desktop.core.jobs import Job, JobState
from desktop.core.pipeline import is_picdrop_server
from desktop.core.uploader import describe_error

# An album links a batch: one image needs no album.
MIN_ALBUM_IMAGES = 2


class AlbumFailed(PicdropError):
    """The album was not made; str() says why in plain words."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable  # the server gave no answer at all


@dataclass(frozen=True)
class AlbumRequest:
    """The uploads an album would hold, oldest first, and the server they are on."""

    server: str
    members: tuple[tuple[str, str], ...]  # (image id, delete token)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(image_id for image_id, _token in self.members)


def album_request(jobs: Iterable[Job]) -> AlbumRequest | None:
    """The album of these jobs' finished uploads on the picdrop server the newest of them went
    to (albums are picdrop's: a ShareX custom uploader has none); None when that is fewer than
    MIN_ALBUM_IMAGES."""
    done = [
        job
        for job in jobs
        if job.state is JobState.DONE
        and job.result is not None
        and is_picdrop_server(job.destination)
    ]
    if not done:
        return None
    server = done[-1].destination
    members = tuple(
        (job.result.id, job.result.delete_token)
        for job in done
        if job.destination == server and job.result is not None
    )
    return AlbumRequest(server, members) if len(members) >= MIN_ALBUM_IMAGES else None


def make_album(client: PicdropClient, request: AlbumRequest) -> AlbumResult:
    """Ask the server for the album; AlbumFailed with a sentence for a person when it is not
    made."""
    try:
        return client.create_album(list(request.members))
    except ApiError as exc:
        if no_albums(exc):
            raise AlbumFailed(
                f"{request.server} cannot make albums (its picdrop is older than albums). "
                "Copy all links instead, or update the server."
            ) from exc
        raise AlbumFailed(f"The album was not made: {describe_error(exc)}") from exc
    except PicdropError as exc:
        raise AlbumFailed(
            f"The album was not made: {describe_error(exc)}",
            unreachable=isinstance(exc, ServerUnreachable),
        ) from exc


def no_albums(exc: ApiError) -> bool:
    """The server has no /api/albums at all. A picdrop server with albums answers 404 only for
    an image it cannot put in one, and says so by naming the image."""
    return exc.status == 405 or (exc.status == 404 and "image" not in exc.message.lower())


def delete_album(client: PicdropClient, album_id: str, delete_token: str) -> None:
    """Delete the album (its images stay); already gone (deleted, or its images expired) counts
    as deleted."""
    try:
        client.delete_album(album_id, delete_token)
    except ApiError as exc:
        if exc.status != 404:
            raise
