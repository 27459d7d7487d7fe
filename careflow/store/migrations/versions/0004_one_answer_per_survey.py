"""one answer per survey: survey_responses.workflow_id is unique (NULLs aside)

A journey's survey is answered once (issue 16): the intake refuses a second answer,
and this index makes that hold for concurrent answers too. Answers recorded twice
before it keep their scores (the satisfaction KPIs counted them), but only the first
keeps the link to its journey.

Revision ID: 0004_one_answer_per_survey
Revises: 0003
Create Date: 2026-12-02 13:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0004_one_answer_per_survey'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    responses = sa.table(
        'survey_responses', sa.column('id', sa.Integer()), sa.column('workflow_id', sa.String())
    )
    first = (
        sa.select(sa.func.min(responses.c.id))
        .where(responses.c.workflow_id.is_not(None))
        .group_by(responses.c.workflow_id)
    )
    op.execute(
        responses.update()
        .where(responses.c.workflow_id.is_not(None), responses.c.id.not_in(first))
        .values(workflow_id=None)
    )
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.create_index('ux_survey_responses_workflow_id', ['workflow_id'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.drop_index('ux_survey_responses_workflow_id')
