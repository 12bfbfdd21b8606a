"""The app a worker subprocess of tests/integration/test_job_queue.py serves: the test tasks are
registered by importing that module."""

from billing import create_app
from tests.integration import test_job_queue  # noqa: F401 - registers the test tasks

app = create_app()
