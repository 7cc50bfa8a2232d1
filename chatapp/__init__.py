"""The iframe chat app: embed page, SDK and iframe static files, chat API, FAQ bots."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the chat app's models and blueprints on the Chatframe app."""
    from . import api, embed, models  # noqa: F401 - models: the chat tables join the metadata

    app.register_blueprint(embed.bp)
    app.register_blueprint(api.bp)
