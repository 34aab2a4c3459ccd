"""security: API keys, tenants, plan ACLs, the audit log's context columns, hash chain and append-only triggers

`api_keys` holds each key's lookup prefix and sha256 (never the key). `plans.tenant` and `goals.tenant`
(existing rows: `default`); `plan_access` lists a plan's owners and teams. `audit_log` gains tenant,
request id, remote address and the hash chain (`seq`, `prev_hash`, `hash`), which a trigger computes on
every insert (app/security/audit_chain.py has the same canonical form in Python); existing rows are
chained here in id order. Another trigger refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) of
`audit_log`: the application cannot rewrite its history. docs/security.md.

Revision ID: 0008_security
Revises: 0007_outbox
Create Date: 2026-12-02 05:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008_security'
down_revision = '0007_outbox'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
FIELDS = "seq, prev_hash, at, actor, tenant, action, entity, entity_id, before_digest, after_digest, " \
         "request_id, remote_addr"

PG_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION audit_log_field(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN v IS NULL THEN '-;' ELSE length(v)::text || ':' || v || ';' END
$$;

CREATE OR REPLACE FUNCTION audit_log_hash(seq bigint, prev_hash text, at timestamptz, actor text, tenant text,
    action text, entity text, entity_id text, before_digest text, after_digest text, request_id text,
    remote_addr text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(
        audit_log_field(seq::text) || audit_log_field(prev_hash)
        || audit_log_field(floor(extract(epoch FROM at) * 1000000)::bigint::text)
        || audit_log_field(actor) || audit_log_field(tenant) || audit_log_field(action) || audit_log_field(entity)
        || audit_log_field(entity_id) || audit_log_field(before_digest) || audit_log_field(after_digest)
        || audit_log_field(request_id) || audit_log_field(remote_addr), 'UTF8')), 'hex')
$$;

CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_seq bigint;
    last_hash text;
BEGIN
    -- One writer at a time until its transaction ends: the chain never forks, seq follows commit order.
    PERFORM pg_advisory_xact_lock(727212016);
    SELECT a.seq, a.hash INTO last_seq, last_hash FROM audit_log a WHERE a.seq IS NOT NULL
        ORDER BY a.seq DESC LIMIT 1;
    NEW.seq := coalesce(last_seq, 0) + 1;
    NEW.prev_hash := coalesce(last_hash, repeat('0', 64));
    NEW.hash := audit_log_hash(NEW.seq, NEW.prev_hash, NEW.at, NEW.actor, NEW.tenant, NEW.action, NEW.entity,
        NEW.entity_id, NEW.before_digest, NEW.after_digest, NEW.request_id, NEW.remote_addr);
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

PG_TRIGGERS = """
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
"""

SQLITE_TRIGGERS = [
    # The row is inserted, then given its place and hash (SQLite's BEFORE triggers cannot change NEW).
    f"""CREATE TRIGGER audit_log_chain AFTER INSERT ON audit_log FOR EACH ROW BEGIN
        UPDATE audit_log SET seq = (SELECT coalesce(max(seq), 0) + 1 FROM audit_log),
            prev_hash = coalesce((SELECT hash FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)),
                                 '{'0' * 64}')
            WHERE id = NEW.id;
        UPDATE audit_log SET hash = layer2_audit_hash({FIELDS}) WHERE id = NEW.id;
    END""",
    # Only the chain trigger's own update of a row still without a hash is let through.
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log FOR EACH ROW WHEN OLD.hash IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log FOR EACH ROW
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END""",
]


def upgrade():
    op.create_table('api_keys',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('prefix')
    )
    op.create_table('plan_access',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('plan_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('plan_id', 'kind', 'name', name='uq_plan_access')
    )
    with op.batch_alter_table('plan_access', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_access_plan_id'), ['plan_id'], unique=False)
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tenant', sa.String(length=100), server_default='default', nullable=False))
        batch_op.create_index(batch_op.f('ix_plans_tenant'), ['tenant'], unique=False)
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tenant', sa.String(length=100), server_default='default', nullable=False))
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tenant', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('request_id', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('remote_addr', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('seq', BIG_ID, nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_audit_log_seq', ['seq'])
    _chain_existing_rows()
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_FUNCTIONS)
        op.execute(PG_TRIGGERS)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def _chain_existing_rows():
    """The rows written before this revision, chained in id order (the same hash the trigger computes)."""
    from app.security.audit_chain import GENESIS, row_hash

    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, at, actor, tenant, action, entity, entity_id, before_digest, "
                                "after_digest, request_id, remote_addr FROM audit_log ORDER BY id")).all()
    previous = GENESIS
    for seq, row in enumerate(rows, start=1):
        digest = row_hash(seq, previous, row.at, row.actor, row.tenant, row.action, row.entity, row.entity_id,
                          row.before_digest, row.after_digest, row.request_id, row.remote_addr)
        bind.execute(sa.text("UPDATE audit_log SET seq = :seq, prev_hash = :prev, hash = :hash WHERE id = :id"),
                     {"seq": seq, "prev": previous, "hash": digest, "id": row.id})
        previous = digest


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_chain ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only(), audit_log_chain(), "
                   "audit_log_hash(bigint, text, timestamptz, text, text, text, text, text, text, text, text, text), "
                   "audit_log_field(text)")
    else:
        for name in ('audit_log_no_delete', 'audit_log_append_only', 'audit_log_chain'):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint('uq_audit_log_seq', type_='unique')
        for column in ('hash', 'prev_hash', 'seq', 'remote_addr', 'request_id', 'tenant'):
            batch_op.drop_column(column)
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.drop_column('tenant')
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plans_tenant'))
        batch_op.drop_column('tenant')
    with op.batch_alter_table('plan_access', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_access_plan_id'))
    op.drop_table('plan_access')
    op.drop_table('api_keys')
