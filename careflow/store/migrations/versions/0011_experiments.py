"""A/B experiments: the experiment and variant of each message on the outreach ledger
(careflow/experiments/); older rows stay null

Revision ID: 0011_experiments
Revises: 0009_channels
Create Date: 2026-12-02 19:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0011_experiments'
down_revision = '0009_channels'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outreach_ledger', schema=None) as batch_op:
        batch_op.add_column(sa.Column('experiment', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('variant', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_outreach_ledger_experiment', ['experiment', 'variant'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outreach_ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_outreach_ledger_experiment')
        batch_op.drop_column('variant')
        batch_op.drop_column('experiment')
