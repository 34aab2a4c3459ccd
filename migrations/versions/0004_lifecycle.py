"""lifecycle: plan states, approvals, the baseline version, task uids

Plans move queued -> planning -> ready -> approved -> executing -> completed (or rejected,
cancelled, failed); versions queued -> planning -> ready (or failed, cancelled, superseded),
as planning/lifecycle.py says. Existing rows are renamed: running -> planning, and a
completed plan (version) -> ready, awaiting approval (nobody approved it). Task rows get
their uid (uuid5 of plan id and task id, as planning/identity.py computes it).

Revision ID: 0004_lifecycle
Revises: 0003
Create Date: 2026-12-02 02:30:00.000000

"""
import uuid

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0004_lifecycle'
down_revision = '0003'
branch_labels = None
depends_on = None

# Frozen copy of planning/identity.py (a migration must not change when the code does).
TASK_NAMESPACE = uuid.UUID("6f1c1c52-3d5e-5b8e-9a57-2a9c0d3e4b10")

plans = sa.table('plans', sa.column('status', sa.String))
versions = sa.table('plan_versions', sa.column('status', sa.String))
tasks = sa.table('plan_tasks', sa.column('id', sa.Integer), sa.column('plan_version_id', sa.Integer),
                 sa.column('task_key', sa.String), sa.column('uid', sa.String))
version_ids = sa.table('plan_versions', sa.column('id', sa.Integer), sa.column('plan_id', sa.String))


def _rename(table, mapping):
    for old, new in mapping.items():
        op.execute(table.update().where(table.c.status == old).values(status=new))


def upgrade():
    op.create_table('plan_approvals',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('plan_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('auto', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('plan_id', 'version', name='uq_plan_approvals_plan_version')
    )
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('baseline_version', sa.Integer(), nullable=True))

    with op.batch_alter_table('plan_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uid', sa.String(length=36), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(tasks.c.id, version_ids.c.plan_id, tasks.c.task_key)
        .join(version_ids, version_ids.c.id == tasks.c.plan_version_id)).all()
    if rows:
        connection.execute(
            tasks.update().where(tasks.c.id == sa.bindparam('b_id')).values(uid=sa.bindparam('b_uid')),
            [{'b_id': row.id, 'b_uid': str(uuid.uuid5(TASK_NAMESPACE, f'{row.plan_id}/{row.task_key}'))}
             for row in rows])
    with op.batch_alter_table('plan_tasks', schema=None) as batch_op:
        batch_op.alter_column('uid', existing_type=sa.String(length=36), nullable=False)
        batch_op.create_index(batch_op.f('ix_plan_tasks_uid'), ['uid'], unique=False)

    _rename(versions, {'running': 'planning', 'completed': 'ready'})
    _rename(plans, {'running': 'planning', 'completed': 'ready'})


def downgrade():
    _rename(versions, {'planning': 'running', 'ready': 'completed', 'superseded': 'completed'})
    _rename(plans, {'planning': 'running', 'ready': 'completed', 'approved': 'completed',
                    'executing': 'completed', 'rejected': 'cancelled'})
    with op.batch_alter_table('plan_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_tasks_uid'))
        batch_op.drop_column('uid')

    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_column('baseline_version')

    op.drop_table('plan_approvals')
