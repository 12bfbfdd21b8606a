"""The event outbox (SPEC 13): an event commits with the change that records it, once per key,
and is handed to every sender of its type by a job deferred in the same transaction."""

from __future__ import annotations

from datetime import datetime

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from billing.clock import FrozenClock
from billing.db import Database
from billing.events import Event, record_event
from billing.jobs.events import on, sweep_events
from billing.jobs.queue import run_worker

HEARD: list[tuple[str, str]] = []


@on("test.happened")
def _hear(session: Session, event: Event, at: datetime) -> None:
    HEARD.append((event.type, event.subject_id))


@pytest.fixture
def seed() -> str:
    return "reference"


def test_an_event_commits_with_its_change_once_and_reaches_its_senders(
    app: Flask, db: Database, backend: str, clock: FrozenClock
) -> None:
    HEARD.clear()
    at = clock.now()
    with app.app_context():
        with pytest.raises(RuntimeError), db.transaction() as session:
            record_event(
                session, "test.happened", subject_type="t", subject_id=0, customer_id=None, now=at
            )
            raise RuntimeError("the change failed")
        with db.transaction() as session:
            first = record_event(
                session, "test.happened", subject_type="t", subject_id=1, customer_id=None, now=at
            )
            again = record_event(
                session, "test.happened", subject_type="t", subject_id=1, customer_id=None, now=at
            )
            assert first is not None and first.public_id.startswith("evt_")
            assert again is None
        if backend == "postgres":
            run_worker(app, wait=False)
        assert HEARD == [("test.happened", "1")]
        with db.transaction() as session:
            events = session.execute(select(Event)).scalars().all()
            assert [(e.subject_id, e.dispatched_at is not None) for e in events] == [("1", True)]
            # Recorded again later (a rerun): nothing new, nothing sent twice.
            assert (
                record_event(
                    session,
                    "test.happened",
                    subject_type="t",
                    subject_id=1,
                    customer_id=None,
                    now=at,
                )
                is None
            )
        if backend == "postgres":
            run_worker(app, wait=False)
        assert HEARD == [("test.happened", "1")]


def test_events_whose_dispatch_job_was_lost_are_swept_up(
    app: Flask, db: Database, backend: str, clock: FrozenClock
) -> None:
    if backend != "postgres":
        pytest.skip("on SQLite the dispatch runs in-process as the unit of work commits")
    HEARD.clear()
    with app.app_context():
        with db.transaction() as session:
            record_event(
                session,
                "test.happened",
                subject_type="t",
                subject_id=7,
                customer_id=None,
                now=clock.now(),
            )
        # Its job is lost (a worker died past its retries, an operator deleted it).
        with db.transaction() as session:
            session.execute(text("DELETE FROM procrastinate_jobs"))
        assert HEARD == []
        assert sweep_events(timestamp=0) == 1
        assert HEARD == [("test.happened", "7")]
        assert sweep_events(timestamp=0) == 0
