"""Is the database's schema the one this version of ivig was built for (requirement 43)?

``pending``: migrations of this version not applied yet (``ivig serve`` applies them at start).
``unknown``: migrations applied to the database that this version does not have: a newer
release has upgraded it, and this older code must not write to it. ``ivig serve`` refuses to
start on such a database, and ``/health/`` answers 503 while either list is not empty (a load
balancer then sends no request to this process).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

__all__ = ["SchemaState", "schema_state"]


@dataclass(frozen=True, slots=True)
class SchemaState:
    pending: tuple[str, ...]
    unknown: tuple[str, ...]

    @property
    def current(self) -> bool:
        return not self.pending and not self.unknown

    def describe(self) -> str:
        if self.unknown:
            return (
                f"the database has {len(self.unknown)} migration(s) this version of ivig does "
                f"not know ({', '.join(self.unknown[:3])}): a newer ivig upgraded it; run that "
                "version (or restore a backup made for this one)"
            )
        if self.pending:
            return f"{len(self.pending)} migration(s) not applied ({', '.join(self.pending[:3])})"
        return "current"


@functools.cache
def _this_version() -> tuple[frozenset[tuple[str, str]], frozenset[str]]:
    """The migrations on disk and the apps that have them (read once per process)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return frozenset(loader.disk_migrations), frozenset(loader.migrated_apps)


def schema_state() -> SchemaState:
    """Compare the migrations recorded in the database with this version's (one query)."""
    on_disk, apps = _this_version()
    recorder = MigrationRecorder(connection)
    applied = set(recorder.applied_migrations()) if recorder.has_table() else set()
    pending = sorted(f"{a}.{n}" for a, n in on_disk - applied)
    unknown = sorted(f"{a}.{n}" for a, n in applied - on_disk if a in apps)
    return SchemaState(tuple(pending), tuple(unknown))
