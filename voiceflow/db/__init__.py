"""SQLite for voiceflow: connection pragmas, an async single-thread ``Database``, numbered migrations, seed.

    db = await open_seeded(".voiceflow/callcenter.db")  # or Database.open(path) without demo data
    order = await db.read(lambda c: c.execute("SELECT * FROM orders WHERE id = ?", (1001,)).fetchone())
    await db.write(lambda c: c.execute("UPDATE ..."))      # BEGIN IMMEDIATE .. COMMIT
    await db.close()

Other packages add tables with ``register_migration(version, name, sql)`` (see ``migrations``).
"""

from voiceflow.db.connection import Database, connect, transaction
from voiceflow.db.migrations import (
    Migration,
    MigrationError,
    all_migrations,
    migrate,
    register_migration,
    schema_version,
)
from voiceflow.db.seed import open_seeded, seed_demo_data

__all__ = [
    "Database",
    "Migration",
    "MigrationError",
    "all_migrations",
    "connect",
    "migrate",
    "open_seeded",
    "register_migration",
    "schema_version",
    "seed_demo_data",
    "transaction",
]
