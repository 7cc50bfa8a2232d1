"""The chat API: DPoP-bound tokens, live sessions, current membership, the caller's own data."""

from __future__ import annotations

import pytest
from joserfc.jwk import ECKey

from tests.conftest import Tenant
from tests.embed import Iframe, dpop_proof


def open_conversation(iframe: Iframe, bot_id: str) -> str:
    response = iframe.api("POST", f"/chat/api/bots/{bot_id}/conversations", json={})
    assert response.status_code == 201, response.text
    assert response.json()["id"].startswith("cnv_")
    return str(response.json()["id"])


def add_faq(tenant: Tenant, bot: str, question: str, answer: str) -> None:
    from authserver import registry

    with tenant.server.app.app_context():
        registry.add_faq(registry.get_bot(tenant.bots[bot]), question, answer)


def test_chat_with_an_faq_bot(tenant: Tenant) -> None:
    add_faq(tenant, "billing", "How do I update my card?", "Settings → Billing → Update card.")
    billing = tenant.bots["billing"]
    iframe = tenant.session("alice", [billing])
    bot = iframe.api("GET", f"/chat/api/bots/{billing}").json()
    assert bot["name"] == "Billing helper" and bot["greeting"]
    cnv = open_conversation(iframe, billing)
    reply = iframe.api(
        "POST", f"/chat/api/conversations/{cnv}/messages", json={"text": "how can I update my card"}
    )
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["user_message"]["role"] == "user" and body["user_message"]["id"].startswith("msg_")
    assert body["bot_message"]["text"] == "Settings → Billing → Update card."
    fallback = iframe.api(
        "POST", f"/chat/api/conversations/{cnv}/messages", json={"text": "what's the weather?"}
    )
    assert "don't know" in fallback.json()["bot_message"]["text"]
    listed = iframe.api("GET", f"/chat/api/bots/{billing}/conversations").json()
    assert [c["id"] for c in listed["data"]] == [cnv] and listed["next"] is None


def test_history_is_paged_oldest_first(tenant: Tenant) -> None:
    welcome = tenant.bots["welcome"]
    iframe = tenant.session("alice", [welcome])
    cnv = open_conversation(iframe, welcome)
    for i in range(3):
        iframe.api("POST", f"/chat/api/conversations/{cnv}/messages", json={"text": f"m{i}"})
    page = iframe.api("GET", f"/chat/api/conversations/{cnv}/messages?limit=4").json()
    assert [m["text"] for m in page["data"] if m["role"] == "user"] == ["m1", "m2"]
    older = iframe.api(
        "GET", f"/chat/api/conversations/{cnv}/messages?limit=4&before={page['next']}"
    ).json()
    assert [m["text"] for m in older["data"] if m["role"] == "user"] == ["m0"] and older[
        "next"
    ] is None
    bad = iframe.api("GET", f"/chat/api/conversations/{cnv}/messages?limit=1000")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"


def test_text_is_stored_as_plain_text_and_limited(tenant: Tenant) -> None:
    welcome = tenant.bots["welcome"]
    iframe = tenant.session("alice", [welcome])
    cnv = open_conversation(iframe, welcome)
    html = "<img src=x onerror=alert(1)> hi"
    sent = iframe.api("POST", f"/chat/api/conversations/{cnv}/messages", json={"text": html})
    assert sent.json()["user_message"]["text"] == html  # stored verbatim, rendered as text
    assert sent.headers["Content-Type"].startswith("application/json")
    for body in ({"text": "x" * 2001}, {"text": "   "}, {"message": "hi"}, ["hi"], None):
        response = iframe.api("POST", f"/chat/api/conversations/{cnv}/messages", json=body)
        assert response.status_code == 400 and response.json()["error"] == "invalid_request", body


def test_token_without_dpop_proof_is_refused(tenant: Tenant) -> None:
    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    response = iframe.api("GET", f"/chat/api/bots/{tenant.bots['welcome']}", dpop=False)
    assert response.status_code == 401 and response.json()["error"] == "invalid_dpop_proof"
    assert response.headers["WWW-Authenticate"].startswith("DPoP ")
    as_bearer = iframe.api(
        "GET", f"/chat/api/bots/{tenant.bots['welcome']}", scheme="Bearer", dpop=False
    )
    assert as_bearer.status_code == 401 and as_bearer.json()["error"] == "invalid_token"


def test_proof_by_another_key_is_refused(tenant: Tenant) -> None:
    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    url = f"{tenant.server.url}/chat/api/bots/{tenant.bots['welcome']}"
    proof = dpop_proof(
        ECKey.generate_key("P-256"), "GET", url, access_token=iframe.tokens["access_token"]
    )
    response = iframe.api("GET", f"/chat/api/bots/{tenant.bots['welcome']}", proof=proof)
    assert response.status_code == 401 and response.json()["error"] == "invalid_dpop_proof"


@pytest.mark.parametrize("problem", ["ath", "htu", "replay"])
def test_proof_must_fit_this_request_and_token(tenant: Tenant, problem: str) -> None:
    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    path = f"/chat/api/bots/{tenant.bots['welcome']}"
    url = tenant.server.url + path
    if problem == "ath":
        proof = iframe.proof("GET", url, access_token="another-token")
    elif problem == "htu":
        proof = iframe.proof(
            "GET", url + "/conversations", access_token=iframe.tokens["access_token"]
        )
    else:
        proof = iframe.proof("GET", url, access_token=iframe.tokens["access_token"])
        assert iframe.api("GET", path, proof=proof).status_code == 200
    response = iframe.api("GET", path, proof=proof)
    assert response.status_code == 401 and response.json()["error"] == "invalid_dpop_proof"


def test_token_for_bot_a_is_refused_on_bot_b(tenant: Tenant) -> None:
    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    for path in (
        f"/chat/api/bots/{tenant.bots['billing']}",
        f"/chat/api/bots/{tenant.bots['billing']}/conversations",
    ):
        response = iframe.api("GET", path)
        assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"


def test_another_users_conversation_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    welcome = tenant.bots["welcome"]
    alice = tenant.session("alice", [welcome])
    cnv = open_conversation(alice, welcome)
    bob = tenant.session("bob", [welcome])
    stranger = other_tenant.session("alice", [other_tenant.bots["welcome"]])
    for intruder in (bob, stranger):
        for method, path in (
            ("GET", f"/chat/api/conversations/{cnv}/messages"),
            ("POST", f"/chat/api/conversations/{cnv}/messages"),
        ):
            response = intruder.api(method, path, json={"text": "hi"} if method == "POST" else None)
            assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert bob.api("GET", f"/chat/api/bots/{welcome}/conversations").json()["data"] == []


def test_member_removed_mid_session_is_refused_on_the_next_request(tenant: Tenant) -> None:
    from authserver import registry

    billing = tenant.bots["billing"]
    iframe = tenant.session("alice", [billing, tenant.bots["welcome"]])
    cnv = open_conversation(iframe, billing)
    with tenant.server.app.app_context():
        registry.remove_member(registry.get_bot(billing), "alice")
    response = iframe.api("POST", f"/chat/api/conversations/{cnv}/messages", json={"text": "hi"})
    assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"
    assert iframe.api("GET", f"/chat/api/bots/{tenant.bots['welcome']}").status_code == 200


def test_revoked_session_is_refused(tenant: Tenant) -> None:
    from authserver.access import find_partner_user
    from authserver.sessions import revoke_user_sessions

    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    assert iframe.api("GET", f"/chat/api/bots/{tenant.bots['welcome']}").status_code == 200
    with tenant.server.app.app_context():
        user = find_partner_user(tenant.customer_id, "alice")
        assert user is not None and revoke_user_sessions(user, "revoked_by_customer") == 1
    response = iframe.api("GET", f"/chat/api/bots/{tenant.bots['welcome']}")
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"


def test_bearer_token_of_an_unbound_session_works_without_dpop(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = tenant.backend.code(iframe, "alice", [tenant.bots["welcome"]], dpop_jkt=None)
    assert iframe.redeem(code, dpop=False).status_code == 200
    response = iframe.api("GET", f"/chat/api/bots/{tenant.bots['welcome']}", dpop=False)
    assert response.status_code == 200, response.text


def test_garbage_authorization_is_invalid_token(tenant: Tenant) -> None:
    import requests

    url = f"{tenant.server.url}/chat/api/bots/{tenant.bots['welcome']}"
    for header in ("", "DPoP", "DPoP not.a.jwt", "Basic abc", "Bearer " + "x" * 5000):
        response = requests.get(url, headers={"Authorization": header}, timeout=10)
        assert response.status_code == 401 and response.json()["error"] == "invalid_token", header
