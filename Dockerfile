# Production image: gunicorn serving the Flask app, WeasyPrint's system libraries, non-root user.
# One image for every process (compose.yaml; README "Running in production"):
#
#   docker build -t tcf-billing .
#   docker run --rm -e SECRET_KEY=... -e DATABASE_URL=postgresql://user:pass@db/tcf \
#     tcf-billing flask db upgrade                       # once per release, before the others
#   docker run -p 8000:8000 -e SECRET_KEY=... -e DATABASE_URL=... tcf-billing   # web (the CMD)
#   docker run -e SECRET_KEY=... -e DATABASE_URL=... tcf-billing flask worker   # jobs
#
# The web does not migrate on start: several web containers would race to run the same
# migration; the migration is its own one-shot step (compose's `migrate` service).

# --- build: a virtualenv holding the project and its dependencies (no dev extras) -------------
FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY pyproject.toml ./
COPY billing ./billing
# limits[redis]: the shared store for the login limiter (RATELIMIT_STORAGE_URI=redis://…).
RUN pip install . "limits[redis]"

# --- runtime ------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm

# WeasyPrint renders invoice PDFs with Pango and HarfBuzz; without libharfbuzz-subset0 it falls
# back to fontTools for font subsetting, which is several times slower. Versions come from the
# pinned Debian release (bookworm), which only takes security fixes.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 \
      libpangoft2-1.0-0 \
      libharfbuzz0b \
      libharfbuzz-subset0 \
      fonts-dejavu-core \
      shared-mime-info \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 billing \
 && useradd --system --uid 10001 --gid billing --create-home --home-dir /home/billing \
      --shell /usr/sbin/nologin billing

COPY --from=build /opt/venv /opt/venv

# create_app() finds templates/ and migrations/ beside the billing package and keeps its SQLite
# file and other state in instance/, so the app runs from this source tree; PYTHONPATH makes
# every process (gunicorn, flask, a `docker exec` shell) import billing from here.
WORKDIR /app
COPY app.py ./
COPY billing ./billing
COPY templates ./templates
COPY migrations ./migrations
# The UI's catalogs (billing/translations/*.po) are compiled here: the .mo files are not committed.
RUN /opt/venv/bin/pybabel compile --statistics -d billing/translations \
 && python -m compileall -q app.py billing migrations \
 && mkdir -p instance \
 && chown billing:billing instance

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    HOME=/home/billing \
    FLASK_APP=app \
    BILLING_ENV=production \
    PORT=8000

# Numeric, so an orchestrator can verify that the container does not run as root.
USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]

# exec: gunicorn replaces the shell, so it receives `docker stop`'s SIGTERM and shuts down cleanly.
CMD ["sh", "-c", "exec gunicorn --bind 0.0.0.0:${PORT:-8000} --workers ${WEB_CONCURRENCY:-2} --access-logfile - app:app"]
