"""api_keys.task_scope: the resource types an executor key may report on (its execution layer's tasks)

NULL: every task of the tenant's plans. docs/security.md.

Revision ID: 0009_key_task_scope
Revises: 0008_security
Create Date: 2026-12-02 05:45:00.000000

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0009_key_task_scope'
down_revision = '0008_security'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('task_scope', JSON, nullable=True))


def downgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('task_scope')
