"""contact log is append-only: the database refuses UPDATE and DELETE

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MESSAGE = "contact_event is append-only"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER contact_event_no_{verb.lower()} BEFORE {verb} ON contact_event "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION contact_event_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER contact_event_append_only BEFORE UPDATE OR DELETE ON contact_event "
            "FOR EACH ROW EXECUTE FUNCTION contact_event_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER contact_event_no_update")
        op.execute("DROP TRIGGER contact_event_no_delete")
    else:
        op.execute("DROP TRIGGER contact_event_append_only ON contact_event")
        op.execute("DROP FUNCTION contact_event_append_only()")
