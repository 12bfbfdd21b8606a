"""Operations' pages (SPEC 7, issue 18), on both databases: the outages list (search, filters,
sort, CSV), recording, editing, closing and removing an outage, importing a file; the SLA
policies page; and a service's availability with finance's waive and grant on its page, which
the next run bills."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from billing.audit import AuditEntry
from billing.clock import FrozenClock
from billing.db import Database
from billing.invoicing.models import InvoiceLine
from billing.invoicing.runs import parse_period, run_billing
from billing.parties.customers import Seller
from billing.sla.models import Outage, SlaDecision, SlaPolicy
from billing.sla.outages import record_outage
from tests import factories
from tests.helpers import csrf_token, login, post_form

NOC = "noc@azertelecom.az"
ADMIN = "admin@azertelecom.az"
FINANCE = "finance@azertelecom.az"
SALES = "sales@azertelecom.az"
LIST = "/operations/outages"
NEW = "/operations/outages/new"
IMPORT = "/operations/outages/import"
POLICIES = "/admin/sla-policies"


def outages(db: Database) -> list[tuple[str, str, datetime, datetime | None, str]]:
    with db.transaction() as s:
        return [
            (o.segment.code, o.ticket, o.starts_at, o.ends_at, o.cause)
            for o in s.execute(select(Outage).order_by(Outage.id)).scalars()
        ]


def audited(db: Database, prefix: str) -> list[str]:
    with db.transaction() as s:
        return list(
            s.execute(
                select(AuditEntry.action)
                .where(AuditEntry.action.startswith(prefix))
                .order_by(AuditEntry.id)
            ).scalars()
        )


def outage_form(**values: str) -> dict[str, str]:
    return {
        "segment": "S1",
        "start": "2026-11-20T10:00",
        "end": "",
        "zone": "Asia/Baku",
        "cause": "Fiber cut near Sumgait",
        "ticket": "NOC-101",
        "note": "",
        **values,
    }


def upload(client: FlaskClient, content: bytes, name: str = "outages.csv") -> Any:
    token = csrf_token(client.get(LIST).text)
    return client.post(
        IMPORT,
        data={"csrf_token": token, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def test_noc_records_edits_closes_and_removes_an_outage(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    login(client, NOC)
    home = client.get("/")
    assert home.status_code == 302 and home.location.endswith(LIST)
    assert ">Operations" in client.get(LIST).text
    # 10:00 in Baku is 06:00 UTC; no end: the segment is still down.
    response = post_form(client, NEW, NEW, outage_form())
    assert response.status_code == 302, response.text
    assert outages(db) == [
        ("S1", "NOC-101", datetime(2026, 11, 20, 6, 0, tzinfo=UTC), None, "Fiber cut near Sumgait")
    ]
    listed = client.get(LIST).text
    assert "2026-11-20 06:00" in listed and ">ongoing<" in listed
    # A time with its offset is taken as it is, whatever the zone says.
    response = post_form(
        client, NEW, NEW, outage_form(ticket="NOC-102", start="2026-11-21T08:00+05:00", end="")
    )
    assert response.status_code == 302, response.text
    assert outages(db)[1][2] == datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    with db.transaction() as s:
        first = s.execute(select(Outage.id).where(Outage.ticket == "NOC-101")).scalar_one()
    edit = f"/operations/outages/{first}/edit"
    page = client.get(edit).text
    assert 'value="2026-11-20T10:00"' in page and "Close now" in page  # shown in Baku time
    response = post_form(client, edit, edit, outage_form(cause="Fiber cut, repaired"))
    assert response.status_code == 302
    assert outages(db)[0][3] is None and outages(db)[0][4] == "Fiber cut, repaired"
    # Close now: the end is this minute (the clock's 2026-11-25 09:00 UTC).
    response = post_form(client, edit, edit, {**outage_form(), "close_now": "yes"})
    assert response.status_code == 302
    assert outages(db)[0][3] == clock.now()
    assert ">ongoing<" not in client.get(f"{LIST}?q=NOC-101").text
    # Removing asks first, and wants a reason.
    delete = f"/operations/outages/{first}/delete"
    question = client.get(delete)
    assert question.status_code == 200 and "Remove outage NOC-101 on S1?" in question.text
    assert post_form(client, delete, delete, {"reason": " "}).status_code == 422
    assert len(outages(db)) == 2
    response = post_form(client, delete, delete, {"reason": "Recorded on the wrong segment"})
    assert response.status_code == 302
    assert [o[1] for o in outages(db)] == ["NOC-102"]
    assert audited(db, "outage.") == [
        "outage.record",
        "outage.record",
        "outage.update",
        "outage.update",
        "outage.delete",
    ]


def test_the_list_filters_sorts_and_downloads_as_filtered(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    now = clock.now()
    with db.transaction() as s:
        for segment, ticket, start, end in (
            ("S1", "INC-1", "2026-10-02T06:00Z", "2026-10-02T07:30Z"),
            ("S2", "INC-2", "2026-11-10T06:00Z", "2026-11-10T06:45Z"),
            ("S1", "INC-3", "2026-11-24T22:00Z", ""),
        ):
            record_outage(
                s,
                {"segment": segment, "start": start, "end": end, "cause": "=cmd", "ticket": ticket},
                actor="noc@example.test",
                now=now,
            )
    login(client, ADMIN)
    page = client.get(f"{LIST}?segment=S1&sort=start").text
    assert page.index("INC-1") < page.index("INC-3") and "INC-2" not in page
    assert "INC-3" in client.get(f"{LIST}?open=1").text
    assert "INC-1" not in client.get(f"{LIST}?open=1").text
    page = client.get(f"{LIST}?from=2026-11-01&to=2026-11-15").text
    assert "INC-2" in page and "INC-1" not in page and "INC-3" not in page
    assert "ignored" in client.get(f"{LIST}?from=2026-13-45").text  # a bad date is no filter
    download = client.get(f"{LIST}?segment=S1&sort=start&format=csv")
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0][:4] == ["segment", "start", "end", "minutes"]
    assert [(r[1], r[2], r[3]) for r in rows[1:]] == [
        ("2026-10-02T06:00Z", "2026-10-02T07:30Z", "90"),
        ("2026-11-24T22:00Z", "", ""),
    ]
    assert rows[1][4] == "'=cmd"  # formula-safe
    assert (
        "segment,start,end,cause,ticket,note" in client.get("/operations/outages/sample.csv").text
    )


def test_import_adds_updates_and_refuses_a_bad_file_whole(
    client: FlaskClient, db: Database
) -> None:
    login(client, NOC)
    header = b"segment,start,end,cause,ticket,note\n"
    good = header + (
        b"S1,2026-11-03T14:20Z,2026-11-03T15:05Z,Fiber cut,NOC-1,\n"
        b"S2,2026-11-04T10:00+04:00,,Power,NOC-2,still down\n"
    )
    response = upload(client, good)
    assert response.status_code == 302
    assert "2 added, 0 updated, 0 unchanged" in client.get(LIST).text
    again = good.replace(b",,Power", b",2026-11-04T11:00+04:00,Power")
    upload(client, again)
    assert "0 added, 1 updated, 1 unchanged" in client.get(LIST).text
    before = outages(db)
    bad = header + b"S1,2026-11-05T10:00Z,,Cut,NOC-3,\nS9,2026-11-05T10:00Z,,Cut,NOC-4,\n"
    naive = header + b"S1,2026-11-05T10:00,,Cut,NOC-5,\n"
    for content, said in (
        (bad, "Line 3"),
        (naive, "Line 2"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "UTF-8"),
        (header + b"S1,2026-11-05T10:00Z,,Cut\x00,NOC-6,\n", "NUL"),
        (header + b"S1,2026-11-05T10:00Z,,Cut," + b"x" * 100_000 + b",\n", "Line 2"),
    ):
        response = upload(client, content)
        assert response.status_code == 422, (said, response.status_code)
        assert said in response.text
    # A 5 MB file is refused before it is read (sent as a raw body: the test client would
    # spool a multipart one to a temporary file it never closes).
    token = csrf_token(client.get(LIST).text)
    boundary = "b0undary"
    five_mb = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + header
        + b"x" * (5 * 1024 * 1024)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    huge = client.post(
        IMPORT, data=five_mb, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert huge.status_code == 413 and "The file is over 1 MB" in huge.text
    assert outages(db) == before


def test_other_roles_are_refused_the_outages_and_the_policy_form(client: FlaskClient) -> None:
    for user in (SALES, FINANCE):
        login(client, user)
        for url in (LIST, NEW, "/operations/outages/sample.csv"):
            assert client.get(url).status_code == 403, (user, url)
        token = csrf_token(client.get("/login").text) if user == SALES else "x"
        assert client.post(IMPORT, data={"csrf_token": token}).status_code in (400, 403)
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/services").text)})
    login(client, FINANCE)
    page = client.get(POLICIES)
    assert page.status_code == 200 and "99.95%" in page.text and "Add a version" not in page.text
    token = csrf_token(client.get("/services").text)
    assert client.post(POLICIES, data={"csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    login(client, NOC)
    assert client.get(POLICIES).status_code == 403


def test_hostile_values_on_the_outage_form_are_messages_never_500s(
    client: FlaskClient, db: Database
) -> None:
    login(client, NOC)
    for values, field in (
        (outage_form(cause="cut\x00"), "cause"),
        (outage_form(note="x" * 100_000), "note"),
        (outage_form(ticket="T" * 65), "ticket"),
        (outage_form(zone="Mars/Olympus"), "zone"),
        (outage_form(start="2026-11-20 10:00 local"), "start"),
        (outage_form(start="NaN"), "start"),
        (outage_form(start="2026-11-20T10:00", end="2026-11-20T09:00"), "end"),
        (outage_form(start="2027-01-01T10:00"), "start"),
        (outage_form(segment="S99"), "segment"),
    ):
        response = post_form(client, NEW, NEW, values)
        if field == "cause":  # NUL is refused for every form, before any view (input_guard)
            assert response.status_code == 400 and "NUL" in response.text
            continue
        assert response.status_code == 422, (field, response.status_code)
        assert 'class="field-error"' in response.text, field
    assert outages(db) == []


def test_an_admin_adds_a_policy_version_and_bad_figures_are_refused(
    client: FlaskClient, db: Database
) -> None:
    login(client, ADMIN)
    base = {
        "protection": "protected",
        "effective_from": "2027-01-01",
        "target_percent": "99.9",
        "tier_0-below": "99.9",
        "tier_0-credit": "10",
        "tier_1-below": "98",
        "tier_1-credit": "50",
    }
    with db.transaction() as s:
        count = s.execute(select(func.count(SlaPolicy.id))).scalar_one()
    for bad in (
        {"target_percent": "NaN"},
        {"target_percent": "101"},
        {"tier_0-credit": "NaN"},
        {"tier_1-below": "Infinity"},
        {"tier_1-credit": ""},
        {"tier_0-below": "", "tier_0-credit": "", "tier_1-below": "", "tier_1-credit": ""},
        {"tier_1-below": "99.9"},  # two tiers at the same availability
        {"effective_from": "2026-02-30"},
        {"protection": "gold"},
    ):
        response = post_form(client, POLICIES, POLICIES, {**base, **bad})
        assert response.status_code in (409, 422), bad
        assert "field-error" in response.text or "flash error" in response.text, bad
    with db.transaction() as s:
        assert s.execute(select(func.count(SlaPolicy.id))).scalar_one() == count
    response = post_form(client, POLICIES, POLICIES, base)
    assert response.status_code == 302, response.text
    page = client.get(POLICIES).text
    assert "2027-01-01" in page and "below 98%: 50% credit" in page and "scheduled" in page
    assert audited(db, "sla_policy.add")[-1] == "sla_policy.add"
    again = post_form(client, POLICIES, POLICIES, base)
    assert again.status_code == 409  # one version a day per class


# --- The service page ----------------------------------------------------------------------


def _service_with_a_bad_october(
    db: Database, clock: FrozenClock, *, outage: bool = True
) -> tuple[str, int]:
    """A lease of USD 6,000 a month on S1 from October; with `outage`, S1 down 224 minutes in
    October (another service made after it shares that outage)."""
    now = clock.now()
    with db.transaction() as s:
        service = factories.active_service(
            s, now=now, mrc=Decimal("6000"), nrc=Decimal("0"), ready_for_service=date(2026, 10, 1)
        )
        if not outage:
            return service.circuit_id, service.id
        # 224 minutes down in October: 99.49% (truncated), below 99.5: 10 % by the tiers.
        record_outage(
            s,
            {
                "segment": "S1",
                "start": "2026-10-20T06:00Z",
                "end": "2026-10-20T09:44Z",
                "cause": "Fiber cut",
                "ticket": "INC-OCT",
            },
            actor="noc@example.test",
            now=now,
        )
        return service.circuit_id, service.id


def _bill_october(db: Database, clock: FrozenClock) -> None:
    run_billing(
        db.transaction,
        period=parse_period("2026-10"),
        issuer_code=None,
        actor=Seller("tests", None),
        clock=clock.now,
    )


def _credits(db: Database, service_id: int) -> list[Decimal]:
    with db.transaction() as s:
        return list(
            s.execute(
                select(InvoiceLine.price_amount).where(
                    InvoiceLine.service_id == service_id,
                    InvoiceLine.charge_kind == "sla_credit",
                )
            ).scalars()
        )


def test_the_service_page_shows_availability_and_finance_waives_grants_and_undoes(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    circuit, service_id = _service_with_a_bad_october(db, clock)
    page_url = f"/services/{circuit}"
    login(client, SALES)
    page = client.get(page_url).text
    assert 'id="availability"' in page and "99.49%" in page and "October 2026" in page
    assert "November 2026" in page and "(so far)" in page
    assert "-$600.00" in page and "Waive or grant" not in page  # sales read, never decide
    client.post("/logout", data={"csrf_token": csrf_token(page)})
    login(client, FINANCE)
    page = client.get(page_url).text
    assert "Waive or grant the October 2026 credit" in page
    waive = f"/services/{circuit}/sla-credit/2026-10/waive"
    grant = f"/services/{circuit}/sla-credit/2026-10/grant"
    # Errors stay on the page: no reason, NaN, a month not over, another kind.
    response = post_form(client, waive, page_url, {"reason": " "})
    assert response.status_code == 422 and "field-error" in response.text
    response = post_form(client, grant, page_url, {"reason": "x", "credit_percent": "NaN"})
    assert response.status_code == 422 and "field-error" in response.text
    response = post_form(client, grant, page_url, {"reason": "x", "credit_percent": ""})
    assert response.status_code == 422 and "Give the percentage" in response.text
    assert (
        post_form(
            client, f"/services/{circuit}/sla-credit/2026-11/waive", page_url, {"reason": "x"}
        ).status_code
        == 404
    )
    assert (
        post_form(
            client, f"/services/{circuit}/sla-credit/2026-10/maybe", page_url, {"reason": "x"}
        ).status_code
        == 404
    )
    # Waive: asked first, then decided.
    question = post_form(client, waive, page_url, {"reason": "Planned works agreed"})
    assert question.status_code == 200 and "Waive the October 2026 credit" in question.text
    with db.transaction() as s:
        assert s.execute(select(func.count(SlaDecision.id))).scalar_one() == 0
    done = post_form(
        client, waive, page_url, {"reason": "Planned works agreed", "confirmed": "yes"}
    )
    assert done.status_code == 302
    page = client.get(page_url).text
    assert "waived" in page and "Planned works agreed" in page and "Undo" in page
    # Undo, then grant 25 %.
    undo = f"/services/{circuit}/sla-credit/2026-10/undo"
    assert post_form(client, undo, page_url, {}).status_code == 302
    data = {"reason": "Goodwill after the second cut", "credit_percent": "25", "confirmed": "yes"}
    assert post_form(client, grant, page_url, data).status_code == 302
    assert "granted 25%" in client.get(page_url).text
    assert audited(db, "sla_credit.") == [
        "sla_credit.waive",
        "sla_credit.undecide",
        "sla_credit.grant",
    ]
    # Another service on S1, its October waived from its page.
    other, other_id = _service_with_a_bad_october(db, clock, outage=False)
    other_url = f"/services/{other}"
    assert "99.49%" in client.get(other_url).text
    data = {"reason": "Customer's own works", "confirmed": "yes"}
    assert (
        post_form(client, f"{other_url}/sla-credit/2026-10/waive", other_url, data).status_code
        == 302
    )
    # The next run bills the grant, 25 % of 6,000, and nothing for the waived month.
    _bill_october(db, clock)
    assert _credits(db, service_id) == [Decimal("-1500.00")]
    assert _credits(db, other_id) == []
    page = client.get(page_url).text
    assert "billed on" in page and "Waive or grant the October 2026 credit" not in page
    refused = post_form(client, undo, page_url, {})
    assert refused.status_code == 409 and _credits(db, service_id) == [Decimal("-1500.00")]


def test_another_partys_finance_may_not_decide(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    circuit, service_id = _service_with_a_bad_october(db, clock)
    login(client, "finance@kazakhtelecom.kz")
    page = client.get(f"/services/{circuit}").text
    assert "99.49%" in page and "Waive or grant" not in page
    response = post_form(
        client,
        f"/services/{circuit}/sla-credit/2026-10/waive",
        f"/services/{circuit}",
        {"reason": "not ours", "confirmed": "yes"},
    )
    assert response.status_code == 403
    _bill_october(db, clock)
    assert _credits(db, service_id) == [Decimal("-600.00")]  # the tiers' 10 %, undecided


def test_a_malformed_month_is_not_found(
    client: FlaskClient, db: Database, clock: FrozenClock
) -> None:
    circuit, _ = _service_with_a_bad_october(db, clock)
    login(client, FINANCE)
    page = f"/services/{circuit}"
    for month in ("2026-1", "abcd-ef", "2026-13", "0000-01", "1999-01", "9999-99", "2025-10"):
        for kind in ("waive", "undo"):
            url = f"{page}/sla-credit/{month}/{kind}"
            assert post_form(client, url, page, {"reason": "x"}).status_code == 404, url
