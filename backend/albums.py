"""Albums: one link for a batch of uploads.

Only an image's uploader can put it in an album (each image comes with its delete token), so an
album page never seems to come from someone else. An album shows its images that are still live,
and is gone (404) once none is: it expires with its images. Its own delete token deletes the
album and leaves the images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from backend import ids
from backend.catalog import Catalog, ImageRecord
from backend.catalog.albums import AlbumCatalog
from backend.errors import BadRequest, Forbidden, NotFound

MAX_ALBUM_IMAGES = 100


class AlbumNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "There is no album here: it never existed, was deleted, or its images expired."
        )


@dataclass(frozen=True)
class NewAlbum:
    id: str
    delete_token: str
    images: tuple[ImageRecord, ...]


class Albums:
    def __init__(self, catalog: Catalog, clock: Callable[[], float]) -> None:
        self.catalog = catalog
        self.records = AlbumCatalog(catalog)
        self.clock = clock

    def _live(self, record: ImageRecord | None) -> bool:
        return record is not None and record.removed_at is None and not record.expired(self.clock())

    def create(self, members: list[tuple[str, str]]) -> NewAlbum:
        """An album of these (image id, delete token) pairs, in this order."""
        if not 1 <= len(members) <= MAX_ALBUM_IMAGES:
            raise BadRequest(f"An album holds 1 to {MAX_ALBUM_IMAGES} images.")
        if len({image_id for image_id, _token in members}) != len(members):
            raise BadRequest("An album names each image once.")
        records = []
        for image_id, token in members:
            record = self.catalog.get(image_id) if ids.is_valid_id(image_id) else None
            if not self._live(record):
                raise NotFound(f"There is no image {image_id!r} to put in an album.")
            if not ids.token_matches(token, record.delete_token_hash):
                raise Forbidden(f"The delete token of image {image_id!r} does not match.")
            records.append(record)
        album_id, token = ids.new_id(), ids.new_delete_token()
        self.records.add(album_id, ids.hash_token(token), [r.id for r in records], self.clock())
        return NewAlbum(album_id, token, tuple(records))

    def images(self, album_id: str) -> tuple[ImageRecord, ...]:
        """The album's live images; AlbumNotFound when there is none."""
        album = self.records.get(album_id) if ids.is_valid_id(album_id) else None
        shown = tuple(r for r in album.images if self._live(r)) if album else ()
        if not shown:
            raise AlbumNotFound()
        return shown

    def delete(self, album_id: str, token: str) -> None:
        album = self.records.get(album_id) if ids.is_valid_id(album_id) else None
        if album is None:
            raise AlbumNotFound()
        if not ids.token_matches(token, album.delete_token_hash):
            raise Forbidden("This delete token does not match the album.")
        self.records.delete(album_id)

    def forget_empty(self) -> int:
        """Housekeeping: drop the albums whose images are all gone (after expired uploads are
        purged). Returns how many."""
        return self.records.delete_empty()
