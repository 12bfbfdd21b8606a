"""Every response the API tests get from /api/v1 is checked against the OpenAPI document.

A strict validator (openapi-core) reads the app's own document and checks each response's
status, content type, headers and body against its operation, so the document cannot drift from
what the API answers: a test that gets an undocumented status or an off-schema body fails.
Requests that reach no documented operation (an unknown path, a method the path does not take)
have nothing to be checked against and pass through.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.templating.paths.exceptions import PathError
from werkzeug.test import TestResponse

API_PREFIX = "/api/v1/"
SPEC_URL = "/api/v1/openapi.json"
# The documentation's own pages are not operations of the document.
UNCHECKED_PREFIXES = (SPEC_URL, "/api/v1/docs")

_documents: dict[int, OpenAPI] = {}


def api_document(app: Flask) -> OpenAPI:
    """The app's document, read once per run (it is the same for every app of the run)."""
    if not _documents:
        spec = app.test_client().get(SPEC_URL).json
        assert spec is not None
        _documents[0] = OpenAPI.from_dict(spec)
    return _documents[0]


class _SentRequest(WerkzeugOpenAPIRequest):
    """The request as sent: its body was read by the app, and a response's check needs none."""

    @property
    def body(self) -> bytes | None:
        return None


class _Answer(WerkzeugOpenAPIResponse):
    """openapi-core tees a streamed body and drops its close(), so what the app runs once the
    answer is sent (call_on_close) never ran; werkzeug's own buffering keeps it."""

    @property
    def data(self) -> bytes:
        return self.response.get_data(as_text=False)


def check_response(app: Flask, response: TestResponse) -> None:
    request = response.request
    if not request.path.startswith(API_PREFIX) or request.path.startswith(UNCHECKED_PREFIXES):
        return
    try:
        api_document(app).validate_response(_SentRequest(request), _Answer(response))
    except PathError:
        return  # no such operation: an unknown path or method (404/405), nothing documents it
    except Exception as error:
        raise AssertionError(
            f"{request.method} {request.full_path.rstrip('?')} answered {response.status} "
            f"off the OpenAPI document: {error!r}; {getattr(error, '__cause__', None)!r}; "
            f"body {response.get_data()[:500]!r}"
        ) from error


class DocumentCheckingClient(FlaskClient):
    """Flask's test client, checking every /api/v1 response against the document."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        response = super().open(*args, **kwargs)
        check_response(self.application, response)
        return response


@pytest.fixture(autouse=True)
def _responses_keep_to_the_document(request: pytest.FixtureRequest) -> None:
    if "app" not in request.fixturenames:
        return
    app: Flask = request.getfixturevalue("app")
    api_document(app)
    app.test_client_class = DocumentCheckingClient
