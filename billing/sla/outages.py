"""Outages per segment (SPEC 7): entered by operations (the `noc` role of either party, and
administrators) on a page or imported from a CSV file, every change audited.

Times are ISO 8601 instants with `Z` or an offset (a time without one is refused: it would be
read in nobody's zone), stored in UTC to the minute: a start is taken back to its minute and an
end forward to its, so a 40-second cut counts as one minute, never as none. An end left empty
means the segment is still down. An outage cannot start or end in the future.

A file is imported in one unit of work: a bad row rejects the whole file, naming its line; a
ticket seen again on its segment updates that outage instead of adding another.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.audit import record
from billing.errors import N_, InvalidRequestError, NotFoundError, Text
from billing.inventory.models import Segment
from billing.sla.models import CAUSE_LENGTH, TICKET_LENGTH, Outage
from billing.validation import InvalidValueError, clean_text

NOTE_LENGTH = 2000
COLUMNS = ("segment", "start", "end", "cause", "ticket", "note")
MAX_IMPORT_ROWS = 10_000
# The earliest instant an outage may start: older records belong to no service of this platform.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# What parse_instant says of a start or an end: (required, not ISO 8601, no offset, out of range),
# one whole message per field so that a page can say each in its language.
_INSTANT_PROBLEMS = {
    "start": (
        N_("the start is required"),
        N_("write the start as ISO 8601 with its offset, e.g. 2026-11-03T14:20Z"),
        N_("give the start's offset (Z for UTC, or +04:00)"),
        N_("the start is out of range"),
    ),
    "end": (
        N_("the end is required"),
        N_("write the end as ISO 8601 with its offset, e.g. 2026-11-03T14:20Z"),
        N_("give the end's offset (Z for UTC, or +04:00)"),
        N_("the end is out of range"),
    ),
}
_REQUIRED = {"cause": N_("the cause is required"), "ticket": N_("the ticket is required")}


def parse_instant(value: object, field: str) -> datetime:
    """An ISO 8601 instant with its offset, in UTC; `field` is "start" or "end"."""
    required, not_iso, no_offset, out_of_range = _INSTANT_PROBLEMS[field]
    text = clean_text(value, max_length=40).strip() if isinstance(value, str) else value
    if isinstance(text, datetime):
        moment = text
    elif not isinstance(text, str) or not text:
        raise InvalidValueError(required)
    else:
        try:
            moment = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise InvalidValueError(not_iso) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidValueError(no_offset)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidValueError(out_of_range) from None


def _said(error: InvalidValueError) -> Text:
    """A refused value's message as a field message a page can say in its language."""
    return Text(error.template, **error.values)


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def ceil_minute(moment: datetime) -> datetime:
    floored = floor_minute(moment)
    return floored if floored == moment else floored + timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class OutageValues:
    segment_id: int
    starts_at: datetime
    ends_at: datetime | None
    cause: str
    ticket: str
    note: str


def clean_outage(
    session: Session, values: Mapping[str, Any], now: datetime
) -> tuple[OutageValues | None, dict[str, list[str]]]:
    """The outage as stored, or the problems per field (segment, start, end, cause, ticket,
    note)."""
    errors: dict[str, list[str]] = {}
    segment_id: int | None = None
    code = values.get("segment")
    try:
        code_text = clean_text(code if code is not None else "", max_length=16).strip().upper()
        if not code_text:
            raise InvalidValueError(N_("choose the segment"))
        segment_id = session.execute(
            select(Segment.id).where(Segment.code == code_text)
        ).scalar_one_or_none()
        if segment_id is None:
            raise InvalidValueError(N_("there is no segment %(code)s"), code=repr(code_text[:16]))
    except InvalidValueError as exc:
        errors["segment"] = [_said(exc)]
    starts_at = ends_at = None
    try:
        starts_at = floor_minute(parse_instant(values.get("start"), "start"))
        if starts_at < EARLIEST:
            raise InvalidValueError(N_("an outage of this platform starts in 2000 or later"))
        if starts_at > now:
            raise InvalidValueError(N_("an outage cannot start in the future"))
    except InvalidValueError as exc:
        errors["start"] = [_said(exc)]
    end_value = values.get("end")
    if end_value not in (None, "") and not (isinstance(end_value, str) and not end_value.strip()):
        try:
            ends_at = ceil_minute(parse_instant(end_value, "end"))
            if ends_at > ceil_minute(now):
                raise InvalidValueError(
                    N_("an outage cannot end in the future: leave the end empty while it is down")
                )
            if starts_at is not None and ends_at <= starts_at:
                raise InvalidValueError(N_("the end comes after the start"))
        except InvalidValueError as exc:
            errors["end"] = [_said(exc)]
    texts: dict[str, str] = {}
    for field, limit, required, multiline in (
        ("cause", CAUSE_LENGTH, True, False),
        ("ticket", TICKET_LENGTH, True, False),
        ("note", NOTE_LENGTH, False, True),
    ):
        raw = values.get(field)
        try:
            text = clean_text("" if raw is None else raw, max_length=limit, multiline=multiline)
            text = text.strip()
            if required and not text:
                raise InvalidValueError(_REQUIRED[field])
            texts[field] = text
        except InvalidValueError as exc:
            errors[field] = [_said(exc)]
    if errors or segment_id is None or starts_at is None:
        return None, errors
    return (
        OutageValues(
            segment_id, starts_at, ends_at, texts["cause"], texts["ticket"], texts["note"]
        ),
        {},
    )


def _snapshot(outage: Outage) -> dict[str, object]:
    return {
        "segment": outage.segment.code if outage.segment else outage.segment_id,
        "start": outage.starts_at.isoformat(),
        "end": outage.ends_at.isoformat() if outage.ends_at else None,
        "cause": outage.cause,
        "ticket": outage.ticket,
        "note": outage.note,
    }


def _apply(outage: Outage, values: OutageValues) -> None:
    outage.segment_id = values.segment_id
    outage.starts_at = values.starts_at
    outage.ends_at = values.ends_at
    outage.cause = values.cause
    outage.ticket = values.ticket
    outage.note = values.note


def _by_ticket(session: Session, segment_id: int, ticket: str) -> Outage | None:
    return session.execute(
        select(Outage).where(Outage.segment_id == segment_id, Outage.ticket == ticket)
    ).scalar_one_or_none()


def record_outage(
    session: Session, values: Mapping[str, Any], *, actor: str, now: datetime
) -> Outage:
    """A new outage; a ticket already recorded on that segment is refused (edit it instead)."""
    clean, errors = clean_outage(session, values, now)
    if clean is None:
        raise InvalidRequestError(N_("the outage was not recorded"), errors)
    if _by_ticket(session, clean.segment_id, clean.ticket) is not None:
        raise InvalidRequestError(
            N_("ticket %(ticket)s is recorded on this segment already: edit that outage"),
            {"ticket": [N_("This ticket is recorded on this segment already.")]},
            ticket=clean.ticket,
        )
    outage = Outage(created_at=now, created_by=actor)
    _apply(outage, clean)
    session.add(outage)
    session.flush()
    session.refresh(outage, ["segment"])
    record(
        session,
        actor=actor,
        action="outage.record",
        entity_type="outage",
        entity_id=outage.id,
        now=now,
        after=_snapshot(outage),
    )
    return outage


def get_outage(session: Session, outage_id: int) -> Outage:
    outage = session.get(Outage, outage_id)
    if outage is None:
        raise NotFoundError(N_("there is no outage %(id)s"), id=outage_id)
    return outage


def update_outage(
    session: Session, outage_id: int, values: Mapping[str, Any], *, actor: str, now: datetime
) -> Outage:
    """Change an outage (close it with its end, correct it); audited with before and after."""
    outage = get_outage(session, outage_id)
    clean, errors = clean_outage(session, values, now)
    if clean is None:
        raise InvalidRequestError(N_("the outage was not changed"), errors)
    other = _by_ticket(session, clean.segment_id, clean.ticket)
    if other is not None and other.id != outage.id:
        raise InvalidRequestError(
            N_("ticket %(ticket)s is recorded on this segment already"),
            {"ticket": [N_("This ticket is recorded on this segment already.")]},
            ticket=clean.ticket,
        )
    before = _snapshot(outage)
    _apply(outage, clean)
    session.flush()
    session.refresh(outage, ["segment"])
    after = _snapshot(outage)
    if after != before:
        record(
            session,
            actor=actor,
            action="outage.update",
            entity_type="outage",
            entity_id=outage.id,
            now=now,
            before=before,
            after=after,
        )
    return outage


def delete_outage(
    session: Session, outage_id: int, *, reason: str, actor: str, now: datetime
) -> None:
    """Remove an outage recorded by mistake, with the reason; audited with what it was."""
    outage = get_outage(session, outage_id)
    try:
        why = clean_text(reason or "", max_length=500, multiline=True).strip()
    except InvalidValueError as exc:
        raise InvalidRequestError(
            N_("the outage was not removed"), {"reason": [_said(exc)]}
        ) from None
    if not why:
        raise InvalidRequestError(
            N_("say why the outage is removed"), {"reason": [N_("Give the reason.")]}
        )
    before = _snapshot(outage)
    session.delete(outage)
    session.flush()
    record(
        session,
        actor=actor,
        action="outage.delete",
        entity_type="outage",
        entity_id=outage_id,
        now=now,
        before={**before, "reason": why},
    )


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int
    updated: int
    unchanged: int


def import_outages(
    session: Session, data: bytes | str, *, actor: str, now: datetime
) -> ImportResult:
    """Every row of a CSV file (`segment,start,end,cause,ticket,note`, with that header), or
    none: the first bad row rejects the file with its line number."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidRequestError(
                N_("the file is not UTF-8 text"), {"file": [N_("Save the file as UTF-8 CSV.")]}
            ) from None
    else:
        text = data
    if "\x00" in text:
        raise InvalidRequestError(
            N_("the file holds NUL characters"), {"file": [N_("Not a CSV file.")]}
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InvalidRequestError(
            N_("line 1: %(problem)s"),
            {"file": [Text(N_("Line %(number)s: %(message)s"), number=1, message=str(exc))]},
            problem=str(exc),
        ) from None
    if header is None or [h.strip().lower() for h in header] != list(COLUMNS):
        raise InvalidRequestError(
            N_("line 1: the header must be %(columns)s"),
            {"file": [Text(N_("The first line must be: %(columns)s"), columns=",".join(COLUMNS))]},
            columns=",".join(COLUMNS),
        )
    added = updated = unchanged = 0
    seen: set[tuple[int, str]] = set()
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if line > MAX_IMPORT_ROWS + 1:
                raise InvalidRequestError(
                    N_("the file has more than %(count)s rows: split it"),
                    {"file": [Text(N_("At most %(count)s rows a file."), count=MAX_IMPORT_ROWS)]},
                    count=MAX_IMPORT_ROWS,
                )
            if len(row) != len(COLUMNS):
                raise _bad_line(
                    line,
                    Text(
                        N_("%(count)s columns where %(expected)s are expected"),
                        count=len(row),
                        expected=len(COLUMNS),
                    ),
                )
            values = dict(zip(COLUMNS, row, strict=True))
            clean, errors = clean_outage(session, values, now)
            if clean is None:
                field, messages = next(iter(errors.items()))
                raise _bad_line(
                    line, Text(N_("%(field)s: %(message)s"), field=field, message=messages[0])
                )
            key = (clean.segment_id, clean.ticket)
            if key in seen:
                raise _bad_line(
                    line,
                    Text(N_("ticket %(ticket)s is on an earlier line too"), ticket=clean.ticket),
                )
            seen.add(key)
            outage = _by_ticket(session, clean.segment_id, clean.ticket)
            if outage is None:
                record_outage(session, values, actor=actor, now=now)
                added += 1
                continue
            before = _snapshot(outage)
            update_outage(session, outage.id, values, actor=actor, now=now)
            if _snapshot(outage) == before:
                unchanged += 1
            else:
                updated += 1
    except csv.Error as exc:
        raise _bad_line(reader.line_num, str(exc)) from None
    return ImportResult(added, updated, unchanged)


def _bad_line(line: int, problem: str) -> InvalidRequestError:
    """The import refused at `line`; `problem` is a Text (a page says it in its language) or
    the csv module's English words."""
    return InvalidRequestError(
        N_("line %(line)s: %(problem)s; nothing was imported"),
        {"file": [Text(N_("Line %(number)s: %(message)s"), number=line, message=problem)]},
        line=line,
        problem=problem,
    )
