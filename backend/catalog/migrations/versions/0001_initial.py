"""images, blobs and idempotency keys

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("blob_key", sa.String(128), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("mime", sa.String(32), nullable=False),
        sa.Column("ext", sa.String(8), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("frames", sa.Integer, nullable=False),
        sa.Column("delete_token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.Column("removed_at", sa.Float, nullable=True),
    )
    op.create_index("ix_images_blob_key", "images", ["blob_key"])
    op.create_index("ix_images_expires_at", "images", ["expires_at"])
    op.create_table(
        "blobs",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("refcount", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "idempotency",
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("image_id", sa.String(32), nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("sealed_token", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_idempotency_created_at", "idempotency", ["created_at"])


def downgrade() -> None:
    op.drop_table("idempotency")
    op.drop_table("blobs")
    op.drop_table("images")
