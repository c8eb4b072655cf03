"""attempts: when reconciliation next asks the carrier about a live call, so that long
calls are not asked about at every tick by every worker and none is starved

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

import ivr.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reconcile_after", ivr.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.drop_column("reconcile_after")
