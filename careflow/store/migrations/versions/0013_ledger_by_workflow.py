"""the outreach ledger indexed by workflow: a campaign's status and console page count its
rows (`workflow_id = campaign-NAME`) without reading the whole ledger

Revision ID: 0013_ledger_by_workflow
Revises: 0012_event_sweep
Create Date: 2026-12-02 20:00:00.000000
"""

from alembic import op


revision = '0013_ledger_by_workflow'
down_revision = '0012_event_sweep'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outreach_ledger', schema=None) as batch_op:
        batch_op.create_index('ix_outreach_ledger_workflow', ['workflow_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outreach_ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_outreach_ledger_workflow')
