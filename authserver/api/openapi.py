"""The OpenAPI 3.1 description of the management API and the token, revocation and introspection
endpoints, served at ``GET /api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from ..events import EventType
from ..registry import ACCESS_VALUES, APPEARANCE_COLOURS
from ..services import services
from . import bp

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _no_content(description: str) -> dict[str, Any]:
    return {"description": description}


def _list_of(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["data", "next"],
        "properties": {
            "data": {"type": "array", "items": _ref(item)},
            "next": {
                "type": ["string", "null"],
                "description": "Pass as `cursor` to get the next page; null on the last page.",
            },
        },
    }


def _param(name: str, where: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema or {"type": "string"},
    }


BOT_ID = _param("bot_id", "path", "The bot's id (`bot_…`).", type="string", pattern="^bot_")
PARTNER_USER_ID = _param(
    "partner_user_id",
    "path",
    "Your own id for the user (1 to 255 printable characters, no spaces; percent-encode `/`).",
)
PAGING = [
    _param("cursor", "query", "The `next` value of the previous page."),
    _param("limit", "query", "Page size (default 50).", type="integer", minimum=1, maximum=100),
]

MANAGED = {
    "401": {"$ref": "#/components/responses/Unauthorized"},
}
OWNED = {
    **MANAGED,
    "404": _error("Not found, or it belongs to another customer (the two read the same)."),
}
BAD_REQUEST = {"400": _error("`invalid_request`: a field is missing or has a bad value.")}
UNAVAILABLE = {
    "503": _error(
        "`temporarily_unavailable`: the database or Redis cannot be reached, so nothing was "
        "issued. Retry after the `Retry-After` seconds."
    )
}


def _operation(
    operation_id: str,
    summary: str,
    responses: dict[str, Any],
    *,
    tag: str,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    security: list[dict[str, list[str]]] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "responses": {**responses, **UNAVAILABLE},
    }
    if parameters:
        operation["parameters"] = parameters
    if body:
        operation["requestBody"] = body
    if security is not None:
        operation["security"] = security
    return operation


def _management_paths() -> dict[str, Any]:
    bot_body = {"required": True, "content": {JSON: {"schema": _ref("BotInput")}}}
    return {
        "/api/v1/bots": {
            "get": _operation(
                "listBots",
                "List your bots, oldest first.",
                {"200": _json(_list_of("Bot"), "A page of bots."), **BAD_REQUEST, **MANAGED},
                tag="Bots",
                parameters=PAGING,
            ),
            "post": _operation(
                "createBot",
                "Create a bot (`name` is required).",
                {"201": _json(_ref("Bot"), "The new bot."), **BAD_REQUEST, **MANAGED},
                tag="Bots",
                body=bot_body,
            ),
        },
        "/api/v1/bots/{bot_id}": {
            "parameters": [BOT_ID],
            "get": _operation(
                "getBot",
                "Read a bot.",
                {"200": _json(_ref("Bot"), "The bot."), **OWNED},
                tag="Bots",
            ),
            "patch": _operation(
                "updateBot",
                "Change a bot: only the fields sent change; `faq` replaces the whole FAQ.",
                {"200": _json(_ref("Bot"), "The changed bot."), **BAD_REQUEST, **OWNED},
                tag="Bots",
                body=bot_body,
            ),
            "delete": _operation(
                "deleteBot",
                "Delete a bot with its FAQ, members and conversations.",
                {"204": _no_content("Deleted."), **OWNED},
                tag="Bots",
            ),
        },
        "/api/v1/bots/{bot_id}/members": {
            "parameters": [BOT_ID],
            "get": _operation(
                "listMembers",
                "List the bot's members, by partner user id.",
                {"200": _json(_list_of("Member"), "A page of members."), **BAD_REQUEST, **OWNED},
                tag="Members",
                parameters=PAGING,
            ),
        },
        "/api/v1/bots/{bot_id}/members/{partner_user_id}": {
            "parameters": [BOT_ID, PARTNER_USER_ID],
            "put": _operation(
                "addMember",
                "Make a partner user a member of the bot.",
                {
                    "201": _json(_ref("Member"), "Now a member."),
                    "200": _json(_ref("Member"), "Was already a member."),
                    **BAD_REQUEST,
                    **OWNED,
                },
                tag="Members",
            ),
            "delete": _operation(
                "removeMember",
                "Remove a member; it takes effect on the member's very next chat request.",
                {"204": _no_content("Removed."), **OWNED},
                tag="Members",
            ),
        },
        "/api/v1/users/{partner_user_id}/sessions": {
            "parameters": [PARTNER_USER_ID],
            "get": _operation(
                "listSessions",
                "List a partner user's live sessions.",
                {"200": _json(_list_of("Session"), "A page of sessions."), **BAD_REQUEST, **OWNED},
                tag="Sessions",
                parameters=PAGING,
            ),
            "delete": _operation(
                "revokeSessions",
                "Revoke every session of a partner user; effective on the next chat request.",
                {"204": _no_content("Every live session of the user is revoked."), **OWNED},
                tag="Sessions",
            ),
        },
        "/api/v1/events": {
            "get": _operation(
                "listEvents",
                "Your security events, oldest first.",
                {"200": _json(_list_of("Event"), "A page of events."), **BAD_REQUEST, **MANAGED},
                tag="Events",
                parameters=[
                    _param(
                        "type",
                        "query",
                        "Only these event types (comma-separated or repeated).",
                        type="string",
                    ),
                    _param(
                        "since",
                        "query",
                        "Only events at or after this moment: ISO 8601 or Unix seconds.",
                    ),
                    _param("client_id", "query", "Only events of this client."),
                    _param("partner_user", "query", "Only events of this pairwise user (`usr_…`)."),
                    _param("partner_user_id", "query", "Only events of this partner user."),
                    *PAGING,
                ],
            ),
        },
        "/api/v1/openapi.json": {
            "get": _operation(
                "getOpenApi",
                "This document.",
                {"200": {"description": "The OpenAPI document.", "content": {JSON: {}}}},
                tag="Meta",
                security=[],
            ),
        },
    }


def _oauth_paths() -> dict[str, Any]:
    client_auth: list[dict[str, list[str]]] = [{"clientSecretBasic": []}, {}]
    oauth_errors = {
        "400": _error(
            "`invalid_request`, `invalid_grant`, `invalid_target`, `invalid_scope`, "
            "`invalid_dpop_proof` or `unsupported_grant_type`. Also `invalid_request` for "
            "client credentials sent from a browser (an `Origin` header): the secret is "
            "flagged with a `secret_exposed` event."
        ),
        "401": _error("`invalid_client`: unknown client, bad credentials or IP not allowed."),
    }
    return {
        "/oauth/token": {
            "post": _operation(
                "token",
                "Token endpoint: embed codes, code redemption, refresh, management tokens.",
                {
                    "200": _json(
                        {
                            "oneOf": [
                                _ref("EmbedCodeResponse"),
                                _ref("TokenResponse"),
                                _ref("ManagementTokenResponse"),
                            ]
                        },
                        "The token(s) for the grant used.",
                    ),
                    **oauth_errors,
                    "429": _error("`rate_limited`: too many codes; see Retry-After."),
                },
                tag="OAuth",
                body={
                    "required": True,
                    "content": {
                        FORM: {
                            "schema": {
                                "oneOf": [
                                    _ref("TokenExchangeRequest"),
                                    _ref("AuthorizationCodeRequest"),
                                    _ref("RefreshTokenRequest"),
                                    _ref("ClientCredentialsRequest"),
                                ]
                            }
                        }
                    },
                },
                parameters=[
                    _param("DPoP", "header", "A DPoP proof (RFC 9449), for the iframe's grants.")
                ],
                security=client_auth,
            ),
        },
        "/oauth/revoke": {
            "post": _operation(
                "revoke",
                "Revoke a refresh or access token (RFC 7009); ends its session.",
                {
                    "200": _json({"type": "object"}, "Revoked, or nothing to revoke."),
                    **oauth_errors,
                },
                tag="OAuth",
                body={"required": True, "content": {FORM: {"schema": _ref("RevocationRequest")}}},
                security=client_auth,
            ),
        },
        "/oauth/introspect": {
            "post": _operation(
                "introspect",
                "Describe a token of your own customer (RFC 7662).",
                {
                    "200": _json(_ref("IntrospectionResponse"), "The token's state."),
                    **oauth_errors,
                },
                tag="OAuth",
                body={
                    "required": True,
                    "content": {FORM: {"schema": _ref("IntrospectionRequest")}},
                },
                security=client_auth,
            ),
        },
    }


def _string(description: str, **more: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **more}


TIME = {"type": "string", "format": "date-time"}
CLIENT_AUTH_FIELDS = {
    "client_id": _string("The client id, when not sent with HTTP Basic."),
    "client_secret": _string("client_secret_post."),
    "client_assertion_type": {
        "const": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    },
    "client_assertion": _string("private_key_jwt: a JWT signed with a key of your JWKS."),
}


def _schemas() -> dict[str, Any]:
    colour = {"type": ["string", "null"], "pattern": "^#[0-9a-fA-F]{6}$"}
    faq_entry = {
        "type": "object",
        "required": ["question", "answer"],
        "properties": {
            "question": {"type": "string", "minLength": 1, "maxLength": 1000},
            "answer": {"type": "string", "minLength": 1, "maxLength": 4000},
        },
    }
    bot_fields = {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "greeting": {"type": "string", "maxLength": 2000},
        "fallback": {"type": "string", "maxLength": 2000},
        "access": {"enum": list(ACCESS_VALUES)},
        "require_mfa": {"type": "boolean"},
        "enabled": {"type": "boolean"},
        "appearance": {
            "type": "object",
            "properties": {name: colour for name in APPEARANCE_COLOURS},
            "additionalProperties": False,
        },
        "faq": {"type": "array", "maxItems": 500, "items": _ref("FaqEntry")},
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error", "error_description"],
            "properties": {
                "error": _string("A machine-readable code such as `not_found`."),
                "error_description": _string("A sentence saying what to fix."),
            },
        },
        "FaqEntry": faq_entry,
        "BotInput": {
            "type": "object",
            "properties": bot_fields,
            "additionalProperties": False,
        },
        "Bot": {
            "type": "object",
            "required": ["id", *bot_fields, "created_at"],
            "properties": {
                "id": _string("`bot_…`"),
                **bot_fields,
                "created_at": TIME,
            },
        },
        "Member": {
            "type": "object",
            "required": ["id", "partner_user_id", "bot_id", "created_at"],
            "properties": {
                "id": _string("Chatframe's pairwise id for the user (`usr_…`), the tokens' sub."),
                "partner_user_id": _string("Your own id for the user."),
                "bot_id": _string("`bot_…`"),
                "created_at": TIME,
            },
        },
        "Session": {
            "type": "object",
            "required": ["id", "partner_user_id", "client_id", "origin", "bots"],
            "properties": {
                "id": _string("`ses_…`"),
                "partner_user_id": {"type": "string"},
                "client_id": {"type": "string"},
                "origin": {"type": "string"},
                "bots": {"type": "array", "items": {"type": "string"}},
                "created_at": TIME,
                "expires_at": TIME,
            },
        },
        "Event": {
            "type": "object",
            "required": ["id", "type", "created_at"],
            "properties": {
                "id": _string("`evt_…`"),
                "type": {"enum": [str(t) for t in EventType]},
                "created_at": TIME,
                "client_id": {"type": ["string", "null"]},
                "partner_user": {"type": ["string", "null"], "description": "`usr_…`"},
                "ip": {"type": ["string", "null"]},
                "detail": {"type": "object", "description": "Ids and reasons; never a secret."},
            },
        },
        "TokenExchangeRequest": {
            "type": "object",
            "required": [
                "grant_type",
                "subject_token",
                "subject_token_type",
                "scope",
                "origin",
            ],
            "properties": {
                "grant_type": {"const": "urn:ietf:params:oauth:grant-type:token-exchange"},
                "subject_token": _string("The partner user id, or a JWT signed by your key."),
                "subject_token_type": {
                    "enum": [
                        "urn:chatframe:token-type:partner-user-id",
                        "urn:ietf:params:oauth:token-type:jwt",
                    ]
                },
                "requested_token_type": {"const": "urn:chatframe:token-type:embed-code"},
                "scope": _string("`bot:<bot_id>` entries, optionally `chat`."),
                "origin": _string(
                    "The exact origin of the host page, or Chatframe's own origin for the "
                    "native app page (when the client enables native app embedding)."
                ),
                "code_challenge": _string(
                    "PKCE (S256). Required, except for a native fragment-mode code (origin = "
                    "Chatframe's origin, client with the fragment fallback on), which has none."
                ),
                "code_challenge_method": {"const": "S256"},
                "dpop_jkt": _string(
                    "The page's DPoP key thumbprint (RFC 7638); not with a fragment-mode code."
                ),
                "nonce": {"type": "string"},
                **CLIENT_AUTH_FIELDS,
            },
        },
        "AuthorizationCodeRequest": {
            "type": "object",
            "required": ["grant_type", "code", "client_id", "origin"],
            "properties": {
                "grant_type": {"const": "authorization_code"},
                "code": _string("The one-time embed code."),
                "code_verifier": _string(
                    "PKCE verifier; required for every code except a native fragment-mode one "
                    "(which needs a DPoP proof instead and refuses a verifier)."
                ),
                "client_id": {"type": "string"},
                "origin": {"type": "string"},
            },
        },
        "RefreshTokenRequest": {
            "type": "object",
            "required": ["grant_type", "refresh_token", "client_id"],
            "properties": {
                "grant_type": {"const": "refresh_token"},
                "refresh_token": {"type": "string"},
                "client_id": {"type": "string"},
            },
        },
        "ClientCredentialsRequest": {
            "type": "object",
            "required": ["grant_type", "scope"],
            "properties": {
                "grant_type": {"const": "client_credentials"},
                "scope": {"const": "manage"},
                **CLIENT_AUTH_FIELDS,
            },
        },
        "EmbedCodeResponse": {
            "type": "object",
            "required": ["access_token", "issued_token_type", "token_type", "expires_in"],
            "properties": {
                "access_token": _string("The one-time embed code."),
                "issued_token_type": {"const": "urn:chatframe:token-type:embed-code"},
                "token_type": {"const": "N_A"},
                "expires_in": {"type": "integer"},
            },
        },
        "TokenResponse": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in", "refresh_token", "scope"],
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"enum": ["DPoP", "Bearer"]},
                "expires_in": {"type": "integer"},
                "refresh_token": {"type": "string"},
                "id_token": {"type": "string"},
                "scope": {"type": "string"},
            },
        },
        "ManagementTokenResponse": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in", "scope"],
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"const": "Bearer"},
                "expires_in": {"type": "integer"},
                "scope": {"const": "manage"},
            },
        },
        "RevocationRequest": {
            "type": "object",
            "required": ["token"],
            "properties": {
                "token": {"type": "string"},
                "token_type_hint": {"enum": ["refresh_token", "access_token"]},
                **CLIENT_AUTH_FIELDS,
            },
        },
        "IntrospectionRequest": {
            "type": "object",
            "required": ["token"],
            "properties": {
                "token": {"type": "string"},
                "token_type_hint": {"enum": ["refresh_token", "access_token"]},
                **CLIENT_AUTH_FIELDS,
            },
        },
        "IntrospectionResponse": {
            "type": "object",
            "required": ["active"],
            "properties": {
                "active": {"type": "boolean"},
                "sub": {"type": "string"},
                "client_id": {"type": "string"},
                "sid": {"type": "string"},
                "scope": {"type": "string"},
                "exp": {"type": "integer"},
                "iat": {"type": "integer"},
                "bots": {"type": "array", "items": {"type": "string"}},
                "token_type": {"type": "string"},
                "cnf": {"type": "object"},
            },
        },
    }


def document(issuer: str) -> dict[str, Any]:
    """The whole OpenAPI document for a deployment at ``issuer``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Chatframe management API",
            "version": "1.0.0",
            "description": (
                "Manage bots, members and sessions from your backend, read your security "
                "events, and use the OAuth endpoints. Management calls need a bearer token from "
                "`POST /oauth/token` with `grant_type=client_credentials&scope=manage`. Errors "
                'are `{"error", "error_description"}`; anything of another customer is 404. '
                "Any request with a NUL character (path, query, form, header) or a JSON body "
                "that is not strict UTF-8 JSON (no NaN/Infinity, at most 32 levels deep, no "
                "lone surrogates) is 400 `invalid_request`; bodies are capped at 64 KiB (413)."
            ),
        },
        "servers": [{"url": issuer}],
        "security": [{"managementToken": []}],
        "tags": [
            {"name": name} for name in ("Bots", "Members", "Sessions", "Events", "OAuth", "Meta")
        ],
        "paths": {**_management_paths(), **_oauth_paths()},
        "components": {
            "schemas": _schemas(),
            "responses": {
                "Unauthorized": {
                    "description": "`invalid_token`: missing, expired or not a manage token.",
                    "headers": {
                        "WWW-Authenticate": {
                            "schema": {"type": "string"},
                            "description": 'Bearer error="invalid_token"',
                        }
                    },
                    "content": {JSON: {"schema": _ref("Error")}},
                }
            },
            "securitySchemes": {
                "managementToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A client_credentials access token with scope=manage.",
                },
                "clientSecretBasic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "client_id and client_secret (client_secret_basic).",
                },
            },
        },
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    response = jsonify(document(services().settings.issuer))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
