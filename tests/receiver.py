"""A real HTTP receiver on loopback for webhook tests: records every request; answers with the
statuses it is told (200 once they run out), optionally after a delay."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import update

from billing.db import Database
from billing.events import Event


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    statuses: deque[int] = field(default_factory=deque)
    delay: float = 0.0
    answer: bytes = b"ok"

    def answer_with(self, *statuses: int) -> None:
        self.statuses.extend(statuses)


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """The documented check (the API's "Webhooks" section), written out independently."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    if abs(now - timestamp) > tolerance:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            if state.delay:
                time.sleep(state.delay)
            status = state.statuses.popleft() if state.statuses else 200
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(state.answer)))
                self.end_headers()
                self.wfile.write(state.answer)
            except OSError:
                pass  # the sender gave up waiting

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def settle_events(db: Database, at: datetime) -> None:
    """Mark the events recorded so far (business code records them as a test builds its world:
    a service that goes live) as dispatched, as if handed out before any endpoint existed; a
    test then sees only the deliveries of the events it records itself."""
    with db.transaction() as s:
        s.execute(update(Event).where(Event.dispatched_at.is_(None)).values(dispatched_at=at))


_keys = itertools.count(1)


def event_key(type_: str) -> str:
    """A key of its own for an event a test records (business code may have recorded the same
    type and subject already, under the default key)."""
    return f"test:{type_}:{next(_keys)}"
