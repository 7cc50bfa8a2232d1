"""Races an attacker (or a flaky network) would start: parallel redemptions and refreshes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select

from tests.conftest import Tenant


def test_fifty_parallel_redemptions_of_one_code_yield_exactly_one_success(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = tenant.backend.code(iframe, "alice", [tenant.bots["welcome"]])
    payload = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": iframe.verifier,
        "client_id": tenant.client_id,
        "origin": iframe.origin,
    }
    proofs = [iframe.proof() for _ in range(50)]

    def redeem(proof: str) -> requests.Response:
        return requests.post(iframe.token_url, data=payload, headers={"DPoP": proof}, timeout=60)

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(redeem, proofs))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert statuses.count(400) == 49, statuses
    assert all(r.json()["error"] == "invalid_grant" for r in responses if r.status_code != 200)


def test_twenty_parallel_refreshes_leave_at_most_one_live_successor(tenant: Tenant) -> None:
    from authserver.extensions import db
    from authserver.models import Session

    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    token = iframe.tokens["refresh_token"]
    proofs = [iframe.proof() for _ in range(20)]

    def refresh(proof: str) -> requests.Response:
        return requests.post(
            iframe.token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": token,
                "client_id": tenant.client_id,
            },
            headers={"DPoP": proof},
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(refresh, proofs))
    winners = [r.json() for r in responses if r.status_code == 200]
    assert len(winners) <= 1, [r.status_code for r in responses]
    assert all(r.json()["error"] == "invalid_grant" for r in responses if r.status_code != 200)
    # every successor that still works must belong to a live session; there is at most one
    live_successors = sum(iframe.refresh(w["refresh_token"]).status_code == 200 for w in winners)
    assert live_successors <= 1
    with tenant.server.app.app_context():
        live_sessions = db.session.execute(
            select(func.count())
            .select_from(Session)
            .where(Session.customer_id == tenant.customer_id, Session.revoked_at.is_(None))
        ).scalar_one()
        db.session.remove()
    assert live_sessions <= 1
