"""feedback: live actuals on plan tasks, the feedback counter, feedback events, idempotency keys, issues

Execution feedback (`PUT /api/v1/plans/{id}`) updates the live task rows of the plan's
baseline version and appends one `feedback_events` row per task update; `plan_progress`
holds the plan-level counter that is the request's ETag; `idempotency_keys` the answers
given to requests sent with an Idempotency-Key; `plan_issues` the blocked and failed tasks.

Revision ID: 0005_feedback
Revises: 0004_lifecycle
Create Date: 2026-12-02 04:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0005_feedback'
down_revision = '0004_lifecycle'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('plan_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actual_start', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('actual_finish', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('remaining_hours', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('actual_cost', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('blocked_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('status_date', sa.DateTime(timezone=True), nullable=True))

    op.create_table('plan_progress',
    sa.Column('plan_id', sa.String(length=36), nullable=False),
    sa.Column('plan_version_id', sa.Integer(), nullable=False),
    sa.Column('feedback_seq', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_version_id'], ['plan_versions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('plan_id')
    )
    with op.batch_alter_table('plan_progress', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_progress_plan_version_id'), ['plan_version_id'], unique=False)

    op.create_table('feedback_events',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('plan_id', sa.String(length=36), nullable=False),
    sa.Column('plan_version_id', sa.Integer(), nullable=False),
    sa.Column('plan_task_id', sa.Integer(), nullable=False),
    sa.Column('task_key', sa.String(length=200), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('status_date', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('update', JSON, nullable=False),
    sa.Column('state', JSON, nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_task_id'], ['plan_tasks.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_version_id'], ['plan_versions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('feedback_events', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_events_plan_status_date', ['plan_id', 'status_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_events_plan_task_id'), ['plan_task_id'], unique=False)

    op.create_table('idempotency_keys',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('plan_id', sa.String(length=36), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_digest', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('response', JSON, nullable=False),
    sa.Column('etag', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('plan_id', 'key', name='uq_idempotency_keys_plan_key')
    )

    op.create_table('plan_issues',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('plan_id', sa.String(length=36), nullable=False),
    sa.Column('plan_version_id', sa.Integer(), nullable=False),
    sa.Column('plan_task_id', sa.Integer(), nullable=False),
    sa.Column('task_key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('severity', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('float_used_hours', sa.Float(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_by', sa.String(length=200), nullable=False),
    sa.Column('status_date', sa.DateTime(timezone=True), nullable=False),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=200), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('row_version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_task_id'], ['plan_tasks.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_version_id'], ['plan_versions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('plan_issues', schema=None) as batch_op:
        batch_op.create_index('ix_plan_issues_plan_status', ['plan_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_issues_plan_task_id'), ['plan_task_id'], unique=False)


def downgrade():
    with op.batch_alter_table('plan_issues', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_issues_plan_task_id'))
        batch_op.drop_index('ix_plan_issues_plan_status')
    op.drop_table('plan_issues')

    op.drop_table('idempotency_keys')

    with op.batch_alter_table('feedback_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_events_plan_task_id'))
        batch_op.drop_index('ix_feedback_events_plan_status_date')
    op.drop_table('feedback_events')

    with op.batch_alter_table('plan_progress', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_progress_plan_version_id'))
    op.drop_table('plan_progress')

    with op.batch_alter_table('plan_tasks', schema=None) as batch_op:
        batch_op.drop_column('status_date')
        batch_op.drop_column('blocked_reason')
        batch_op.drop_column('actual_cost')
        batch_op.drop_column('remaining_hours')
        batch_op.drop_column('actual_finish')
        batch_op.drop_column('actual_start')
