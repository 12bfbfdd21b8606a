"""Handing a message to the SMTP server named by `SMTP_URL` (SPEC 13), or to the outbox.

- `smtp://user:pass@host:587`: plain SMTP upgraded with STARTTLS whenever the server offers it;
  in production STARTTLS is required unless the host is loopback.
- `smtps://user:pass@host:465`: TLS from the first byte.
- No SMTP_URL: nothing leaves the machine; the mail counts as sent to the outbox, which finance
  reads in the app.

A 4xx answer or a connection that fails is passing (`TemporaryMailError`: the job tries again); a
5xx answer is final (`PermanentMailError`). The password never appears in a message, a log or a
page: `SmtpSettings` shows itself without it.
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

OUTBOX_ANSWER = "outbox (no SMTP_URL)"
TIMEOUT_SECONDS = 30.0


class MailDeliveryError(Exception):
    """A message the server did not take; the text is safe to show (no password)."""


class TemporaryMailError(MailDeliveryError):
    """Try again later: a 4xx answer, a timeout, a refused or dropped connection."""


class PermanentMailError(MailDeliveryError):
    """The server refused for good (5xx), or the settings forbid sending."""


@dataclass(frozen=True)
class SmtpSettings:
    scheme: str  # "smtp" or "smtps"
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)

    @property
    def tls_mode(self) -> str:
        return "TLS (smtps)" if self.scheme == "smtps" else "STARTTLS when offered"

    @property
    def safe_url(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_smtp_url(url: str) -> SmtpSettings | None:
    """The settings in `url`, or None when it is empty (the outbox)."""
    url = url.strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:password@host:587 or smtps://...")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 587)
    except ValueError:
        raise ValueError("SMTP_URL has a port that is not a number") from None
    return SmtpSettings(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}".strip()


def _raise_for(code: int, text: bytes | str, what: str) -> None:
    reason = f"{what}: {_reply(code, text)}"
    if 400 <= code < 500:
        raise TemporaryMailError(reason)
    raise PermanentMailError(reason)


def _connect(settings: SmtpSettings, timeout: float) -> smtplib.SMTP:
    if settings.scheme == "smtps":
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=timeout, context=ssl.create_default_context()
        )
    return smtplib.SMTP(settings.host, settings.port, timeout=timeout)


def deliver(
    message: EmailMessage,
    settings: SmtpSettings,
    *,
    require_tls: bool,
    timeout: float = TIMEOUT_SECONDS,
) -> str:
    """Hand `message` to the server; answers its reply to DATA ("250 OK queued as X").
    `require_tls`: refuse to send over a connection without TLS (loopback excepted)."""
    sender = str(message["From"].addresses[0].addr_spec)
    recipients = [str(address.addr_spec) for address in message["To"].addresses]
    data = message.as_bytes()
    try:
        with _connect(settings, timeout) as server:
            server.ehlo()
            if settings.scheme == "smtp":
                if server.has_extn("starttls"):
                    server.starttls(context=ssl.create_default_context())
                    server.ehlo()
                elif require_tls and not settings.is_loopback:
                    raise PermanentMailError(
                        f"{settings.host} does not offer STARTTLS, required in production"
                    )
            if settings.username:
                server.login(settings.username, settings.password)
            code, text = server.mail(sender)
            if code != 250:
                _raise_for(code, text, "MAIL FROM refused")
            accepted = 0
            refused: list[str] = []
            for recipient in recipients:
                code, text = server.rcpt(recipient)
                if code in (250, 251):
                    accepted += 1
                elif 400 <= code < 500:
                    server.rset()
                    _raise_for(code, text, f"{recipient} refused for now")
                else:
                    refused.append(f"{recipient}: {_reply(code, text)}")
            if not accepted:
                server.rset()
                raise PermanentMailError("every recipient refused: " + "; ".join(refused))
            code, text = server.data(data)
            if code != 250:
                _raise_for(code, text, "message refused")
            answer = _reply(code, text)
            if refused:
                answer += " (refused: " + "; ".join(refused) + ")"
            return answer
    except MailDeliveryError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise PermanentMailError(
            f"login refused: {_reply(exc.smtp_code, exc.smtp_error)}"
        ) from None
    except smtplib.SMTPResponseException as exc:
        _raise_for(exc.smtp_code, exc.smtp_error, "SMTP error")
        raise  # pragma: no cover - _raise_for always raises
    except (smtplib.SMTPException, OSError) as exc:
        # Refused connections, timeouts, a dropped line, TLS that fails: worth another try.
        raise TemporaryMailError(
            f"{settings.host}:{settings.port}: {type(exc).__name__}: {exc}"
        ) from None
