"""The audit log's hash chain: the canonical form of a row, its hash, and the check of the whole chain.

The database computes the chain as rows are inserted (a trigger; migrations/versions/0008_security.py),
whatever statement inserts them: each row gets the next `seq`, the previous row's hash as `prev_hash`, and
`hash` = sha256 of its canonical form (every field length-prefixed, NULL as `-`, the moment in whole
microseconds since 1970 UTC). PostgreSQL builds the same string in SQL (`audit_log_hash`); SQLite calls
`layer2_audit_hash`, registered on every SQLite connection below. `verify` recomputes it here, so a changed
row (its hash no longer matches) and a deleted row (a gap in `seq`, the next row's `prev_hash` dangling) are
found.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

GENESIS = "0" * 64
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIELDS = ("seq", "prev_hash", "at", "actor", "tenant", "action", "entity", "entity_id", "before_digest",
          "after_digest", "request_id", "remote_addr")


def _micros(at) -> int | None:
    if at is None:
        return None
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:  # SQLite keeps the UTC wall time without its zone
        at = at.replace(tzinfo=UTC)
    return (at - EPOCH) // timedelta(microseconds=1)


def _field(value) -> str:
    if value is None:
        return "-;"
    text = str(value)
    return f"{len(text)}:{text};"


def row_hash(seq, prev_hash, at, actor, tenant, action, entity, entity_id, before_digest, after_digest,
             request_id, remote_addr) -> str:
    values = (seq, prev_hash, _micros(at), actor, tenant, action, entity, entity_id, before_digest, after_digest,
              request_id, remote_addr)
    return hashlib.sha256("".join(_field(value) for value in values).encode()).hexdigest()


@sa.event.listens_for(Engine, "connect")
def _register_sqlite_function(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function("layer2_audit_hash", len(FIELDS), row_hash, deterministic=True)


@dataclass
class ChainReport:
    rows: int = 0
    head_seq: int | None = None
    head_hash: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ok": self.ok, "rows": self.rows, "head_seq": self.head_seq, "head_hash": self.head_hash,
                "problems": self.problems[:100]}


def verify(connection, *, batch: int = 5000) -> ChainReport:
    """Walk the chain in `seq` order; every changed, missing or unchained row is a problem naming it."""
    from app.models import AuditEntry

    table = AuditEntry.__table__
    report = ChainReport()
    unchained = connection.execute(sa.select(sa.func.count()).select_from(table).where(table.c.seq.is_(None))).scalar()
    if unchained:
        report.problems.append(f"{unchained} row(s) have no place in the chain (inserted without the trigger)")
    expected_seq, expected_prev = 1, GENESIS
    last = 0
    columns = [table.c.id, *(table.c[name] for name in FIELDS), table.c.hash]
    while True:
        rows = connection.execute(sa.select(*columns).where(table.c.seq > last).order_by(table.c.seq)
                                  .limit(batch)).all()
        if not rows:
            break
        for row in rows:
            report.rows += 1
            if row.seq != expected_seq:
                report.problems.append(f"seq {expected_seq}..{row.seq - 1} missing (deleted rows) before row id "
                                       f"{row.id}")
            if row.prev_hash != expected_prev:
                report.problems.append(f"row id {row.id} (seq {row.seq}): prev_hash does not match the previous "
                                       "row's hash")
            computed = row_hash(*(getattr(row, name) for name in FIELDS))
            if computed != row.hash:
                report.problems.append(f"row id {row.id} (seq {row.seq}): changed (its hash does not match)")
            expected_seq, expected_prev = row.seq + 1, row.hash
            report.head_seq, report.head_hash = row.seq, row.hash
        last = rows[-1].seq
    return report
