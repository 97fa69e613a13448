"""Albums: one link for a batch of uploads.

Only an image's uploader can put it in an album (each image comes with its delete token), so an
album page never seems to come from someone else. An album shows its images that are still live,
and is gone (404) once none is: it expires with its images. Its own delete token deletes the
album and leaves the images, unless asked to delete them too: their uploader proved each one was
theirs when making the album.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend import ids
from backend.catalog import Catalog, ImageRecord
from backend.catalog.albums import AlbumCatalog, AlbumRecord
from backend.errors import BadRequest, Forbidden, NotFound
from backend.service import ImageService

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
    def __init__(self, catalog: Catalog, images: ImageService) -> None:
        self.catalog = catalog
        self.records = AlbumCatalog(catalog)
        self.images_service = images
        self.clock = images.clock

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

    def owned(self, album_id: str, token: str) -> AlbumRecord:
        """The album if `token` is its delete token: AlbumNotFound, else Forbidden."""
        album = self.records.get(album_id) if ids.is_valid_id(album_id) else None
        if album is None:
            raise AlbumNotFound()
        if not ids.token_matches(token, album.delete_token_hash):
            raise Forbidden("This delete token does not match the album.")
        return album

    def is_owner(self, album_id: str, token: str) -> bool:
        try:
            self.owned(album_id, token)
        except (NotFound, Forbidden):
            return False
        return True

    def to_delete(self, album_id: str, token: str) -> tuple[ImageRecord, ...]:
        """What the album's delete link would delete: its live images (checked like delete)."""
        self.owned(album_id, token)
        return self.images(album_id)

    def delete(self, album_id: str, token: str, with_images: bool = False) -> int:
        """Delete the album, and its images when asked. Returns how many images were deleted
        (those already gone or expired are skipped). The images go first: a retry after a
        failure finds the album still there and deletes what is left. AlbumNotFound when a
        delete running at the same time left this one nothing to delete."""
        album = self.owned(album_id, token)
        deleted = 0
        if with_images:
            now = self.clock()
            gone = self.catalog.delete_images([r.id for r in album.images if not r.expired(now)])
            for image in gone:
                if image.unused_blob is not None:
                    self.images_service.remove_unused_blob(image.unused_blob)
            deleted = len(gone)
        if not self.records.delete(album_id) and not deleted:
            raise AlbumNotFound()
        return deleted

    def forget_empty(self) -> int:
        """Housekeeping: drop the albums whose images are all gone (after expired uploads are
        purged). Returns how many."""
        return self.records.delete_empty()
