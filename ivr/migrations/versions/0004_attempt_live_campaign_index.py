"""live attempts per campaign: a partial index for the dialer's budget query

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attempt_live_campaign",
            ["campaign_id"],
            unique=False,
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )


def downgrade() -> None:
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_attempt_live_campaign",
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )
