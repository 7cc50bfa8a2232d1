"""WSGI entry point: ``gunicorn wsgi:app`` (``chatframe serve`` does this for you)."""

from authserver import create_app

app = create_app()
