"""pending_fingerprints: uploads whose perceptual hash a background pass computes

Revision ID: 0007
Revises: 0006

With no perceptual blocks, an upload is answered without decoding its pixels; its ID waits here
until the hash is filled in.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_fingerprints",
        sa.Column("image_id", sa.String(32), primary_key=True),
        sa.Column("queued_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pending_fingerprints")
