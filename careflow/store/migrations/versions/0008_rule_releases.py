"""rule releases: the whole operator configuration as versioned data in the store, the
activation history, and the release id on decisions, journeys and messages
(careflow/releases/)

Revision ID: 0008_rule_releases
Revises: 0007_custom_events
Create Date: 2026-12-02 15:30:00.000000
"""

from alembic import op
import sqlalchemy as sa

from careflow.store.types import UtcDateTime


revision = '0008_rule_releases'
down_revision = '0007_custom_events'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('releases',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('proposed_by', sa.String(length=64), nullable=False),
    sa.Column('proposed_at', UtcDateTime(), nullable=False),
    sa.Column('check_status', sa.String(length=16), nullable=True),
    sa.Column('check_report', sa.JSON(), nullable=True),
    sa.Column('checked_by', sa.String(length=64), nullable=True),
    sa.Column('checked_at', UtcDateTime(), nullable=True),
    sa.Column('backtest', sa.JSON(), nullable=True),
    sa.Column('backtested_at', UtcDateTime(), nullable=True),
    sa.Column('approved_by', sa.String(length=64), nullable=True),
    sa.Column('approved_at', UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('release_files',
    sa.Column('release_id', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['release_id'], ['releases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('release_id', 'path')
    )
    op.create_table('release_activations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('release_id', sa.String(length=64), nullable=False),
    sa.Column('previous_release_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('activated_by', sa.String(length=64), nullable=False),
    sa.Column('activated_at', UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['release_id'], ['releases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    for table in ('rule_decisions', 'journeys', 'outreach_ledger'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('release_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    for table in ('outreach_ledger', 'journeys', 'rule_decisions'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('release_id')
    op.drop_table('release_activations')
    op.drop_table('release_files')
    op.drop_table('releases')
