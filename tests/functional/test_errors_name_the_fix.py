"""Each integration mistake is refused with a message that names the fix (issue 9)."""

from __future__ import annotations

import requests

from tests.conftest import Tenant, assert_refused
from tests.embed import Backend

PAGE = "https://shop.example"  # a customer's web page calling the token endpoint directly


def test_wrong_secret_says_it_is_wrong_or_rotated(tenant: Tenant) -> None:
    backend = Backend(tenant.server.url, tenant.client_id, "cfs_wrong")
    body = assert_refused(
        backend.exchange(tenant.iframe(), "alice", [tenant.bots["welcome"]]), 401, "invalid_client"
    )
    assert "the client secret is wrong or was rotated" in body["error_description"]
    assert "cfs_wrong" not in body["error_description"]


def test_no_credentials_says_none_were_sent(tenant: Tenant) -> None:
    response = tenant.backend.exchange(
        tenant.iframe(), "alice", [tenant.bots["welcome"]], auth=None
    )
    body = assert_refused(response, 401, "invalid_client")
    assert body["error_description"].startswith("No client credentials were sent")


def test_unregistered_origin_says_how_to_register_it(tenant: Tenant) -> None:
    iframe = tenant.iframe(origin="https://evil.example")
    body = assert_refused(
        tenant.backend.exchange(iframe, "alice", [tenant.bots["welcome"]]), 400, "invalid_request"
    )
    description = body["error_description"]
    assert "https://evil.example is not registered" in description
    assert "allowed origins" in description
    assert f"chatframe clients update {tenant.client_id} --origin" in description


def test_non_member_names_the_user_the_bot_and_how_to_add_them(tenant: Tenant) -> None:
    billing = tenant.bots["billing"]
    response = tenant.backend.exchange(tenant.iframe(), "bob", [billing])
    description = assert_refused(response, 400, "invalid_target")["error_description"]
    assert f"partner user bob is not a member of {billing}" in description
    assert f"PUT /api/v1/bots/{billing}/members/bob" in description
    assert "all_users" in description


def test_secret_sent_from_a_browser_is_refused_and_flagged_for_rotation(tenant: Tenant) -> None:
    response = tenant.backend.exchange(
        tenant.iframe(), "alice", [tenant.bots["welcome"]], browser_origin=PAGE
    )
    body = assert_refused(response, 400, "invalid_request")
    assert "must stay on your backend" in body["error_description"]
    assert "rotate its secret" in body["error_description"]
    assert response.headers["Access-Control-Allow-Origin"] == PAGE  # the page can read why
    assert tenant.client_secret not in response.text
    exposed = tenant.events("secret_exposed")
    assert len(exposed) == 1 and exposed[0]["client_id"] == tenant.client_id
    assert exposed[0]["detail"]["origin"] == PAGE
    assert not tenant.events("code_issued")


def test_secret_in_the_form_from_a_browser_is_refused_too(tenant: Tenant) -> None:
    response = tenant.backend.exchange(
        tenant.iframe(), "alice", [tenant.bots["welcome"]], auth="post", browser_origin=PAGE
    )
    assert (
        "must stay on your backend"
        in assert_refused(response, 400, "invalid_request")["error_description"]
    )
    assert tenant.events("secret_exposed")[-1]["detail"]["auth_method"] == "client_secret_post"


def test_wrong_secret_from_a_browser_explains_but_flags_nothing(tenant: Tenant) -> None:
    backend = Backend(tenant.server.url, tenant.client_id, "cfs_wrong")
    response = backend.exchange(
        tenant.iframe(), "alice", [tenant.bots["welcome"]], browser_origin=PAGE
    )
    body = assert_refused(response, 400, "invalid_request")
    assert "must stay on your backend" in body["error_description"]
    assert "rotate" not in body["error_description"]  # nobody can flag a client without its secret
    assert not tenant.events("secret_exposed")


def test_management_token_from_a_browser_is_refused(tenant: Tenant) -> None:
    response = requests.post(
        f"{tenant.server.url}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "manage"},
        auth=(tenant.client_id, tenant.client_secret),
        headers={"Origin": PAGE},
        timeout=30,
    )
    assert_refused(response, 400, "invalid_request")
    assert tenant.events("secret_exposed")


def test_a_strange_origin_header_is_never_echoed(tenant: Tenant) -> None:
    response = tenant.backend.exchange(
        tenant.iframe(), "alice", [tenant.bots["welcome"]], browser_origin="null"
    )
    assert_refused(response, 400, "invalid_request")
    assert "Access-Control-Allow-Origin" not in response.headers


def test_the_preflight_lets_the_browser_hear_the_refusal(tenant: Tenant) -> None:
    response = requests.options(
        f"{tenant.server.url}/oauth/token",
        headers={
            "Origin": PAGE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
        timeout=30,
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == PAGE
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_the_iframe_redeems_with_its_origin_header(tenant: Tenant) -> None:
    """The public iframe client is a browser by design: an Origin header is fine there."""
    iframe = tenant.iframe()
    code = tenant.backend.code(iframe, "alice", [tenant.bots["welcome"]])
    response = iframe.redeem(code, headers={"DPoP": iframe.proof(), "Origin": tenant.server.url})
    assert response.status_code == 200, response.text


def test_the_console_shows_an_exposed_secret_as_needing_rotation(tenant: Tenant) -> None:
    from authserver import registry
    from tests.functional.conftest import signed_in

    owner = signed_in(tenant)
    client_page = f"/console/clients/{tenant.client_id}"
    assert 'id="secret-exposed"' not in owner.get(client_page).text
    tenant.backend.exchange(tenant.iframe(), "alice", [tenant.bots["welcome"]], browser_origin=PAGE)
    events_page = owner.get("/console/events", type="secret_exposed").text
    assert "Needs rotation" in events_page and PAGE in events_page
    page = owner.get(client_page).text
    assert 'id="secret-exposed"' in page and PAGE in page
    assert tenant.client_secret not in page

    with tenant.server.app.app_context():
        registry.rotate_client_secret(registry.get_client(tenant.client_id), 0)
    assert 'id="secret-exposed"' not in owner.get(client_page).text
    assert "Needs rotation" not in owner.get("/console/events", type="secret_exposed").text
