from billing import create_app

app = create_app()
