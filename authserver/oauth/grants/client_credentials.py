"""client_credentials with ``scope=manage``: a customer backend's token for the management API."""

from __future__ import annotations

from typing import Any

from joserfc.jwk import ECKey

from ..errors import InvalidScopeError
from ..tokens import TokenIssuer
from .base import ChatframeGrant


class ManagementClientCredentialsGrant(ChatframeGrant):
    GRANT_TYPE = "client_credentials"
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        self.request.client = client
        if self.request.param("scope") != "manage":
            raise InvalidScopeError("client_credentials is only for scope=manage.")

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        return self.respond(management_token_response(self.issuer, self.request.client.id))


def management_token_response(
    issuer: TokenIssuer, client_id: str, key: tuple[str, ECKey] | None = None
) -> dict[str, Any]:
    """The token response of a granted ``client_credentials`` request (``key``: see
    :meth:`TokenIssuer.management_token`)."""
    token, expires_in = issuer.management_token(client_id=client_id, key=key)
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": "manage",
    }
