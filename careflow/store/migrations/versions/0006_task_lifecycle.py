"""the staff loop: tasks staff claim, assign, complete or cancel (with an outcome and a
note), and a complaint's first response by staff (careflow/staffwork/)

Revision ID: 0006_task_lifecycle
Revises: 0005_console_sessions
Create Date: 2026-12-02 15:30:00.000000
"""

from alembic import op
import sqlalchemy as sa

from careflow.store.types import UtcDateTime


revision = '0006_task_lifecycle'
down_revision = '0005_console_sessions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('responded_at', UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('responded_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('response_note', sa.Text(), nullable=True))
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assigned_at', UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('closed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('note')
        batch_op.drop_column('outcome')
        batch_op.drop_column('closed_by')
        batch_op.drop_column('assigned_at')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_column('response_note')
        batch_op.drop_column('responded_by')
        batch_op.drop_column('responded_at')
