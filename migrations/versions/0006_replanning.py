"""replanning: version modes and replan facts, replan triggers, pool changes, the scan's bookkeeping

A replan writes version n+1 of an executing plan (`plan_versions.mode = 'replan'`, the version it
replaces, its status date, the moment its dates derive from). `replan_triggers` keeps why (the
scan's fired triggers with their evidence, or a person's reason), one per (plan, window): the
key that makes a replan happen once. `plan_pool_changes` records the pool capacity changes
`PUT /api/v1/resources` flags. `plans.replan_checked_at` / `last_auto_replan_at` let the beat
scan skip plans with nothing new and debounce automatic replans.

Revision ID: 0006_replanning
Revises: 0005_feedback
Create Date: 2026-12-02 03:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0006_replanning'
down_revision = '0005_feedback'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replan_checked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_auto_replan_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('plan_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mode', sa.String(length=20), server_default='plan', nullable=False))
        batch_op.add_column(sa.Column('replan_of', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('status_date', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('origin_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('replan_triggers',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('plan_id', sa.String(length=36), nullable=False),
    sa.Column('window_key', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('kinds', JSON, nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('evidence', JSON, nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('plan_id', 'window_key', name='uq_replan_triggers_plan_window')
    )

    op.create_table('plan_pool_changes',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('plan_id', sa.String(length=36), nullable=False),
    sa.Column('pool', sa.String(length=100), nullable=False),
    sa.Column('old_capacity', sa.Integer(), nullable=False),
    sa.Column('new_capacity', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('plan_pool_changes', schema=None) as batch_op:
        batch_op.create_index('ix_plan_pool_changes_plan_at', ['plan_id', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('plan_pool_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_plan_pool_changes_plan_at')
    op.drop_table('plan_pool_changes')
    op.drop_table('replan_triggers')
    with op.batch_alter_table('plan_versions', schema=None) as batch_op:
        batch_op.drop_column('origin_at')
        batch_op.drop_column('status_date')
        batch_op.drop_column('replan_of')
        batch_op.drop_column('mode')
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_column('last_auto_replan_at')
        batch_op.drop_column('replan_checked_at')
