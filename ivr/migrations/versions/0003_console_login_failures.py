"""console login failures, counted to rate-limit logins across web workers

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

import ivr.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failed_at", ivr.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_login_failure")),
    )
    op.create_index("ix_console_login_failure_key", "console_login_failure", ["username", "address", "failed_at"])
    op.create_index("ix_console_login_failure_address", "console_login_failure", ["address", "failed_at"])


def downgrade() -> None:
    op.drop_index("ix_console_login_failure_address", table_name="console_login_failure")
    op.drop_index("ix_console_login_failure_key", table_name="console_login_failure")
    op.drop_table("console_login_failure")
