"""plan risks: live risk state per plan version

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 04:20:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('plan_risks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('plan_version_id', sa.Integer(), nullable=False),
    sa.Column('risk_key', sa.String(length=100), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('row_version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['plan_version_id'], ['plan_versions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('plan_version_id', 'risk_key', name='uq_plan_risks_version_key')
    )
    with op.batch_alter_table('plan_risks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_risks_plan_version_id'), ['plan_version_id'], unique=False)


def downgrade():
    with op.batch_alter_table('plan_risks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_risks_plan_version_id'))

    op.drop_table('plan_risks')
