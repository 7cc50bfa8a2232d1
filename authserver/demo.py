"""Demo data for ``chatframe demo``: Acme, its client, three FAQ bots, alice and bob."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import select

from . import registry
from .extensions import db
from .models import Bot, Client

DEMO_BOTS: list[dict[str, Any]] = [
    {
        "key": "billing",
        "name": "Billing helper",
        "access": "members",
        "members": ["alice"],
        "greeting": "Hi! I can help with invoices, payments and refunds.",
        "appearance": {"accent": "#7c3aed"},
        "faq": [
            (
                "How do I update my card?",
                "Go to Settings → Billing → Payment method and choose Update card.",
            ),
            ("When am I billed?", "On the first day of each month, for the month ahead."),
            (
                "How do I get a refund?",
                "Write to billing@acme.example within 30 days of the invoice.",
            ),
            (
                "Where can I download my invoices?",
                "Settings → Billing → Invoices has every invoice as a PDF.",
            ),
        ],
    },
    {
        "key": "support",
        "name": "Tech support",
        "access": "members",
        "members": ["bob"],
        "greeting": "Hello! Tell me what's not working and I'll help you fix it.",
        "appearance": {"accent": "#0f766e"},
        "faq": [
            (
                "How do I reset my password?",
                "Use 'Forgot password' on the sign-in page; the link lasts 1 hour.",
            ),
            (
                "How do I turn on two-factor authentication?",
                "Settings → Security → Two-factor, then scan the QR code.",
            ),
            (
                "Is there an outage?",
                "Live status is at status.acme.example; no incidents right now.",
            ),
        ],
    },
    {
        "key": "welcome",
        "name": "Welcome",
        "access": "all_users",
        "members": [],
        "greeting": "Welcome to Acme! Ask me anything about getting started.",
        "appearance": {"accent": "#2563eb"},
        "faq": [
            (
                "What can you do?",
                "I answer common questions about Acme; billing and tech have their own assistants.",
            ),
            (
                "How do I contact a human?",
                "Email help@acme.example; we answer within one business day.",
            ),
            (
                "What are your opening hours?",
                "Our team is there Monday to Friday, 9:00 to 18:00 CET.",
            ),
        ],
    },
]

# Acme's own record of which of its users may use which bot (Acme decides; Chatframe enforces).
DEMO_USER_BOTS = {"alice": ["billing", "welcome"], "bob": ["support", "welcome"]}


def seed_demo(state_file: Path, origin: str) -> dict[str, Any]:
    """Create the demo tenant once (or reuse it) and return what the demo site needs.

    The client secret exists only in ``state_file`` (mode 0600), written on first seed.
    """
    state = _load(state_file)
    client = db.session.get(Client, state["client_id"]) if state else None
    if state is None or client is None:
        state = _create(origin)
        _save(state_file, state)
    elif origin not in client.allowed_origins:
        registry.update_client(client, origins=[*client.allowed_origins, origin])
    return state


def _create(origin: str) -> dict[str, Any]:
    customer = registry.create_customer("Acme (demo)")
    client, secret = registry.create_client(customer, "Acme web (demo)", [origin])
    bots: dict[str, str] = {}
    for spec in DEMO_BOTS:
        bot = registry.create_bot(
            customer,
            spec["name"],
            spec["access"],
            greeting=spec["greeting"],
            faq=[{"question": q, "answer": a} for q, a in spec["faq"]],
        )
        bot.appearance = spec["appearance"]
        db.session.commit()
        for member in spec["members"]:
            registry.add_member(bot, member)
        bots[spec["key"]] = bot.id
    return {
        "customer_id": customer.id,
        "client_id": client.id,
        "client_secret": secret,
        "bots": bots,
        "user_bots": {user: [bots[key] for key in keys] for user, keys in DEMO_USER_BOTS.items()},
    }


def demo_bot_names(state: dict[str, Any]) -> dict[str, str]:
    rows = db.session.execute(select(Bot).where(Bot.id.in_(state["bots"].values()))).scalars()
    return {bot.id: bot.name for bot in rows}


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "client_id" in data else None


def _save(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(state, handle, indent=2)
