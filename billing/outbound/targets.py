"""Where a webhook may be sent (SSRF, SPEC 13): checked when an endpoint is registered and again
before every attempt, since what a name resolves to may change.

In production only `https://` to hosts whose every address is public; outside production (the
tests, a newcomer's machine) also `http://` to this machine (127.0.0.1, ::1, localhost), so that
a real receiver can run locally. Credentials in the URL, NUL and over-long URLs are refused
everywhere. The sender connects to an address checked here, never to a name resolved again.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from billing.errors import N_, Text
from billing.outbound.models import URL_LENGTH

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetError(Exception):
    """The URL may not receive webhooks; the message (a Text, args[0]) says why, for people."""

    def __init__(self, template: str, **values: object) -> None:
        super().__init__(Text(template, **values))


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # as written (the TLS server name and the Host header)
    port: int
    path: str  # with its query
    addresses: tuple[str, ...]  # checked addresses to connect to, in the resolver's order


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _forbidden(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _forbidden(address.ipv4_mapped)
    for name, flag in (
        (N_("loopback"), address.is_loopback),
        (N_("private"), address.is_private),
        (N_("link-local"), address.is_link_local),
        (N_("multicast"), address.is_multicast),
        (N_("reserved"), address.is_reserved),
        (N_("unspecified"), address.is_unspecified),
    ):
        if flag:
            return name
    if not address.is_global:
        return N_("not public")
    return None


def check_url(url: str) -> tuple[str, str, int, str]:
    """The URL's scheme, host, port and path, or TargetError: its form only, no lookup."""
    if not url.strip():
        raise TargetError(N_("A URL is required, https://…"))
    if len(url) > URL_LENGTH:
        raise TargetError(N_("A URL of at most %(length)s characters."), length=URL_LENGTH)
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise TargetError(N_("No spaces or control characters in the URL."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetError(N_("Not a valid URL.")) from None
    if parts.scheme not in {"https", "http"}:
        raise TargetError(N_("An https:// URL."))
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise TargetError(N_("No user name or password in the URL."))
    host = parts.hostname or ""
    if not host:
        raise TargetError(N_("A URL with a host name, https://…"))
    if parts.fragment:
        raise TargetError(N_("No #fragment in the URL."))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def check_target(url: str, *, production: bool, resolver: Resolver = resolve) -> Target:
    """The checked target of `url`, or TargetError saying why it may not receive webhooks."""
    scheme, host, port, path = check_url(url)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolver(host, port)
        except (OSError, UnicodeError):
            raise TargetError(N_("The host %(host)s could not be found."), host=host) from None
        if not addresses:
            raise TargetError(N_("The host %(host)s could not be found."), host=host)
    parsed = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
    if not production and all(a.is_loopback for a in parsed):
        # This machine, outside production: a test's or a newcomer's receiver.
        return Target(scheme, host, port, path, tuple(addresses))
    if scheme != "https":
        raise TargetError(
            N_("An https:// URL.")
            if production
            else N_("An https:// URL (or http:// to this machine).")
        )
    for address in parsed:
        why = _forbidden(address)
        if why:
            raise TargetError(
                N_(
                    "The host %(host)s resolves to a %(kind)s address (%(address)s): webhooks go "
                    "to public addresses only."
                ),
                host=host,
                kind=Text(why),
                address=str(address),
            )
    return Target(scheme, host, port, path, tuple(addresses))
