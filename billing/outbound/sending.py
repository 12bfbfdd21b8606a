"""One HTTP POST of a webhook to a checked target (billing/outbound/targets.py).

Standard library only. The connection goes to an address the target check accepted (the name
is not resolved again), TLS is verified against the host name, no redirect is followed (a 3xx is
a failure like any other non-2xx), and at most 1 KB of the answer is read and kept, as text.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass

from billing.outbound.targets import Target

EXCERPT_BYTES = 1024
USER_AGENT = "TCF-Webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int | None = None
    body: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._target = target

    def _open(self) -> socket.socket:
        last: OSError | None = None
        for address in self._target.addresses:
            try:
                return socket.create_connection((address, self.port), self.timeout)
            except OSError as error:
                last = error
        raise last or OSError("no address to connect to")

    def connect(self) -> None:
        self.sock = self._open()


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = 443

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target, timeout)
        self._context = ssl.create_default_context()

    def connect(self) -> None:
        self.sock = self._context.wrap_socket(self._open(), server_hostname=self._target.host)


def _text(raw: bytes) -> str:
    # PostgreSQL refuses NUL in text; a receiver's answer may hold anything.
    return raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _one_line(error: BaseException) -> str:
    return (" ".join(str(error).split()) or type(error).__name__)[:500]


def post(target: Target, body: bytes, headers: dict[str, str], *, timeout: float) -> Outcome:
    """POST `body` to the target: its status and the start of its answer, or why it failed."""
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, timeout)
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={**headers, "User-Agent": USER_AGENT, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES)
        return Outcome(status=response.status, body=_text(excerpt))
    except TimeoutError:
        return Outcome(error=f"no answer within {timeout:g} s")
    except (OSError, http.client.HTTPException) as error:
        return Outcome(error=_one_line(error))
    finally:
        connection.close()
