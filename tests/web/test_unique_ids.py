"""No page of the staff UI repeats an id (SPEC 10): a label, a skip link or an error summary's link
points at one field only. The pages are every GET route filled in with the hostile-input test's
small world (customers, quotes, a hold, services, invoices drafted, issued and disputed, payments,
statements), as the administrator sees them (every form shown), and again as finance and sales."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

from flask import Flask

from billing.clock import FrozenClock
from tests.helpers import login
from tests.web.test_hostile_input import ADMIN, build_world, get_pages


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value is not None:
                self.ids[value] += 1


def duplicate_ids(html: str) -> list[str]:
    parser = _Ids()
    parser.feed(html)
    return sorted(i for i, n in parser.ids.items() if n > 1)


def test_duplicate_ids_are_found() -> None:
    assert duplicate_ids('<p id="a"></p><input id="a"><b id="b"></b>') == ["a"]
    assert duplicate_ids('<p id="a"></p><input id="b">') == []


def test_no_staff_page_repeats_an_id(app: Flask, clock: FrozenClock) -> None:
    world = build_world(app, clock)
    pages = get_pages(app, world)
    found: dict[str, list[str]] = {}
    shown = 0
    for email in (ADMIN, "finance@azertelecom.az", "sales@azertelecom.az"):
        client = app.test_client()
        login(client, email)
        for path in pages:
            response = client.get(path)
            if response.status_code != 200 or "text/html" not in response.content_type:
                continue
            shown += 1
            if duplicates := duplicate_ids(response.text):
                found[f"{email} {path}"] = duplicates
    assert shown > 3 * 20, "too few pages were loaded to check"
    assert found == {}
