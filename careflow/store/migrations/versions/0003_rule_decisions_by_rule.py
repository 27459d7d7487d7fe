"""rule decisions by rule and time (the console's firing counts and latest decisions)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 20:00:00.000000
"""

from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rule_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_rule_decisions_rule_time', ['rule_id', 'decided_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rule_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_rule_decisions_rule_time')
