"""The job queue (SPEC 12): a job is deferred in the transaction of the record that asks for it;
Procrastinate workers run it on PostgreSQL, the deferring process runs it on SQLite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from billing.db import Database
from billing.extensions import database
from billing.jobs.queue import SCHEDULE, AlreadyQueuedError, defer, run_worker, task

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def seed() -> str:
    return "reference"


def _note(session_db: Database, word: str) -> None:
    with session_db.transaction() as session:
        session.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, entity_type, entity_id, before, after)"
                " VALUES (CURRENT_TIMESTAMP, 'job', :w, 'test', 0, '{}', '{}')"
            ),
            {"w": word},
        )


@task(queue_name=SCHEDULE)
def note_word(word: str) -> None:
    """A test task: writes `word` to the audit log; `then` defers another one."""
    _note(database(), word)


@task(queue_name=SCHEDULE)
def note_then(word: str, then: str) -> None:
    db = database()
    with db.transaction() as session:
        defer(session, note_word, word=then)
    _note(db, word)


def _words(db: Database) -> list[str]:
    with db.transaction() as session:
        return list(
            session.execute(
                text("SELECT action FROM audit_log WHERE actor = 'job' ORDER BY id")
            ).scalars()
        )


def _jobs(db: Database) -> list[tuple[str, str]]:
    with db.transaction() as session:
        return [
            (str(name), str(status))
            for name, status in session.execute(
                text(
                    "SELECT task_name, status::text FROM procrastinate_jobs"
                    " WHERE task_name IN ('note_word', 'note_then', 'sleep_then_note')"
                    " ORDER BY id"
                )
            )
        ]


def test_a_job_is_deferred_with_its_transaction_or_not_at_all(
    app: Flask, db: Database, backend: str
) -> None:
    with app.app_context():
        with pytest.raises(RuntimeError), db.transaction() as session:
            defer(session, note_word, word="rolled back")
            raise RuntimeError("the request failed")
        with db.transaction() as session:
            defer(session, note_word, word="committed")
        if backend == "sqlite":
            # In-process: it ran once the unit of work committed.
            assert _words(db) == ["committed"]
            return
        assert _jobs(db) == [("note_word", "todo")]
        assert _words(db) == []
        run_worker(app, wait=False)
        assert _words(db) == ["committed"]
        assert _jobs(db) == [("note_word", "succeeded")]


def test_a_job_deferred_by_a_job_runs_after_it(app: Flask, db: Database, backend: str) -> None:
    with app.app_context():
        with db.transaction() as session:
            defer(session, note_then, word="first", then="second")
        if backend == "postgres":
            run_worker(app, wait=False)
        assert _words(db) == ["first", "second"]


@pytest.mark.postgres
def test_a_queueing_lock_refuses_a_second_waiting_job_and_the_transaction_goes_on(
    app: Flask, db: Database, backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("queueing locks are Procrastinate's, on PostgreSQL")
    with app.app_context():
        with db.transaction() as session:
            defer(session, note_word, queueing_lock="once", word="one")
            with pytest.raises(AlreadyQueuedError):
                defer(session, note_word, queueing_lock="once", word="two")
            defer(session, note_word, word="three")
        assert [n for n, _ in _jobs(db)] == ["note_word", "note_word"]
        run_worker(app, wait=False)
        assert sorted(_words(db)) == ["one", "three"]


@pytest.mark.postgres
def test_a_killed_worker_s_job_is_run_by_the_next_worker(
    app: Flask, db: Database, backend: str, tmp_path: Path
) -> None:
    """SIGKILL leaves the job `doing` with a worker that sends no more heartbeats: the next
    worker to start puts it back in the queue and runs it."""
    if backend != "postgres":
        pytest.skip("workers run on PostgreSQL")
    marker = tmp_path / "started"
    with app.app_context():
        with db.transaction() as session:
            defer(session, sleep_then_note, marker=str(marker), word="done")
    env = {
        **os.environ,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "BILLING_ENV": "test",
        "FLASK_APP": "tests.integration.job_queue_app",
        "JOB_HEARTBEAT_SECONDS": "0.5",
        "JOB_STALLED_SECONDS": "2",
    }
    first = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "flask", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), "the first worker never started the job"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert _jobs(db) == [("sleep_then_note", "doing")]
    time.sleep(2.5)  # the dead worker's heartbeat grows stale
    marker.unlink()
    second = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-c",
            "from tests.integration.job_queue_app import app; from billing.jobs import run_worker;"
            "run_worker(app, wait=False)",
        ],
        cwd=ROOT,
        env={**env, "SLEEP_SECONDS": "0"},
        timeout=60,
        capture_output=True,
        text=True,
    )
    assert second.returncode == 0, second.stderr[-2000:]
    assert _words(db) == ["done"]
    assert _jobs(db) == [("sleep_then_note", "succeeded")]


@task(queue_name=SCHEDULE)
def sleep_then_note(marker: str, word: str) -> None:
    Path(marker).write_text("started")
    time.sleep(float(os.environ.get("SLEEP_SECONDS", "60")))
    _note(database(), word)
