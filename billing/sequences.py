"""Named counters in the database: each value taken once, in the taker's transaction.

The row is locked by the UPDATE until commit, so concurrent takers queue; a rolled-back
transaction gives its value back. That makes the numbers gapless and strictly increasing.
"""

from __future__ import annotations

from sqlalchemy import Integer, String, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from billing.db import Base


class Sequence(Base):
    __tablename__ = "sequences"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


def next_value(session: Session, name: str) -> int:
    taken = session.execute(
        update(Sequence)
        .where(Sequence.name == name)
        .values(value=Sequence.value + 1)
        .returning(Sequence.value)
    ).scalar_one_or_none()
    if taken is not None:
        return int(taken)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(Sequence).values(name=name, value=0).on_conflict_do_nothing())
    else:
        exists = session.execute(select(Sequence.name).where(Sequence.name == name)).first()
        if exists is None:
            session.execute(insert(Sequence).values(name=name, value=0))
    return next_value(session, name)
