"""Template databases: prepared once per test run, then copied into each test's own database.

Copying a prepared database is much cheaper than running the migrations, a bank import or the
password hashing of a roster again for every test, and a test starts from the same rows.

- SQLite: a template is a file. :func:`copy_sqlite` copies it through SQLite's backup API, which
  is safe even when the target database already has open connections (an app's pool).
- PostgreSQL: :func:`create_database` makes a database of its own from a template database
  (``CREATE DATABASE ... TEMPLATE``, which needs nobody connected to the template): the live
  servers' way. The in-process tests share one database instead, which :func:`empty_postgres`
  empties after each test; a :class:`PgSnapshot` holds a template's rows (binary COPY, in
  foreign-key order, with the sequences' positions) to load into it.

:func:`load_if_pristine` puts a template's rows into a test's database only if that database is
still as the migrations left it (no rows in any table), so a fixture that wrote first is never
overwritten: the caller then builds the data for real instead.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

#: Written by the migrations themselves: the same in a template and in a freshly migrated copy.
_MIGRATION_TABLES = ("alembic_version",)


def sqlite_path(url: str) -> Path:
    database = sa.engine.make_url(url).database
    assert database, f"not a SQLite file URL: {url}"
    return Path(database)


def copy_sqlite(template: Path, url: str) -> None:
    """Make the SQLite database at ``url`` an exact copy of the file ``template``."""
    source = sqlite3.connect(template)
    target = sqlite3.connect(sqlite_path(url))
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _any_row(tables: list[str]) -> str:
    """One query: does any of ``tables`` (names from the database's catalogue) have a row?"""
    return "SELECT " + " OR ".join(f'EXISTS (SELECT 1 FROM "{name}")' for name in tables)  # noqa: S608


def _sqlite_is_empty(conn: sqlite3.Connection) -> bool:
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        if name not in _MIGRATION_TABLES
    ]
    if not tables:
        return True
    return not conn.execute(_any_row(tables)).fetchone()[0]


def _pg_tables(conn: sa.Connection) -> list[str]:
    return [
        name
        for (name,) in conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        if name not in _MIGRATION_TABLES
    ]


def _pg_is_empty(conn: sa.Connection) -> bool:
    tables = _pg_tables(conn)
    if not tables:
        return True
    return not conn.exec_driver_sql(_any_row(tables)).scalar()


def _pg_references(conn: sa.Connection) -> dict[str, set[str]]:
    """Per table, the other tables its foreign keys point to."""
    references: dict[str, set[str]] = {name: set() for name in _pg_tables(conn)}
    for table, referenced in conn.exec_driver_sql(
        "SELECT c.relname, r.relname FROM pg_constraint k "
        "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE k.contype = 'f' AND n.nspname = 'public'"
    ):
        if table in references and referenced in references and referenced != table:
            references[table].add(referenced)
    return references


@dataclass
class PgSnapshot:
    """The rows of a PostgreSQL database, to load into another database with the same schema."""

    #: (table, COPY BINARY data), referenced tables before the tables that reference them
    tables: list[tuple[str, bytes]] = field(default_factory=list)
    #: (sequence, last value) of every sequence that was used
    sequences: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def capture(cls, url: str) -> PgSnapshot:
        engine = sa.create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                snapshot = cls()
                cursor = conn.connection.driver_connection.cursor()
                for table in TopologicalSorter(_pg_references(conn)).static_order():
                    if not conn.exec_driver_sql(_any_row([table])).scalar():
                        continue
                    with cursor.copy(f'COPY "{table}" TO STDOUT (FORMAT BINARY)') as copy:
                        snapshot.tables.append((table, b"".join(bytes(block) for block in copy)))
                snapshot.sequences = [
                    (name, value)
                    for name, value in conn.exec_driver_sql(
                        "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), "
                        "last_value FROM pg_sequences WHERE schemaname = 'public' "
                        "AND last_value IS NOT NULL"
                    )
                ]
                return snapshot
        finally:
            engine.dispose()

    def load(self, conn: sa.Connection) -> None:
        cursor = conn.connection.driver_connection.cursor()
        for table, data in self.tables:
            with cursor.copy(f'COPY "{table}" FROM STDIN (FORMAT BINARY)') as copy:
                copy.write(data)
        if self.sequences:
            names, values = zip(*self.sequences, strict=True)
            conn.exec_driver_sql(
                "SELECT setval(name::regclass, value) "
                "FROM unnest(%s::text[], %s::bigint[]) AS s(name, value)",
                (list(names), list(values)),
            )


def load_if_pristine(url: str, template: Path | PgSnapshot) -> bool:
    """Copy ``template`` (a SQLite file, or a snapshot of a PostgreSQL database) into the empty,
    migrated database at ``url``; False, and nothing done, if that database has any row."""
    if isinstance(template, Path):
        conn = sqlite3.connect(sqlite_path(url))
        try:
            if not _sqlite_is_empty(conn):
                return False
        finally:
            conn.close()
        copy_sqlite(template, url)
        return True
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            if not _pg_is_empty(conn):
                return False
            template.load(conn)
        return True
    finally:
        engine.dispose()


def empty_postgres(conn: sa.Connection) -> None:
    """Delete every row written since the database was migrated; restart the sequences used.

    DELETE, children before parents, of the tables that have pages (a table never written has
    none): on tables of a few rows that takes milliseconds, where TRUNCATE, which gives each table
    new files, takes some 70 ms a test. Durability of this commit does not matter.
    """
    conn.exec_driver_sql("SET LOCAL synchronous_commit TO off")
    # A transaction a test left open could hold locks, or commit rows after this DELETE.
    conn.exec_driver_sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'"
    )
    written = {
        name
        for (name,) in conn.exec_driver_sql(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' AND pg_relation_size(c.oid) > 0"
        )
        if name not in _MIGRATION_TABLES
    }
    try:
        parents_first = list(TopologicalSorter(_pg_references(conn)).static_order())
    except CycleError:
        # Tables that reference each other both ways: only TRUNCATE empties them together.
        if written:
            conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{n}"' for n in written) + " CASCADE")
    else:
        for name in reversed(parents_first):
            if name in written:
                conn.exec_driver_sql(f'DELETE FROM "{name}"')  # noqa: S608
    conn.exec_driver_sql(
        "SELECT setval((quote_ident(schemaname) || '.' || quote_ident(sequencename))::regclass, "
        "start_value, false) FROM pg_sequences "
        "WHERE schemaname = 'public' AND last_value IS NOT NULL"
    )


# ---- PostgreSQL databases of their own, on the server an admin engine is connected to --------


def admin_engine(url: str | sa.URL) -> Engine:
    """An AUTOCOMMIT engine on the server ``url`` names (CREATE/DROP DATABASE need it)."""
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def database_url(admin: Engine, name: str) -> str:
    return admin.url.set(database=name).render_as_string(hide_password=False)


def create_database(admin: Engine, name: str, template: str | None = None) -> str:
    """A new database ``name`` (a copy of the database ``template`` when given); its URL."""
    clause = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"{clause}')
    return database_url(admin, name)


def drop_database(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
