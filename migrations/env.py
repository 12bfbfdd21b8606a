"""Alembic environment: the only way any schema is made, in production and in tests."""

from __future__ import annotations

from alembic import context

import billing.models  # noqa: F401 - registers every table on the metadata
from billing.db import Base, is_application_object, make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        include_object=is_application_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("sqlalchemy.url is not set")
    engine = make_engine(url, pool=False)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _run(connection):  # type: ignore[no-untyped-def]
    sqlite = connection.dialect.name == "sqlite" and not connection.in_transaction()
    if sqlite:
        # SQLite alters a table by copying it to a new one and dropping the old (batch mode);
        # with foreign keys on, dropping a table that other rows refer to fails. So, as SQLite's
        # own procedure for altering tables says, they are off while the migrations run and
        # checked as a whole afterwards (a PRAGMA takes no effect inside a transaction).
        _pragma(connection, "PRAGMA foreign_keys=OFF")
        before = set(_pragma(connection, "PRAGMA foreign_key_check"))
    try:
        _migrate(connection)
        if sqlite:
            broken = set(_pragma(connection, "PRAGMA foreign_key_check")) - before
            if broken:
                raise RuntimeError(
                    f"the migrations left rows without their parent: {sorted(broken)[:5]}"
                )
    finally:
        if sqlite:
            _pragma(connection, "PRAGMA foreign_keys=ON")


def _pragma(connection, statement):  # type: ignore[no-untyped-def]
    """Run a PRAGMA on the driver's connection, outside any transaction."""
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(statement)
        return cursor.fetchall()
    finally:
        cursor.close()


def _migrate(connection):  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=is_application_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
