"""Install: the page script and the backend call, filled in for one of the customer's clients."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from chatapp.embed import sdk_build

from ..extensions import db
from ..models import Bot, Client
from ..services import services
from . import bp
from .scope import customer_id, owned_bot, owned_client
from .snippets import snippets


@bp.get("/install")
def install() -> ResponseReturnValue:
    clients = list(
        db.session.execute(
            select(Client)
            .where(Client.customer_id == customer_id())
            .order_by(Client.created_at, Client.id)
        ).scalars()
    )
    bots = list(
        db.session.execute(
            select(Bot).where(Bot.customer_id == customer_id()).order_by(Bot.created_at, Bot.id)
        ).scalars()
    )
    if not clients:
        return render_template("console/install.html", clients=[], bots=bots)
    chosen = request.args.get("client")
    client = owned_client(chosen) if chosen else clients[0]
    bot_id = request.args.get("bot")
    bot = owned_bot(bot_id) if bot_id else (bots[0] if bots else None)
    origin = request.args.get("origin") or client.allowed_origins[0]
    if origin not in client.allowed_origins:
        origin = client.allowed_origins[0]
    return render_template(
        "console/install.html",
        clients=clients,
        bots=bots,
        client=client,
        bot=bot,
        origin=origin,
        issuer=services().settings.issuer,
        native_origin=services().settings.native_origin,
        snippets=snippets(
            services().settings.issuer,
            client.id,
            origin,
            bot.id if bot else None,
            sdk_build(),
            services().settings.native_origin,
        ),
    )
