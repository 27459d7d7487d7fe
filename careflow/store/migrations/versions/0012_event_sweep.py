"""events.handled_at: the direct event path's marker, swept when a crash left it NULL

Revision ID: 0012_event_sweep
Revises: 0011_experiments
Create Date: 2026-12-02 19:10:00.000000
"""

from alembic import op
import sqlalchemy as sa

from careflow.store.types import UtcDateTime


revision = '0012_event_sweep'
down_revision = '0011_experiments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handled_at', UtcDateTime(), nullable=True))
        batch_op.create_index('ix_events_pending', ['handled_at', 'received_at'], unique=False)
    # Every event stored before this version was handed to its workflow when it was
    # accepted: none of them is for the sweep.
    op.execute("UPDATE events SET handled_at = received_at")


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_pending')
        batch_op.drop_column('handled_at')
