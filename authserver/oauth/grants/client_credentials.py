"""client_credentials with ``scope=manage``: a customer backend's token for the management API."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidScopeError
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
        token, expires_in = self.issuer.management_token(client_id=self.request.client.id)
        return self.respond(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": expires_in,
                "scope": "manage",
            }
        )
