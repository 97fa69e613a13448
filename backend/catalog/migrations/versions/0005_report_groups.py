"""report_groups: each image with open reports, its count and first report, in listing order

Revision ID: 0005
Revises: 0004

The admin listing (most reported first) then reads one page of an index instead of grouping
every open report on every page. Filled from the open reports already there.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_groups",
        sa.Column("image_id", sa.String(32), primary_key=True),
        sa.Column("open_count", sa.Integer, nullable=False),
        sa.Column("first_at", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_report_groups_order", "report_groups", ["open_count", "first_at", "image_id"]
    )
    op.execute(
        "INSERT INTO report_groups (image_id, open_count, first_at)"
        " SELECT image_id, COUNT(*), MIN(created_at) FROM reports"
        " WHERE status = 'open' GROUP BY image_id"
    )


def downgrade() -> None:
    op.drop_table("report_groups")
