"""The customer's security events, oldest first, filtered by type and time."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from .. import events
from ..access import find_partner_user
from ..events import EventType
from ..models import SecurityEvent
from ..paging import Page, paginate
from ..validation import parse_timestamp
from . import ApiError, bp, customer_id, listing, page_params


def present_event(event: SecurityEvent) -> dict[str, Any]:
    data = event.as_dict()
    del data["customer_id"]  # always the caller
    return data


@bp.get("/events")
def list_events() -> Response:
    types = [t for raw in request.args.getlist("type") for t in raw.split(",") if t]
    unknown = sorted(set(types) - {str(t) for t in EventType})
    if unknown:
        raise ApiError(
            400,
            "invalid_request",
            f"Unknown event type(s) {', '.join(unknown)}; "
            f"known: {', '.join(str(t) for t in EventType)}.",
        )
    try:
        since = parse_timestamp(request.args["since"]) if request.args.get("since") else None
    except ValueError as exc:
        raise ApiError(400, "invalid_request", f"since: {exc}.") from exc
    partner_user = request.args.get("partner_user") or None
    cursor, limit = page_params()
    if partner_user_id := request.args.get("partner_user_id"):
        user = find_partner_user(customer_id(), partner_user_id)
        if user is None:  # a user we never saw has no events
            return listing(Page([], None), present_event)
        partner_user = user.id
    query = events.search(
        customer_id(),
        types=types,
        client_id=request.args.get("client_id") or None,
        partner_user=partner_user,
        since=since,
    )
    page = paginate(query, [SecurityEvent.created_at, SecurityEvent.id], cursor=cursor, limit=limit)
    return listing(page, present_event)
