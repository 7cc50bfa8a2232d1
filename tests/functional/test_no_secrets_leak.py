"""A full run's logs, security events and stored rows hold no secret, code or token issued in it."""

from __future__ import annotations

import json

from sqlalchemy import MetaData, select

from authserver.extensions import db
from tests.conftest import Tenant


def test_no_secret_code_or_token_in_logs_events_or_database(
    tenant: Tenant, other_tenant: Tenant, captured_logs: list[str]
) -> None:
    issued: list[str] = [tenant.client_secret]
    backend = tenant.backend
    bots = [tenant.bots["billing"], tenant.bots["welcome"]]

    iframe = tenant.iframe()
    code = backend.code(iframe, "alice", bots)
    issued += [code, iframe.verifier]
    proof = iframe.proof()
    issued.append(proof)
    assert iframe.redeem(code, headers={"DPoP": proof}).status_code == 200
    issued += [
        iframe.tokens["access_token"],
        iframe.tokens["refresh_token"],
        iframe.tokens["id_token"],
    ]
    assert iframe.redeem(code).status_code == 400  # reuse: logged and recorded, by id only

    second = tenant.session("alice", bots)
    issued += list(second.tokens[k] for k in ("access_token", "refresh_token", "id_token"))
    old_refresh = second.tokens["refresh_token"]
    assert second.refresh().status_code == 200
    issued += [second.tokens["access_token"], second.tokens["refresh_token"]]
    assert second.refresh(old_refresh).status_code == 400  # refresh reuse

    management = backend.client_credentials().json()["access_token"]
    issued.append(management)
    assert backend.introspect(second.tokens["access_token"]).status_code == 200
    wrong = backend.exchange(
        iframe, "alice", bots, auth=(tenant.client_id, "cfs_guess-" + "x" * 30)
    )
    assert wrong.status_code == 401
    issued.append("cfs_guess-" + "x" * 30)

    from authserver import registry

    with tenant.server.app.app_context():
        new_secret = registry.rotate_client_secret(registry.get_client(tenant.client_id), 60)
        issued.append(new_secret)
        # every row of every table, as text
        metadata = MetaData()
        metadata.reflect(bind=db.engine)
        dump = []
        for table in metadata.sorted_tables:
            for row in db.session.execute(select(table)).all():
                dump.append(json.dumps([str(v) for v in row]))
        db.session.remove()
    stored = "\n".join(dump)
    events = json.dumps(tenant.events())
    logs = "\n".join(captured_logs)

    assert "code_reuse" in events and "refresh_reuse" in events and "code_issued" in events
    assert any("POST /oauth/token" in line for line in captured_logs)  # the capture works
    for value in issued:
        assert value not in logs, "a secret/token reached the logs"
        assert value not in events, "a secret/token reached the security events"
        assert value not in stored, "a secret/token is stored in plaintext"
