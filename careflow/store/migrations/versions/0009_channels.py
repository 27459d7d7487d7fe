"""customers' preferred channel, SMS delivery receipts on the ledger; outbound events, webhook deliveries and endpoint
states (careflow/webhooks/)

Revision ID: 0009_channels
Revises: 0008_rule_releases
Create Date: 2026-12-02 15:30:00.000000
"""

from alembic import op
import sqlalchemy as sa

from careflow.store.types import UtcDateTime


revision = '0009_channels'
down_revision = '0008_rule_releases'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preferred_channel', sa.String(length=8), nullable=True))
    with op.batch_alter_table('outreach_ledger', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('receipt_at', UtcDateTime(), nullable=True))

    op.create_table('outbound_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_key', sa.String(length=500), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', UtcDateTime(), nullable=False),
    sa.Column('fanned_out_at', UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_key')
    )
    with op.batch_alter_table('outbound_events', schema=None) as batch_op:
        batch_op.create_index('ix_outbound_events_pending', ['fanned_out_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_events_customer_id'), ['customer_id'], unique=False)

    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.String(length=64), nullable=False),
    sa.Column('endpoint', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', UtcDateTime(), nullable=False),
    sa.Column('claimed_until', UtcDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.Column('delivered_at', UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['outbound_events.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('delivery_id')
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_event_id'), ['event_id'], unique=False)

    op.create_table('webhook_endpoints',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('paused_at', UtcDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_success_at', UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('webhook_endpoints')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_event_id'))
        batch_op.drop_index('ix_webhook_deliveries_due')
    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('outbound_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_events_customer_id'))
        batch_op.drop_index('ix_outbound_events_pending')
    op.drop_table('outbound_events')
    with op.batch_alter_table('outreach_ledger', schema=None) as batch_op:
        batch_op.drop_column('receipt_at')
        batch_op.drop_column('receipt')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('preferred_channel')
