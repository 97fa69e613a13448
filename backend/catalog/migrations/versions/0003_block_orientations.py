"""blocks: the perceptual hashes of a blocked frame in its other orientations

Revision ID: 0003
Revises: 0002

Existing dhash blocks keep their single upright hash (NULL orientations): the pictures they were
made from were deleted at removal, and a turned picture's hash cannot be derived reliably from
the upright one (cells of equal grey, common on flat backgrounds, break the symmetry). Removing
the same content again fills them in.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("blocks") as batch:
        batch.add_column(sa.Column("orientations", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("blocks") as batch:
        batch.drop_column("orientations")
