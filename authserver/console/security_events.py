"""Security events: filter by type, client, user and time; export the selection as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from typing import Any

from flask import Response, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, select

from .. import events
from ..access import find_partner_user
from ..events import EventType
from ..extensions import db
from ..models import Client, PartnerUser, SecurityEvent
from ..paging import paginate
from ..validation import parse_timestamp
from . import bp
from .scope import customer_id

PAGE_SIZE = 50
CSV_LIMIT = 100_000
CSV_COLUMNS = ["created_at", "type", "id", "client_id", "partner_user", "ip", "detail"]


@dataclass
class Filters:
    """The page's filters as given (strings), with the query they select."""

    type: str
    client: str
    user: str
    since: str
    until: str
    query: Select[SecurityEvent] | None  # None: a filter matches nothing (an unknown user)
    error: str | None = None
    pairwise: str | None = None  # the user filter's pairwise id (usr_…), when there is one

    def args(self) -> dict[str, str]:
        names = ("type", "client", "user", "since", "until")
        return {name: getattr(self, name) for name in names if getattr(self, name)}


def _filters() -> Filters:
    given = {name: request.args.get(name, "").strip() for name in ("type", "client", "user")}
    since_raw, until_raw = request.args.get("since", "").strip(), request.args.get("until", "")
    filters = Filters(**given, since=since_raw, until=until_raw.strip(), query=None)
    if filters.type and filters.type not in {str(t) for t in EventType}:
        filters.error = f"There are no {filters.type!r} events; pick a type from the list."
        return filters
    moments: dict[str, dt.datetime | None] = {}
    for name in ("since", "until"):
        raw = getattr(filters, name)
        try:
            moments[name] = parse_timestamp(raw) if raw else None
        except ValueError as exc:
            filters.error = f"{'From' if name == 'since' else 'To'}: {exc}."
            return filters
    partner_user = None
    if filters.user:
        if filters.user.startswith("usr_"):
            partner_user = filters.user
        elif (found := find_partner_user(customer_id(), filters.user)) is not None:
            partner_user = found.id
        else:
            return filters  # a user we never saw has no events
        filters.pairwise = partner_user
    filters.query = events.search(
        customer_id(),
        types=[filters.type] if filters.type else [],
        client_id=filters.client or None,
        partner_user=partner_user,
        since=moments["since"],
        until=moments["until"],
    )
    return filters


@bp.get("/events")
def events_page() -> ResponseReturnValue:
    filters = _filters()
    page = None
    if filters.query is not None:
        page = paginate(
            filters.query,
            [SecurityEvent.created_at, SecurityEvent.id],
            cursor=request.args.get("cursor"),
            limit=PAGE_SIZE,
            newest_first=True,
        )
    clients = list(
        db.session.execute(
            select(Client).where(Client.customer_id == customer_id()).order_by(Client.name)
        ).scalars()
    )
    html = render_template(
        "console/events.html",
        filters=filters,
        page=page,
        types=[str(t) for t in EventType],
        clients=list(clients),
        needs_rotation={
            c.id for c in clients if events.unrotated_exposure(customer_id(), c.id) is not None
        },
        names=_partner_user_ids(page.items if page else []),
        describe=events.describe,
    )
    return html, 400 if filters.error else 200


def _partner_user_ids(rows: list[SecurityEvent]) -> dict[str, str]:
    """The customer's own ids for the pairwise ids on this page (``usr_…`` → ``alice``)."""
    subs = {row.partner_user_sub for row in rows if row.partner_user_sub}
    if not subs:
        return {}
    found = db.session.execute(
        select(PartnerUser.id, PartnerUser.partner_user_id).where(
            PartnerUser.customer_id == customer_id(), PartnerUser.id.in_(subs)
        )
    )
    return {sub: partner_user_id for sub, partner_user_id in found.all()}


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A leading = + - @ would make a spreadsheet run the cell as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/events.csv")
def events_csv() -> ResponseReturnValue:
    filters = _filters()
    if filters.error:
        return render_template("console/error.html", title="Bad filter", message=filters.error), 400
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    if filters.query is not None:
        query = filters.query.order_by(SecurityEvent.created_at, SecurityEvent.id).limit(CSV_LIMIT)
        for event in db.session.execute(query).scalars():
            row = event.as_dict()
            row["detail"] = json.dumps(row["detail"], sort_keys=True)
            writer.writerow([_cell(row[column]) for column in CSV_COLUMNS])
    day = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="chatframe-events-{day}.csv"'},
    )
