"""WSGI entry point: `gunicorn wsgi:app`."""

from commonpot import create_app

app = create_app()
