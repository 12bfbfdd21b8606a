from billing import create_app
from billing.cli_errors import load_app

# `flask …` reports a refused setting (no SECRET_KEY) in one line; gunicorn gets the exception.
app = load_app(create_app)
