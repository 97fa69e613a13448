"""Albums in the catalog's database (tables from migration 0009): an album's rows and the
records of its images, in order."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, exists, insert, select

from backend.catalog.catalog import Catalog, ImageRecord
from backend.catalog.schema import album_images, albums, images


@dataclass(frozen=True)
class AlbumRecord:
    id: str
    delete_token_hash: str
    created_at: float
    images: tuple[ImageRecord, ...]  # those whose rows are still there, in the album's order


class AlbumCatalog:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def add(self, album_id: str, token_hash: str, image_ids: list[str], now: float) -> None:
        with self.catalog.writing() as conn:
            conn.execute(
                insert(albums).values(id=album_id, delete_token_hash=token_hash, created_at=now)
            )
            conn.execute(
                insert(album_images),
                [
                    {"album_id": album_id, "position": n, "image_id": image_id}
                    for n, image_id in enumerate(image_ids)
                ],
            )

    def get(self, album_id: str) -> AlbumRecord | None:
        with self.catalog.reading() as conn:
            album = conn.execute(select(albums).where(albums.c.id == album_id)).first()
            if album is None:
                return None
            rows = conn.execute(
                select(images)
                .join(album_images, album_images.c.image_id == images.c.id)
                .where(album_images.c.album_id == album_id)
                .order_by(album_images.c.position)
            ).all()
        return AlbumRecord(**album._mapping, images=tuple(ImageRecord(**r._mapping) for r in rows))

    def delete(self, album_id: str) -> bool:
        """The album's rows only: its images stay. False if it was gone already."""
        with self.catalog.writing() as conn:
            conn.execute(delete(album_images).where(album_images.c.album_id == album_id))
            return conn.execute(delete(albums).where(albums.c.id == album_id)).rowcount > 0

    def delete_empty(self) -> int:
        """Delete the albums none of whose images has a row left (they expired or went)."""
        has_image = exists(
            select(album_images.c.album_id)
            .join(images, images.c.id == album_images.c.image_id)
            .where(album_images.c.album_id == albums.c.id)
        )
        with self.catalog.writing() as conn:
            empty = list(conn.execute(select(albums.c.id).where(~has_image)).scalars())
            if empty:
                conn.execute(delete(album_images).where(album_images.c.album_id.in_(empty)))
                conn.execute(delete(albums).where(albums.c.id.in_(empty)))
        return len(empty)
