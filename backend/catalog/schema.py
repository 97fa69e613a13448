"""The catalog's tables (SQLAlchemy Core). Changes go through a migration in `migrations/`."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

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
    # Perceptual hash of the stored image (backend.images.fingerprint), for blocking on removal.
    Column("dhash", String(32), nullable=True),
    Index("ix_images_blob_key", "blob_key"),
    Index("ix_images_expires_at", "expires_at"),
)

# One row per stored blob; `refcount` counts the images that use it. The row goes when the count
# reaches zero and the object is deleted after that commit. A key is written once and never
# reused, so no upload can adopt an object that a delete is removing (see catalog.py); `sha256`
# (migration 0006) finds the live blob of the same bytes.
blobs = Table(
    "blobs",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("refcount", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("sha256", String(64), nullable=True),
    Index("ix_blobs_sha256", "sha256"),
)

# Uploads whose perceptual hash was left for later (migration 0007): with no perceptual blocks an
# upload need not decode pixels before its 201, and a background pass fills `images.dhash`.
pending_fingerprints = Table(
    "pending_fingerprints",
    metadata,
    Column("image_id", String(32), primary_key=True),
    Column("queued_at", Float, nullable=False),
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

# -- moderation (migration 0002) ---------------------------------------------------------------
# Reports carry no reporter identity at all: no address, no hash of one, no cookie. The content
# hashes are copied in, so content that was reported and then deleted can still be blocked.
REPORT_REASONS = ("illegal", "non_consensual", "violence", "spam", "copyright", "other")
reports = Table(
    "reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("image_id", String(32), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("details", Text, nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("dhash", String(32), nullable=True),
    Column("created_at", Float, nullable=False),
    # open -> dismissed (a moderator found nothing wrong) or actioned (the image was removed)
    Column("status", String(16), nullable=False),
    Column("resolved_at", Float, nullable=True),
    Index("ix_reports_status_image", "status", "image_id"),
    Index("ix_reports_image", "image_id"),
)

# Each image with open reports: how many and since when (migration 0005), kept current with the
# reports, so that the admin listing, most reported first, reads a page of an index.
report_groups = Table(
    "report_groups",
    metadata,
    Column("image_id", String(32), primary_key=True),
    Column("open_count", Integer, nullable=False),
    Column("first_at", Float, nullable=False),
    Index("ix_report_groups_order", "open_count", "first_at", "image_id"),
)

# Content that may not come back: the SHA-256 of removed bytes, or a perceptual hash of one of
# their frames (upright; `orientations` holds it mirrored and turned, from migration 0003).
blocks = Table(
    "blocks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # "sha256" or "dhash"
    Column("value", String(64), nullable=False),
    Column("image_id", String(32), nullable=True),  # the removal that added it
    Column("created_at", Float, nullable=False),
    Column("note", Text, nullable=True),
    # dhash only: the frame's hashes in its other orientations, space-separated. NULL for blocks
    # whose picture could not be read when they were made (older blocks, deleted uploads).
    Column("orientations", Text, nullable=True),
    UniqueConstraint("kind", "value", name="uq_blocks_kind_value"),
)

# The band index of the dhash blocks (backend.catalog.bands, migration 0004): a row for each band
# value of each of a block's hashes, so a check looks up candidates instead of scanning blocks.
block_bands = Table(
    "block_bands",
    metadata,
    Column("band", Integer, nullable=False),
    Column("value", Integer, nullable=False),
    Column("block_id", Integer, nullable=False),
    PrimaryKeyConstraint("band", "value", "block_id", name="pk_block_bands"),
    Index("ix_block_bands_block", "block_id"),
    sqlite_with_rowid=False,
)

# Every admin action, appended (the database refuses UPDATE and DELETE on it: see 0002).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(16), nullable=False),  # "api" or "cli": admins have no identity here
    Column("action", String(32), nullable=False),
    Column("target", String(64), nullable=True),
    Column("detail", Text, nullable=True),  # JSON
    Index("ix_audit_log_at", "at"),
)

# The takedown log (migration 0008): each removal with the hashes it blocked, and each unblock,
# in order. A restore of an older backup re-applies the entries it lacks (backend/backups.py).
takedowns = Table(
    "takedowns",
    metadata,
    Column("uid", String(32), primary_key=True),
    Column("at", Float, nullable=False),
    Column("actor", String(16), nullable=False),
    Column("action", String(16), nullable=False),  # "remove" or "unblock"
    Column("image_id", String(32), nullable=True),
    Column("detail", Text, nullable=False),  # JSON: {"hashes": [[kind, value, [turned...]]...]}
    Index("ix_takedowns_at", "at"),
)

# What the catalog keeps about itself (migration 0008): "sweep_hold" while a restored catalog
# must not remove blobs it does not know (backend/backups.py); "blocklist_version", new with each
# change of the perceptual blocks (backend/catalog/moderation.py: every such change goes there).
catalog_state = Table(
    "catalog_state",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", Text, nullable=False),
)

# -- albums (migration 0009) ---------------------------------------------------------------------
# One link for a batch of uploads. An album holds no images of its own: its rows name images, and
# it shows those still live (it answers 404 once none is: it expires with its images). Deleting
# it with its own token deletes these rows only.
albums = Table(
    "albums",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("delete_token_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
)
album_images = Table(
    "album_images",
    metadata,
    Column("album_id", String(32), nullable=False),
    Column("position", Integer, nullable=False),
    Column("image_id", String(32), nullable=False),
    PrimaryKeyConstraint("album_id", "position", name="pk_album_images"),
)
