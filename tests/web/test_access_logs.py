"""Secrets in a URL never reach a log line (issue 14, SPEC 8): an API key sent as `?api_key=` is
refused, and neither the app's own lines nor the access log of the server that runs it (werkzeug
in development, gunicorn in production) carries it."""

from __future__ import annotations

import io
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskClient

from billing.logs import JsonFormatter, redact
from tests.helpers import new_customer_key

QUERY_SECRETS = {
    "api_key": "k3y-in-the-url-0001",
    "token": "t0ken-in-the-url-0002",
    "client_secret": "s3cret-in-the-url-0003",
    "password": "pa55word-in-the-url-0004",
    "signature": "s1gnature-in-the-url-0005",
    "key": "plain-key-in-the-url-0006",
}
QUERY = "&".join(f"{name}={value}" for name, value in QUERY_SECRETS.items()) + "&page=2"


@contextmanager
def captured(name: str, formatter: logging.Formatter | None = None) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    if formatter is not None:
        handler.setFormatter(formatter)
    logger = logging.getLogger(name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def assert_no_secret(logged: str) -> None:
    for name, value in QUERY_SECRETS.items():
        assert value not in logged, (name, logged)


def test_an_api_key_in_the_query_is_refused_and_never_logged_by_the_app(
    app: Flask, client: FlaskClient
) -> None:
    real = new_customer_key(app)
    with captured("billing", JsonFormatter()) as lines:
        response = client.get(f"/api/v1/quotes?api_key={real}&{QUERY}")
        # A server error with the URL in its text: the error line is redacted too.
        logging.getLogger("billing.errors").error("failed on /x?%s", QUERY)
    assert response.status_code == 401
    logged = lines.getvalue()
    assert '"path": "/api/v1/quotes", "status": 401' in logged  # the request's line is there
    assert "failed on /x?api_key=[redacted]&token=[redacted]" in logged and "page=2" in logged
    assert real not in logged
    assert_no_secret(logged)


def test_the_development_server_access_log_redacts_secret_parameters(
    app: Flask, live_server: str
) -> None:
    real = new_customer_key(app)
    with captured("werkzeug") as lines:
        try:
            urllib.request.urlopen(f"{live_server}/api/v1/quotes?api_key={real}&{QUERY}")  # noqa: S310
        except urllib.error.HTTPError as refused:
            assert refused.code == 401
        else:
            pytest.fail("an API key in the query was accepted")
    logged = lines.getvalue()
    assert "GET /api/v1/quotes?api_key=[API key redacted]&api_key=[redacted]&token=" in logged
    assert "page=2" in logged and " 401 " in logged
    assert real not in logged
    assert_no_secret(logged)


def test_the_gunicorn_access_log_redacts_secret_parameters(app: Flask, tmp_path: Path) -> None:
    """gunicorn's own logger, as `--access-logfile` sets it up, in the process the app runs in."""
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    config = Config()
    access_log = tmp_path / "access.log"
    config.set("accesslog", str(access_log))
    config.set("access_log_format", '%(h)s "%(r)s" %(s)s q=[%(q)s] ref="%(f)s"')
    logger = Logger(config)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/api/v1/quotes?{QUERY}",
        "PATH_INFO": "/api/v1/quotes",
        "QUERY_STRING": QUERY,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_REFERER": f"https://example.test/page?token={QUERY_SECRETS['token']}",
    }
    response = SimpleNamespace(status="401 UNAUTHORIZED", sent=120, headers=[])
    try:
        logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=3))
    finally:
        for handler in logger.access_log.handlers:
            handler.close()
    logged = access_log.read_text()
    assert '"GET /api/v1/quotes?api_key=[redacted]&token=[redacted]' in logged, logged
    assert "q=[api_key=[redacted]&" in logged and "page=2" in logged
    assert 'ref="https://example.test/page?token=[redacted]"' in logged
    assert_no_secret(logged)


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("GET /x?api_key=abc&page=2", "GET /x?api_key=[redacted]&page=2"),
        ("/x?Token=abc", "/x?Token=[redacted]"),
        ("access_token=abc&q=fibre", "access_token=[redacted]&q=fibre"),
        ("/x?a=1;password=hunter2", "/x?a=1;password=[redacted]"),
        ("/x?X-Amz-Signature=abc#top", "/x?X-Amz-Signature=[redacted]#top"),
        ("/x?sig=abc", "/x?sig=[redacted]"),
        ("/x?q=secret&page=2", "/x?q=secret&page=2"),  # a search for the word is no secret
        ("/customers?sort=name", "/customers?sort=name"),
    ],
)
def test_secret_query_parameters_are_redacted(line: str, kept: str) -> None:
    assert redact(line) == kept
