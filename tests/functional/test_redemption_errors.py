"""Code redemption refusals: origin binding, single use, expiry, PKCE and DPoP."""

from __future__ import annotations

import time

from tests.conftest import OTHER_ORIGIN, LiveServer, Tenant, assert_refused
from tests.embed import Iframe, dpop_proof


def code_for(tenant: Tenant, iframe: Iframe, user: str = "alice") -> str:
    return tenant.backend.code(iframe, user, [tenant.bots["welcome"]])


def test_origin_mismatch_at_redemption(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    response = iframe.redeem(code, origin=OTHER_ORIGIN)
    assert "origin" in assert_refused(response, 400, "invalid_grant")["error_description"]


def test_reused_code_fails_and_revokes_the_first_session(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    assert iframe.redeem(code).status_code == 200
    first = dict(iframe.tokens)
    assert_refused(iframe.redeem(code), 400, "invalid_grant")
    # the first use's tokens are dead: refresh refused, introspection inactive
    assert tenant.backend.introspect(first["access_token"]).json() == {"active": False}
    assert_refused(iframe.refresh(first["refresh_token"]), 400, "invalid_grant")
    reuse = tenant.events("code_reuse")
    assert len(reuse) == 1
    revoked = tenant.events("session_revoked")
    assert revoked[-1]["detail"]["reason"] == "code_reuse"


def test_expired_code(server: LiveServer, tenant: Tenant) -> None:
    server.configure(code_ttl=1)
    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    time.sleep(1.3)
    body = assert_refused(iframe.redeem(code), 400, "invalid_grant")
    assert "expired" in body["error_description"]


def test_unknown_code(tenant: Tenant) -> None:
    assert_refused(tenant.iframe().redeem("not-a-real-code"), 400, "invalid_grant")


def test_wrong_verifier(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    response = iframe.redeem(code, code_verifier="W" * 64)
    assert "code_verifier" in assert_refused(response, 400, "invalid_grant")["error_description"]


def test_missing_verifier(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    assert_refused(iframe.redeem(code, code_verifier=None), 400, "invalid_request")
    # a request refused for a missing parameter did not burn the code
    assert iframe.redeem(code).status_code == 200


def test_verifier_for_a_code_without_challenge_is_refused(tenant: Tenant) -> None:
    """RFC 9700 downgrade rule: a code that somehow has no challenge is never redeemable."""
    from authserver.services import services

    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    with tenant.server.app.app_context():
        store, hasher = services().store, services().hasher
        entry = store.consume(
            "code", hasher.hash(code), tombstone={"sid": "ses_x"}, tombstone_ttl=1
        )
        assert entry.value is not None
        forged = dict(entry.value, code_challenge=None)
        store.put("code", hasher.hash("downgraded-code"), forged, ttl=60)
    response = iframe.redeem("downgraded-code")
    assert (
        "without a code_challenge"
        in assert_refused(response, 400, "invalid_grant")["error_description"]
    )


def test_code_of_another_client(tenant: Tenant, other_tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    thief = other_tenant.iframe()
    thief.verifier, thief.key = iframe.verifier, iframe.key
    assert_refused(thief.redeem(code), 400, "invalid_grant")


def test_unknown_client_at_redemption(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    response = iframe.redeem(code, client_id="cf_nope")
    assert_refused(response, 401, "invalid_client")


def test_stolen_code_without_the_iframe_key_is_useless(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    attacker = tenant.iframe()
    attacker.verifier = iframe.verifier  # even with the verifier, the DPoP key is missing
    response = attacker.redeem(code)
    assert "key" in assert_refused(response, 400, "invalid_grant")["error_description"]


def test_dpop_proof_required_when_code_is_bound(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    assert_refused(iframe.redeem(code, dpop=False), 400, "invalid_dpop_proof")


def test_dpop_wrong_htu(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    proof = iframe.proof(url=f"{tenant.server.url}/chat/api/bots")
    body = assert_refused(iframe.redeem(code, headers={"DPoP": proof}), 400, "invalid_dpop_proof")
    assert "htu" in body["error_description"]


def test_a_refused_proof_still_spends_the_code(tenant: Tenant) -> None:
    """The code is spent before the proof is judged: one attempt per code, whatever the
    proof. The good proof that follows is refused for the code, not taken as a retry."""
    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    stale = iframe.proof(iat=time.time() - 600)
    assert_refused(iframe.redeem(code, headers={"DPoP": stale}), 400, "invalid_dpop_proof")
    assert_refused(iframe.redeem(code), 400, "invalid_grant")


def test_a_proof_is_single_use_whatever_the_redemption_answered(tenant: Tenant) -> None:
    """A proof presented with an unknown code is spent too: its jti is recorded with the
    code's spending, so the same proof with a good code is a replay."""
    iframe = tenant.iframe()
    proof = iframe.proof()
    assert_refused(iframe.redeem("not-a-code", headers={"DPoP": proof}), 400, "invalid_grant")
    body = assert_refused(
        iframe.redeem(code_for(tenant, iframe), headers={"DPoP": proof}), 400, "invalid_dpop_proof"
    )
    assert "replay" in body["error_description"]


def test_dpop_wrong_htm(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    proof = iframe.proof(method="GET")
    body = assert_refused(iframe.redeem(code, headers={"DPoP": proof}), 400, "invalid_dpop_proof")
    assert "htm" in body["error_description"]


def test_dpop_stale_iat(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    proof = iframe.proof(iat=time.time() - 600)
    body = assert_refused(iframe.redeem(code, headers={"DPoP": proof}), 400, "invalid_dpop_proof")
    assert "iat" in body["error_description"]


def test_dpop_future_iat(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    proof = iframe.proof(iat=time.time() + 600)
    assert_refused(iframe.redeem(code, headers={"DPoP": proof}), 400, "invalid_dpop_proof")


def test_dpop_replayed_jti(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    proof = iframe.proof()
    first = iframe.redeem(code_for(tenant, iframe), headers={"DPoP": proof})
    assert first.status_code == 200, first.text
    second_iframe = tenant.iframe()
    second_iframe.key, second_iframe.verifier = iframe.key, iframe.verifier
    code = code_for(tenant, second_iframe)
    body = assert_refused(
        second_iframe.redeem(code, headers={"DPoP": proof}), 400, "invalid_dpop_proof"
    )
    assert "replay" in body["error_description"]


def test_dpop_wrong_typ_and_bad_signature(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    wrong_typ = iframe.proof(typ="JWT")
    assert_refused(iframe.redeem(code, headers={"DPoP": wrong_typ}), 400, "invalid_dpop_proof")
    iframe2 = tenant.iframe()
    code2 = code_for(tenant, iframe2)
    good = iframe2.proof()
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    assert_refused(iframe2.redeem(code2, headers={"DPoP": tampered}), 400, "invalid_dpop_proof")


def test_dpop_proof_with_private_key_in_header(tenant: Tenant) -> None:
    from joserfc import jwt

    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": iframe.key.as_dict(private=True)}
    claims = {"htm": "POST", "htu": iframe.token_url, "iat": int(time.time()), "jti": "j" * 16}
    proof = jwt.encode(header, claims, iframe.key)
    assert_refused(iframe.redeem(code, headers={"DPoP": proof}), 400, "invalid_dpop_proof")


def test_dpop_proof_with_wrong_key_for_a_bound_code(tenant: Tenant) -> None:
    from joserfc.jwk import ECKey

    iframe = tenant.iframe()
    code = code_for(tenant, iframe)
    other = ECKey.generate_key("P-256")
    proof = dpop_proof(other, "POST", iframe.token_url)
    assert_refused(iframe.redeem(code, headers={"DPoP": proof}), 400, "invalid_grant")
