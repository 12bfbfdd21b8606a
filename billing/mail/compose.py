"""A queued mail as the message handed to the SMTP server (standard library `email`).

Every header value is one line: names and subjects with CR or LF are refused when a mail is
queued (billing.mail.services), and stripped here again, so that a row written some other way
can never add a header of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

from billing.mail.models import Mail

# CR, LF, NUL and the other control characters: none belongs in a header.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "pdf"


def one_line(value: str) -> str:
    """A header value with every control character (CR and LF among them) replaced by a space."""
    return " ".join(_CONTROL.sub(" ", value).split())


def sender_address(sender: str) -> Address:
    """`"Name <addr@domain>"` (a MAIL_FROM setting) as an Address."""
    name, addr = parseaddr(one_line(sender))
    if "@" not in addr:
        raise ValueError(f"not a From address: {sender!r}")
    username, domain = addr.rsplit("@", 1)
    return Address(display_name=name, username=username, domain=domain)


def message_id(mail: Mail, sender: Address) -> str:
    """The Message-ID: the mail's public id at the sender's domain. It stays the same on every
    attempt, so a server that took a message whose acceptance we never heard of (a connection
    lost after DATA) lets the receiver see the second copy as the same message."""
    return f"<{mail.public_id}@{sender.domain}>"


def compose(
    mail: Mail, *, sender: str, attachment: Attachment | None, now: datetime
) -> EmailMessage:
    """The message for `mail`: text and HTML alternatives, the attachment, the headers."""
    from_ = sender_address(sender)
    message = EmailMessage(policy=SMTP)
    message["From"] = from_
    message["To"] = [
        Address(display_name=one_line(r["name"]), addr_spec=one_line(r["email"]))
        for r in mail.recipients
    ]
    message["Subject"] = one_line(mail.subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(mail, from_)
    if mail.list_unsubscribe:
        message["List-Unsubscribe"] = one_line(mail.list_unsubscribe)
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    if attachment is not None:
        message.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=one_line(attachment.filename),
        )
    return message
