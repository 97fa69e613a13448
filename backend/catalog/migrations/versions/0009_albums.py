"""albums: one link for a batch of uploads (albums, album_images)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "albums",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("delete_token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "album_images",
        sa.Column("album_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("image_id", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("album_id", "position", name="pk_album_images"),
    )


def downgrade() -> None:
    op.drop_table("album_images")
    op.drop_table("albums")
