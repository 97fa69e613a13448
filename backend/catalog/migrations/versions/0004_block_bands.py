"""block_bands: the band index of the perceptual blocks (backend.catalog.bands)

Revision ID: 0004
Revises: 0003

Fills the index from the dhash blocks already there, each with its orientations.
"""

import sqlalchemy as sa
from alembic import op

from backend.catalog.bands import band_values

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "block_bands",
        sa.Column("band", sa.Integer, nullable=False),
        sa.Column("value", sa.Integer, nullable=False),
        sa.Column("block_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("band", "value", "block_id", name="pk_block_bands"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_block_bands_block", "block_bands", ["block_id"])
    rows = op.get_bind().execute(
        sa.text("SELECT id, value, orientations FROM blocks WHERE kind = 'dhash'")
    )
    bands = {
        (band, value, row.id)
        for row in rows
        for h in (row.value, *(row.orientations or "").split())
        for band, value in band_values(h)
    }
    if bands:
        op.bulk_insert(table, [{"band": b, "value": v, "block_id": i} for b, v, i in sorted(bands)])


def downgrade() -> None:
    op.drop_table("block_bands")
