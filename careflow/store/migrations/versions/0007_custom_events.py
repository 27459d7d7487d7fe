"""events of types declared in rules/events.yaml, with their properties
(careflow/custom_events/)

Revision ID: 0007_custom_events
Revises: 0006_task_lifecycle
Create Date: 2026-12-02 15:30:00.000000
"""

from alembic import op
import sqlalchemy as sa

from careflow.store.types import UtcDateTime


revision = '0007_custom_events'
down_revision = '0006_task_lifecycle'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('custom_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('occurred_at', UtcDateTime(), nullable=False),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('custom_events', schema=None) as batch_op:
        batch_op.create_index(
            'ix_custom_events_type_customer_time', ['type', 'customer_id', 'occurred_at'],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('custom_events', schema=None) as batch_op:
        batch_op.drop_index('ix_custom_events_type_customer_time')
    op.drop_table('custom_events')
