"""The append-only triggers of the audit trail (requirement 3), per database engine: events
refuse UPDATE, DELETE and TRUNCATE; the head row (issue 17 item 1) may only move forward (an
UPDATE that raises its ``seq``), never be deleted or truncated, and there is only one (id 1).

Migration 0002 creates the events' triggers and migration 0014 the head's (both through
:func:`statements`); the test fixtures for committing tests drop them all around Django's
flush, and ``ivig restore`` makes them again. Kept apart from the migrations so that all use
one copy.
"""

from __future__ import annotations

TABLE = "records_auditevent"
HEAD = "records_audithead"

SQLITE = [
    f"CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
    f"CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
    f"CREATE TRIGGER IF NOT EXISTS audit_head_forward BEFORE UPDATE ON {HEAD} "
    "WHEN NEW.seq <= OLD.seq OR NEW.id != OLD.id "
    "BEGIN SELECT RAISE(ABORT, 'the audit head only moves forward (append-only)'); END",
    f"CREATE TRIGGER IF NOT EXISTS audit_head_no_delete BEFORE DELETE ON {HEAD} "
    "BEGIN SELECT RAISE(ABORT, 'the audit head only moves forward (append-only)'); END",
    f"CREATE TRIGGER IF NOT EXISTS audit_head_one BEFORE INSERT ON {HEAD} WHEN NEW.id != 1 "
    "BEGIN SELECT RAISE(ABORT, 'the audit trail has one head (append-only)'); END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS audit_no_update",
    "DROP TRIGGER IF EXISTS audit_no_delete",
    "DROP TRIGGER IF EXISTS audit_head_forward",
    "DROP TRIGGER IF EXISTS audit_head_no_delete",
    "DROP TRIGGER IF EXISTS audit_head_one",
]

POSTGRES = [
    "CREATE OR REPLACE FUNCTION ivig_audit_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$ LANGUAGE plpgsql",
    f"CREATE OR REPLACE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION ivig_audit_append_only()",
    f"CREATE OR REPLACE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION ivig_audit_append_only()",
    "CREATE OR REPLACE FUNCTION ivig_audit_head_forward() RETURNS trigger AS $$ BEGIN "
    "IF TG_OP = 'UPDATE' AND NEW.seq > OLD.seq AND NEW.id = OLD.id THEN RETURN NEW; END IF; "
    "IF TG_OP = 'INSERT' AND NEW.id = 1 THEN RETURN NEW; END IF; "
    "RAISE EXCEPTION 'the audit head only moves forward (append-only)'; END $$ "
    "LANGUAGE plpgsql",
    f"CREATE OR REPLACE TRIGGER audit_head_forward BEFORE INSERT OR UPDATE OR DELETE ON {HEAD} "
    "FOR EACH ROW EXECUTE FUNCTION ivig_audit_head_forward()",
    f"CREATE OR REPLACE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON {HEAD} "
    "FOR EACH STATEMENT EXECUTE FUNCTION ivig_audit_append_only()",
]
POSTGRES_DROP = [
    f"DROP TRIGGER IF EXISTS audit_no_change ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_no_truncate ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_head_forward ON {HEAD}",
    f"DROP TRIGGER IF EXISTS audit_head_no_truncate ON {HEAD}",
]

#: The names of every trigger and trigger function above (``ivig restore`` refuses others).
NAMES = frozenset(
    {
        "audit_no_update",
        "audit_no_delete",
        "audit_no_change",
        "audit_no_truncate",
        "audit_head_forward",
        "audit_head_no_delete",
        "audit_head_one",
        "audit_head_no_truncate",
        "ivig_audit_append_only",
        "ivig_audit_head_forward",
    }
)


def statements(vendor: str, *, drop: bool = False) -> list[str]:
    """The trigger statements for a database vendor (also used by the test fixtures)."""
    if vendor == "postgresql":
        return POSTGRES_DROP if drop else POSTGRES
    return SQLITE_DROP if drop else SQLITE
