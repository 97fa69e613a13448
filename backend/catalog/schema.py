"""The catalog's tables (SQLAlchemy Core). Changes go through a migration in `migrations/`."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

images = Table(
    "images",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("blob_key", String(128), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("mime", String(32), nullable=False),
    Column("ext", String(8), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("size", Integer, nullable=False),
    Column("frames", Integer, nullable=False, default=1),
    Column("delete_token_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    # Set when a moderator removes the image: it answers 451 from then on.
    Column("removed_at", Float, nullable=True),
    Index("ix_images_blob_key", "blob_key"),
    Index("ix_images_expires_at", "expires_at"),
)

# One row per stored blob; `refcount` counts the images that use it. A blob's object is deleted in
# the same transaction that takes its refcount to zero, so it can never vanish under a new upload.
blobs = Table(
    "blobs",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("refcount", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
)

# Replays of an upload carrying the same Idempotency-Key. The key is stored only as a hash, and the
# delete token is kept encrypted with a key derived from the Idempotency-Key itself, so the database
# alone reveals neither.
idempotency = Table(
    "idempotency",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("image_id", String(32), nullable=False),
    Column("request_sha256", String(64), nullable=False),
    Column("sealed_token", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_idempotency_created_at", "created_at"),
)
