"""The chat API (resource server): bots, the caller's conversations and their messages."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, g, jsonify, request
from sqlalchemy import Row, and_, or_, select
from werkzeug.wrappers import Request

from authserver.edge import header_has_nul
from authserver.extensions import db
from authserver.fastlane import Answer, FastLane, error_answer, json_answer
from authserver.models import Bot, utcnow

from . import faq
from .auth import ChatAuthError, ChatCaller, EnvironRequest, authenticate
from .models import Conversation, Message

bp = Blueprint("chat_api", __name__, url_prefix="/chat/api")

MAX_TEXT = 2000
DEFAULT_LIMIT, MAX_LIMIT = 30, 100
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
F = TypeVar("F", bound=Callable[..., Any])


class ChatRequestError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


@bp.errorhandler(ChatAuthError)
def _auth_error(exc: ChatAuthError) -> tuple[Response, int, dict[str, str]]:
    return jsonify(**_refusal(exc)), exc.status, exc.headers()


def _refusal(exc: ChatAuthError) -> dict[str, str]:
    return {"error": exc.error, "error_description": exc.description}


@bp.errorhandler(ChatRequestError)
def _request_error(exc: ChatRequestError) -> tuple[Response, int]:
    return jsonify(error=exc.error, error_description=exc.description), exc.status


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def authenticated(view: F) -> F:
    """Run the chat token check before the view; the caller is ``g.caller``."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.caller = authenticate(request, bot_id=kwargs.get("bot_id"))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def caller() -> ChatCaller:
    return g.caller


def _bot(bot_id: str) -> Row[Any]:
    """The bot's display fields, once the caller may use it (refused otherwise)."""
    return caller().require_bot(bot_id)


def _conversation(conversation_id: str) -> Conversation:
    """The caller's own conversation, or 404 — whoever else's it is."""
    found = db.session.execute(
        select(Conversation).where(
            Conversation.id == conversation_id,
            Conversation.partner_user_pk == caller().partner_user_pk,
            Conversation.customer_id == caller().customer_id,
        )
    ).scalar_one_or_none()
    if found is None:
        raise ChatRequestError(404, "not_found", "No such conversation.")
    caller().require_bot(found.bot_id)
    return found


def _limit() -> int:
    raw = request.args.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ChatRequestError(
            400, "invalid_request", f"limit must be a whole number from 1 to {MAX_LIMIT}."
        )
    return int(raw)


@bp.get("/bots/<bot_id>")
def get_bot(bot_id: str) -> Response:
    """Reached only by what the fast lane leaves to the app (a chunked body, say)."""
    return bot_answer(request, bot_id)


def bot_answer(req: Request, bot_id: str) -> Response:
    """The bot's display fields, after the chat token check; on the fast lane
    (``authserver.fastlane``) and in :func:`get_bot` alike."""
    try:
        response = jsonify(_bot_fields(bot_id, authenticate(req, bot_id=bot_id)))
    except ChatAuthError as exc:
        response, status, headers = _auth_error(exc)
        response.status_code = status
        response.headers.update(headers)
    return _no_store(response)


def bot_answer_shortcut(
    app: Flask, environ: dict[str, Any], body: bytes, bot_id: str
) -> Answer | None:
    """:func:`bot_answer` without the lane's werkzeug request and response (a fast-lane
    shortcut): the same token check and answer, for a request with a DPoP token and nothing
    the edge check could refuse (no body, no query string, no NUL in a header).

    The check records the proof's ``jti``, so from its start this answers everything itself:
    a refusal as :func:`_auth_error` would, an outage or an error as the lane would.
    """
    if body or environ.get("QUERY_STRING") or header_has_nul(environ):
        return None
    if not environ.get("HTTP_AUTHORIZATION", "").startswith("DPoP "):
        return None
    with app.app_context():
        try:
            fields = _bot_fields(bot_id, authenticate(EnvironRequest(environ), bot_id=bot_id))
        except ChatAuthError as exc:
            return json_answer(app, exc.status, _refusal(exc), exc.headers().items())
        except Exception as exc:
            return error_answer(exc, environ)
    return json_answer(app, 200, fields)


def _bot_fields(bot_id: str, who: ChatCaller) -> dict[str, Any]:
    bot = who.require_bot(bot_id)
    return {
        "id": bot_id,
        "name": bot.name,
        "greeting": bot.greeting,
        "appearance": bot.appearance or {},
    }


# Bot ids are ASCII (``bot_`` + base64url); any other path is the app's to answer.
BOT_PATH = r"/chat/api/bots/(?P<bot_id>[A-Za-z0-9_-]{1,64})"


def add_lanes(lane: FastLane) -> None:
    lane.add(
        "GET",
        BOT_PATH,
        "/chat/api/bots/<bot_id>",
        bot_answer,
        shortcut=functools.partial(bot_answer_shortcut, lane.app),
    )


@bp.get("/bots/<bot_id>/conversations")
@authenticated
def list_conversations(bot_id: str) -> Response:
    _bot(bot_id)
    limit = _limit()
    query = select(Conversation).where(
        Conversation.bot_id == bot_id, Conversation.partner_user_pk == caller().partner_user_pk
    )
    before = request.args.get("before")
    if before:
        anchor = db.session.execute(
            select(Conversation).where(
                Conversation.id == before, Conversation.partner_user_pk == caller().partner_user_pk
            )
        ).scalar_one_or_none()
        if anchor is None:
            raise ChatRequestError(400, "invalid_request", "Unknown 'before' cursor.")
        query = query.where(
            or_(
                Conversation.updated_at < anchor.updated_at,
                and_(Conversation.updated_at == anchor.updated_at, Conversation.id < anchor.id),
            )
        )
    rows = list(
        db.session.execute(
            query.order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(limit + 1)
        ).scalars()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return jsonify(data=[c.as_dict() for c in rows], next=rows[-1].id if more else None)


@bp.post("/bots/<bot_id>/conversations")
@authenticated
def create_conversation(bot_id: str) -> tuple[Response, int]:
    _bot(bot_id)
    conversation = Conversation(
        customer_id=caller().customer_id, bot_id=bot_id, partner_user_pk=caller().partner_user_pk
    )
    db.session.add(conversation)
    db.session.commit()
    return jsonify(conversation.as_dict()), 201


@bp.get("/conversations/<conversation_id>/messages")
@authenticated
def list_messages(conversation_id: str) -> Response:
    conversation = _conversation(conversation_id)
    limit = _limit()
    query = select(Message).where(Message.conversation_id == conversation.id)
    before = request.args.get("before")
    if before:
        anchor = db.session.execute(
            select(Message.seq).where(
                Message.id == before, Message.conversation_id == conversation.id
            )
        ).scalar_one_or_none()
        if anchor is None:
            raise ChatRequestError(400, "invalid_request", "Unknown 'before' cursor.")
        query = query.where(Message.seq < anchor)
    rows = list(db.session.execute(query.order_by(Message.seq.desc()).limit(limit + 1)).scalars())
    more = len(rows) > limit
    page = list(reversed(rows[:limit]))  # oldest first, as a chat reads
    return jsonify(data=[m.as_dict() for m in page], next=page[0].id if more else None)


@bp.post("/conversations/<conversation_id>/messages")
@authenticated
def post_message(conversation_id: str) -> tuple[Response, int]:
    conversation = _conversation(conversation_id)
    text = _message_text()
    bot = db.session.get(Bot, conversation.bot_id)
    assert bot is not None
    now = utcnow()
    user_message = Message(conversation_id=conversation.id, role="user", text=text, created_at=now)
    reply = faq.answer(bot, text)
    bot_message = Message(
        conversation_id=conversation.id,
        role="bot",
        text=reply.text,
        created_at=now + dt.timedelta(microseconds=1),
    )
    db.session.add_all([user_message, bot_message])
    conversation.updated_at = now
    db.session.commit()
    return jsonify(user_message=user_message.as_dict(), bot_message=bot_message.as_dict()), 201


def _message_text() -> str:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        raise ChatRequestError(
            400, "invalid_request", 'Send a JSON object like {"text": "your message"}.'
        )
    text = _CONTROL.sub("", body["text"]).strip()
    if not text:
        raise ChatRequestError(400, "invalid_request", "The message is empty.")
    if len(text) > MAX_TEXT:
        raise ChatRequestError(
            400, "invalid_request", f"A message can be at most {MAX_TEXT} characters."
        )
    return text
