"""console sessions kept on the server, so logout, a password change or a user's
removal ends them (careflow/console/session.py)

Revision ID: 0005_console_sessions
Revises: 0004_one_answer_per_survey
Create Date: 2026-12-02 12:45:00.000000
"""

from alembic import op
import sqlalchemy as sa

from careflow.store.types import UtcDateTime


revision = '0005_console_sessions'
down_revision = '0004_one_answer_per_survey'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.Column('expires_at', UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['console_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_console_sessions_user', ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_console_sessions_user')
    op.drop_table('console_sessions')
