"""Database plumbing: the declarative base, the engine, sessions and migrations.

Data-access code never commits; the edge (a view, a CLI command) opens one unit of work and
commits it once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from alembic.config import Config as AlembicConfig
from sqlalchemy import (
    DateTime,
    Engine,
    MetaData,
    Select,
    create_engine,
    event,
    func,
    or_,
    select,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

T = TypeVar("T")
U = TypeVar("U")

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant, stored in UTC; always handed back timezone-aware.

    SQLite has no timezone type, so the value is stored naive there and made aware on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC instant is required")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Stamped:
    """A row whose every change stamps `updated_at` with the app's clock: the write sessions of a
    `Database` given a clock do it as they flush (a row inserted, or its own columns changed;
    a change to its child rows alone, or a bulk UPDATE, does not). The API's lists filter on it
    (`updated_since`)."""

    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


def _stamp_changes(now: Callable[[], datetime]) -> Callable[..., None]:
    def before_flush(session: Session, *_: Any) -> None:
        at = now()
        for row in session.new:
            if isinstance(row, Stamped):
                row.updated_at = at
        for row in session.dirty:
            if isinstance(row, Stamped) and session.is_modified(row, include_collections=False):
                row.updated_at = at

    return before_flush


def normalise_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, *, echo: bool = False, pool: bool = True) -> Engine:
    url = normalise_url(url)
    # hide_parameters: an error's message, and the echo log, never carry the values bound to a
    # statement (password hashes, key digests, customers' data).
    kwargs: dict[str, Any] = {"echo": echo, "future": True, "hide_parameters": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        kwargs["poolclass"] = NullPool
    elif not pool:
        kwargs["poolclass"] = NullPool
    else:
        # No pre-ping: it costs a round trip per request. A connection the server dropped fails
        # the one request that draws it, and SQLAlchemy then discards the pool's stale ones.
        kwargs["pool_recycle"] = 1800
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    """Take transaction control from the sqlite3 driver.

    Read transactions begin DEFERRED; a unit of work that writes begins IMMEDIATE, which takes
    SQLite's single write lock up front. That is the serialised write path: two writers never
    interleave, and a writer never fails half-way for having read a stale snapshot.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


@contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """The one place that commits: the work done in the block is committed when it ends, and
    rolled back on any error. Work done outside any block is never committed: the session is
    closed at the end of the request, and closing it rolls back."""
    try:
        yield session
    except BaseException:
        session.rollback()
        session.info.pop(_AFTER_COMMIT, None)
        raise
    for hook in _BEFORE_COMMIT:
        hook(session)
    session.commit()
    for action in session.info.pop(_AFTER_COMMIT, []):
        action()


_AFTER_COMMIT = "billing.after_commit"

# Work every unit of work does last, inside its transaction (billing/jobs/events.py: defer the
# dispatch of the events it recorded).
_BEFORE_COMMIT: list[Callable[[Session], None]] = []


def before_commit(hook: Callable[[Session], None]) -> None:
    """Run `hook(session)` at the end of every unit of work, just before it commits."""
    if hook not in _BEFORE_COMMIT:
        _BEFORE_COMMIT.append(hook)


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` once the session's unit of work has committed (never if it rolls back):
    how a job deferred on SQLite runs in-process (billing/jobs/queue.py)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


def is_application_object(
    _obj: Any, name: str | None, _type: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's filter for comparing models and database: the job queue's tables (migration
    0016) are Procrastinate's, not models of ours."""
    return not (reflected and compare_to is None and (name or "").startswith("procrastinate_"))


class Database:
    """One engine and the session factories over it."""

    def __init__(
        self, url: str, *, echo: bool = False, now: Callable[[], datetime] | None = None
    ) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, echo=echo)
        write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        read_engine = self.engine
        if self.engine.dialect.name == "postgresql":
            # A read-only unit of work (a GET) runs without BEGIN and ROLLBACK: two round trips
            # fewer, and the same view of the data, since under READ COMMITTED every statement
            # takes a fresh snapshot inside a transaction too.
            read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._read = sessionmaker(bind=read_engine, expire_on_commit=False)
        self._write = sessionmaker(bind=write_engine, expire_on_commit=False)
        if now is not None:
            # On this factory's sessions only: the app's clock stamps what they change.
            event.listen(self._write, "before_flush", _stamp_changes(now))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self, *, write: bool = True) -> Session:
        return (self._write if write else self._read)()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work on a session of its own (a CLI command, a job), closed afterwards."""
        with self.session(write=True) as session, unit_of_work(session):
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


LOCK_ORDER = """The one lock order of every unit of work that writes a customer's invoices, credit notes,
payments, credits or refunds (SPEC 4 and 6):
1. the customer rows, in id order (SELECT ... FOR UPDATE);
2. then the documents: invoices and credit notes, in id order;
3. then the payments, in id order.
Take it with `lock_customer_then_documents` (or `lock_documents`, which finds the customers
first) before any other lock of the unit of work. Two units of work of one customer then queue
on its row, so they can never hold each other's documents. SQLite serialises every writing unit
of work already (BEGIN IMMEDIATE): there the call takes no lock."""


def _ids(values: int | Iterable[int]) -> list[int]:
    return sorted({values} if isinstance(values, int) else set(values))


def lock_customer_then_documents(
    session: Session,
    customer_ids: int | Iterable[int],
    document_ids: Iterable[int] = (),
    payment_ids: Iterable[int] = (),
) -> None:
    """Lock in LOCK_ORDER: the customers, then their invoices and credit notes, then payments,
    each in id order. Rows that do not exist are passed over (the caller reports them)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    tables = Base.metadata.tables
    for name, ids in (
        ("customers", _ids(customer_ids)),
        ("invoices", _ids(document_ids)),
        ("payments", _ids(payment_ids)),
    ):
        if ids:
            table = tables[name]
            session.execute(
                select(table.c.id).where(table.c.id.in_(ids)).order_by(table.c.id).with_for_update()
            )


def lock_documents(
    session: Session, document_ids: Iterable[int] = (), payment_ids: Iterable[int] = ()
) -> None:
    """LOCK_ORDER for documents and payments given by id: their customers first (a document
    never changes customer, so they are read before the lock), then the rows themselves."""
    if session.get_bind().dialect.name != "postgresql":
        return
    tables = Base.metadata.tables
    customers: set[int] = set()
    for name, ids in (("invoices", _ids(document_ids)), ("payments", _ids(payment_ids))):
        if ids:
            table = tables[name]
            customers.update(
                session.execute(select(table.c.customer_id).where(table.c.id.in_(ids))).scalars()
            )
    lock_customer_then_documents(session, customers, document_ids, payment_ids)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing: its items, its number (from 1), its size and how many in all."""

    items: list[T]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        return Page([convert(item) for item in self.items], self.number, self.per_page, self.total)


def fetch_page(session: Session, stmt: Select[Any], number: int, per_page: int) -> Page[Any]:
    """Page `number` of a SELECT of entities: one COUNT and one LIMIT/OFFSET, both in the
    database. The one pager of the pages and the API."""
    total = session.execute(
        select(func.count()).select_from(stmt.order_by(None).subquery())
    ).scalar_one()
    offset = (number - 1) * per_page
    # Past the last page there is nothing to read, and no offset that a database would refuse
    # as out of range (page=99999999999999999999) is ever sent.
    items = (
        list(session.execute(stmt.limit(per_page).offset(offset)).scalars())
        if 0 <= offset < total
        else []
    )
    return Page(items, number, per_page, int(total))


def order_by_choice(
    stmt: Select[Any], sort: str, columns: Mapping[str, Sequence[Any]], default: str
) -> Select[Any]:
    """`stmt` ordered by the columns a list page offers under the name `sort` ("name" ascending,
    "-name" descending); a name not offered falls back to `default`. Each choice should end in
    a unique column, so that paging is stable."""
    name, descending = sort.removeprefix("-"), sort.startswith("-")
    if name not in columns:
        name, descending = default.removeprefix("-"), default.startswith("-")
    return stmt.order_by(None).order_by(
        *(column.desc() if descending else column.asc() for column in columns[name])
    )


def sort_choice(sort: str, columns: Mapping[str, Sequence[Any]], default: str) -> str:
    """The sort a page is shown in: `sort` when offered, else `default`."""
    return sort if sort.removeprefix("-") in columns else default


def text_match(q: str, *columns: Any) -> Any:
    """A condition: any of `columns` contains `q`, case-insensitively; % and _ in `q` are
    taken literally."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(*(column.ilike(f"%{escaped}%", escape="\\") for column in columns))


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)
