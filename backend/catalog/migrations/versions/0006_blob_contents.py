"""blobs.sha256: the content a blob holds, so an upload finds a live copy of its bytes by hash

Revision ID: 0006
Revises: 0005

New blobs are stored under a key of their own (content hash plus a generation), so an object is
never written again under a key that a delete may be removing; uploads of the same bytes find the
live one through this column. Existing keys are `<2 hex>/<64 hex>.<ext>`: the hash is filled
from them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("blobs") as batch:
        batch.add_column(sa.Column("sha256", sa.String(64), nullable=True))
    op.execute("UPDATE blobs SET sha256 = substr(key, 4, 64)")
    op.create_index("ix_blobs_sha256", "blobs", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_blobs_sha256", "blobs")
    with op.batch_alter_table("blobs") as batch:
        batch.drop_column("sha256")
