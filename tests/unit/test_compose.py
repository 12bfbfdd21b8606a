"""compose.yaml agrees with the Dockerfile, the settings and the README (no Docker engine runs here,
so this is what keeps the three from drifting apart)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker")


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def services() -> dict[str, Any]:
    return dict(load_compose()["services"])


def interpolate(value: str) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?message}, with a stand-in for each."""
    return re.sub(
        r"\$\{([A-Z_]+)(?::([-?])([^}]*))?\}",
        lambda m: m.group(3) if m.group(2) == "-" else f"<{m.group(1)}>",
        value,
    )


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def dockerfile_cmd() -> list[str]:
    match = re.search(r"^CMD (\[.*\])$", dockerfile(), re.MULTILINE)
    assert match, "the Dockerfile has an exec-form CMD"
    cmd = yaml.safe_load(match.group(1))
    assert isinstance(cmd, list)
    return [str(part) for part in cmd]


def settings_read() -> set[str]:
    source = (ROOT / "billing" / "config.py").read_text(encoding="utf-8")
    return set(re.findall(r"""env\.get\(\s*["']([A-Z_]+)["']""", source))


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): interpolate(str(v)) for k, v in env.items()}


def test_the_four_services_are_there() -> None:
    assert {"db", "migrate", "web", "worker"} <= set(services())


def test_every_variable_compose_sets_is_read_by_the_settings_or_the_image() -> None:
    read = settings_read()
    assert {"DATABASE_URL", "SECRET_KEY", "JOB_STALLED_SECONDS"} <= read  # the regex finds them
    image_reads = set(re.findall(r"\$\{([A-Z_]+)", " ".join(dockerfile_cmd())))
    assert image_reads == {"PORT", "WEB_CONCURRENCY"}
    for name in APP_SERVICES:
        unknown = set(environment(services()[name])) - read - image_reads
        assert not unknown, f"{name} sets variables nothing reads: {sorted(unknown)}"
    db_env = environment(services()["db"])
    assert all(key.startswith("POSTGRES_") for key in db_env), db_env


def test_app_services_run_in_production_with_a_required_secret_key() -> None:
    raw = load_compose()
    for name in APP_SERVICES:
        service = services()[name]
        assert service.get("build") == ".", f"{name} runs the image the Dockerfile builds"
        env = service["environment"]
        assert env["BILLING_ENV"] == "production"
        assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", env["SECRET_KEY"]), (
            "SECRET_KEY must be required, never a default in the file"
        )
    assert "x-app" in raw


def test_the_database_url_points_at_the_db_service_and_its_database() -> None:
    from sqlalchemy.engine import make_url

    db = environment(services()["db"])
    for name in APP_SERVICES:
        url = make_url(environment(services()[name])["DATABASE_URL"])
        assert url.get_backend_name() == "postgresql"
        assert url.host == "db"
        assert url.port == 5432
        assert url.username == db["POSTGRES_USER"]
        assert url.database == db["POSTGRES_DB"]
        assert url.password == "<POSTGRES_PASSWORD>"  # the same required variable as the db's


def test_the_db_is_the_postgresql_major_version_the_readme_names_with_a_volume() -> None:
    db = services()["db"]
    image = str(db["image"])
    assert image.startswith("postgres:")
    major = image.split(":", 1)[1].split(".")[0]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = re.search(r"^PostgreSQL (\d+) or later", readme, re.MULTILINE)
    assert named, "README names the PostgreSQL version it needs"
    assert major == named.group(1)
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in db["volumes"])
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_migrate_runs_flask_db_upgrade_once_the_db_is_healthy() -> None:
    migrate = services()["migrate"]
    assert migrate["command"] == ["flask", "db", "upgrade"]
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert migrate["restart"] == "no"


def test_web_runs_the_dockerfiles_gunicorn_after_the_migration() -> None:
    web = services()["web"]
    assert "command" not in web and "entrypoint" not in web, "web runs the image's own CMD"
    assert "ENTRYPOINT" not in dockerfile()
    cmd = dockerfile_cmd()
    assert cmd[:2] == ["sh", "-c"]
    words = shlex.split(cmd[2])
    assert words[:2] == ["exec", "gunicorn"]
    assert words[-1] == "app:app"
    assert "flask" not in words, "the web does not migrate: the migrate service does, once"
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    probe = " ".join(web["healthcheck"]["test"])
    assert "/healthz" in probe


def test_ports_agree_with_the_dockerfile() -> None:
    exposed = re.findall(r"^EXPOSE (\d+)$", dockerfile(), re.MULTILINE)
    assert exposed == ["8000"]
    assert re.search(r"^\s+PORT=8000$", dockerfile(), re.MULTILINE)
    assert "${PORT:-8000}" in dockerfile_cmd()[2]
    web = services()["web"]
    container_ports = [str(p).rsplit(":", 1)[-1] for p in web["ports"]]
    assert container_ports == exposed
    assert "127.0.0.1:8000/healthz" in " ".join(web["healthcheck"]["test"])


def test_the_worker_is_flask_worker_and_scales() -> None:
    from billing.cli import worker_command

    worker = services()["worker"]
    command = worker["command"]
    assert command[:2] == ["flask", "worker"]
    # The options parse as the real command's (a renamed option fails here).
    worker_command.make_context("worker", list(command[2:]))
    assert "ports" not in worker and "container_name" not in worker, (
        "a fixed port or name would stop `docker compose up --scale worker=2`"
    )
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert worker["healthcheck"] == {"disable": True}  # the image's /healthz probe has no server


def test_the_shared_limiter_store_is_a_service_the_image_can_talk_to() -> None:
    uri = environment(services()["web"])["RATELIMIT_STORAGE_URI"]
    assert uri.startswith("redis://")
    host = uri.split("://", 1)[1].split(":", 1)[0]
    assert host in services()
    assert '"limits[redis]"' in dockerfile()
    assert services()["web"]["depends_on"][host]["condition"] == "service_healthy"


@pytest.mark.parametrize(
    "needle",
    [
        "libharfbuzz-subset0",
        "libpango-1.0-0",
        "libpangoft2-1.0-0",
        "COPY migrations ./migrations",
        "COPY templates ./templates",
    ],
)
def test_the_image_holds_what_the_app_needs(needle: str) -> None:
    assert needle in dockerfile()


def test_the_image_keeps_the_procrastinate_schema_and_runs_as_a_user() -> None:
    assert list((ROOT / "migrations" / "sql").glob("*.sql")), "migration 0016 reads these"
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert not any(p.startswith("migrations") or p in {"*.sql", "**/*.sql"} for p in ignored)
    users = re.findall(r"^USER (\S+)$", dockerfile(), re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"0", "root"}
