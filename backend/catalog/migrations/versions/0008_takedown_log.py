"""takedowns: the log of removals and unblocks that a restore re-applies; catalog_state

Revision ID: 0008
Revises: 0007

Each removal (with the hashes it blocked) and each unblock, in order, with an ID of its own, so a
restore of an older backup can re-apply the ones the backup lacks (backend/backups.py). Filled
from the blocks already there: one removal per image that added blocks. `catalog_state` holds
settings the catalog keeps about itself (a restore's hold on the orphan sweep).
"""

import json
import uuid
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "takedowns",
        sa.Column("uid", sa.String(32), primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("image_id", sa.String(32), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_takedowns_at", "takedowns", ["at"])
    op.create_table(
        "catalog_state",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    removals: dict[str, list] = defaultdict(list)
    for row in op.get_bind().execute(
        sa.text("SELECT kind, value, image_id, created_at, orientations FROM blocks ORDER BY id")
    ):
        removals[row.image_id or ""].append(row)
    op.bulk_insert(
        table,
        [
            {
                "uid": uuid.uuid4().hex,
                "at": min(r.created_at for r in rows),
                "actor": "migration",
                "action": "remove",
                "image_id": image_id or None,
                "detail": json.dumps(
                    {"hashes": [[r.kind, r.value, (r.orientations or "").split()] for r in rows]}
                ),
            }
            for image_id, rows in removals.items()
        ],
    )


def downgrade() -> None:
    op.drop_table("catalog_state")
    op.drop_index("ix_takedowns_at", "takedowns")
    op.drop_table("takedowns")
