"""Token exchange (RFC 8693): a customer backend trades its user for a one-time embed code."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from ... import events
from ...access import (
    ensure_partner_user,
    find_partner_user,
    get_or_create_partner_user,
    new_partner_user,
    user_access,
)
from ...client_cache import ClientRecord
from ...ephemeral import Write, seconds_until_reset
from ...events import EventType
from ...security import fingerprint
from ...validation import ascii_origin
from ..client_auth import ClientJwtError, verify_client_jwt
from ..errors import (
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    InvalidTargetError,
    RateLimitedError,
)
from ..pkce import validate_code_challenge
from .base import ChatframeGrant

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
PARTNER_USER_ID_TYPE = "urn:chatframe:token-type:partner-user-id"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
EMBED_CODE_TYPE = "urn:chatframe:token-type:embed-code"

PARTNER_USER_ID = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces
BOT_SCOPE = re.compile(r"^bot:(bot_[A-Za-z0-9]{1,36})$")
JKT = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_BOTS = 20


def explain_denials(partner_user_id: str, denied: dict[str, str]) -> str:
    """Why each bot was refused to this partner user, and what the customer can do about it."""
    user = partner_user_id[:100]
    reasons = {
        "unknown_bot": "{bot} is an unknown bot for this client's customer; check the bot id",
        "bot_disabled": "{bot} is disabled; enable it in the console or with chatframe bots "
        "update {bot} --enable",
        "not_a_member": "partner user {user} is not a member of {bot}; add them "
        "(PUT /api/v1/bots/{bot}/members/{user}, the console's Members page, or chatframe "
        "bots add-member {bot} {user}) or set the bot's access to all_users",
        "mfa_required": "{bot} requires MFA; send a JWT subject_token whose amr includes mfa",
    }
    parts = [
        reasons.get(why, "{bot} is not available ({why})").format(bot=bot, user=user, why=why)
        for bot, why in denied.items()
    ]
    return "These bots are not available to this user: " + "; ".join(parts) + "."


def _origin_hint(origin: str) -> str:
    """For an origin written with a Unicode host: the ASCII form it is compared in."""
    ascii_form = None if origin.isascii() else ascii_origin(origin)
    if ascii_form is None:
        return ""
    return f" Origins are compared as browsers send them, with the host in punycode: {ascii_form}."


@dataclass
class Subject:
    partner_user_id: str
    name: str | None = None
    email: str | None = None
    amr: list[str] = field(default_factory=list)


class TokenExchangeGrant(ChatframeGrant):
    GRANT_TYPE = GRANT_TYPE
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def validate_token_request(self) -> None:
        client = self._authenticate()
        self.request.client = client
        subject = self._subject(client)
        self._limit(client, subject)

        if self.request.param("requested_token_type") not in (None, EMBED_CODE_TYPE):
            raise InvalidRequestError(f"requested_token_type must be {EMBED_CODE_TYPE}.")
        origin = self.request.require("origin")
        native = origin == self.svc.settings.native_origin
        if native and not client.native_enabled:
            self._deny("origin", origin=origin[:300])
            raise InvalidRequestError(
                f"The origin {origin[:300]} is Chatframe's native app page, and native app "
                f"embedding is not enabled for client {client.id}: enable it on the client's "
                "console page or with 'chatframe clients update --native'."
            )
        if not native and not client.allows_origin(origin):
            self._deny("origin", origin=origin[:300])
            raise InvalidRequestError(
                f"The origin {origin[:300]} is not registered for client {client.id}. Add it to "
                f"the client's allowed origins (console: Clients, {client.id}; or chatframe "
                f"clients update {client.id} --origin ... with every origin)."
                + _origin_hint(origin)
            )
        bots, scope = self._bots()
        user_pk, denied = user_access(
            client.customer_id, bots, subject.amr, partner_user_id=subject.partner_user_id
        )
        if denied:
            # Record the user's pairwise id even on first sight, so that the customer can
            # look up "why can't this user chat?" by their own id.
            if user_pk is None:
                user_pk = get_or_create_partner_user(client.customer_id, subject.partner_user_id).id
            self._deny("bot", partner_user=user_pk, bots=denied)
            raise InvalidTargetError(explain_denials(subject.partner_user_id, denied))
        fragment = native and self._wants_fragment_code(client)
        challenge = (
            None
            if fragment
            else validate_code_challenge(
                self.request.param("code_challenge"), self.request.param("code_challenge_method")
            )
        )
        dpop_jkt = self.request.param("dpop_jkt")
        if dpop_jkt is not None and not JKT.match(dpop_jkt):
            raise InvalidRequestError("dpop_jkt must be an RFC 7638 SHA-256 thumbprint.")
        if fragment and dpop_jkt is not None:
            raise InvalidRequestError(
                "A code for the URL fragment cannot carry dpop_jkt: the page's key is bound "
                "when the code is redeemed. Send code_challenge and dpop_jkt together (bridge "
                "mode) or neither (fragment mode)."
            )
        nonce = self.request.param("nonce")
        if nonce is not None and not 1 <= len(nonce) <= 255:
            raise InvalidRequestError("nonce must be 1 to 255 characters.")
        self.exchange: dict[str, Any] = {
            "origin": origin,
            "subject": subject,
            "user_pk": user_pk,
            "bots": bots,
            "scope": scope,
            "code_challenge": challenge,
            "dpop_jkt": dpop_jkt,
            "nonce": nonce,
            "fragment": fragment,
        }

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        client: ClientRecord = self.request.client
        subject: Subject = self.exchange["subject"]
        user_pk = self.exchange["user_pk"]
        new_user = None
        if user_pk is None and not (subject.name or subject.email):
            # First sight: the user is created with the code's event, in the same statement.
            user_pk, new_user = new_partner_user(client.customer_id, subject.partner_user_id)
        elif user_pk is None or subject.name or subject.email:
            user = get_or_create_partner_user(client.customer_id, subject.partner_user_id)
            if subject.name:
                user.name = subject.name[:200]
            if subject.email:
                user.email = subject.email[:320]
            user_pk = user.id
        code = secrets.token_urlsafe(32)
        code_hash = self.svc.hasher.hash(code)
        if not self._store_code(code_hash, user_pk, new_user):
            # Another request created this user in between: theirs is the user's id.
            user_pk = ensure_partner_user(client.customer_id, subject.partner_user_id)
            self._store_code(code_hash, user_pk, None)
        return self.respond(
            {
                "access_token": code,
                "issued_token_type": EMBED_CODE_TYPE,
                "token_type": "N_A",
                "expires_in": self.svc.settings.code_ttl,
            }
        )

    def _store_code(self, code_hash: str, user_pk: str, new_user: Write | None) -> bool:
        """Store the code and write its event (and a first-seen user, ``new_user``): one
        transaction in the SQL store (SQLite: one lock, one sync); with Redis, the code there
        and the writes in one statement. After a user's name or email was stored, committed
        with them. False (and no event) when ``new_user`` turned out to exist already."""
        client: ClientRecord = self.request.client
        event: dict[str, Any] = {
            "customer_id": client.customer_id,
            "client_id": client.id,
            "partner_user": user_pk,
            "ip": self.request.client_ip,
            "bots": self.exchange["bots"],
            "origin": self.exchange["origin"],
            "dpop_bound": bool(self.exchange["dpop_jkt"]),
            "delivery": "fragment" if self.exchange["fragment"] else "message",
        }
        return self.svc.store.put_with(
            "code",
            code_hash,
            {
                "client_id": client.id,
                "customer_id": client.customer_id,
                "partner_user": user_pk,
                "bots": self.exchange["bots"],
                "scope": self.exchange["scope"],
                "origin": self.exchange["origin"],
                "code_challenge": self.exchange["code_challenge"],
                "dpop_jkt": self.exchange["dpop_jkt"],
                "nonce": self.exchange["nonce"],
                "amr": self.exchange["subject"].amr,
                "fragment": self.exchange["fragment"],
            },
            ttl=self.svc.settings.code_ttl,
            writes=[events.written_with(EventType.CODE_ISSUED, **event)],
            first=new_user,
        )

    # -- steps -----------------------------------------------------------------------------

    def _authenticate(self) -> ClientRecord:
        try:
            return self.authenticate_token_endpoint_client()
        except InvalidClientError:
            failed: ClientRecord | None = getattr(self.request, "failed_client", None)
            reason = "ip" if getattr(self.request, "ip_refused", False) else "bad_client"
            events.record(
                EventType.EXCHANGE_DENIED,
                customer_id=failed.customer_id if failed else None,
                client_id=failed.id if failed else None,
                ip=self.request.client_ip,
                reason=reason,
            )
            raise

    def _deny(self, reason: str, partner_user: str | None = None, **detail: Any) -> None:
        client: ClientRecord = self.request.client
        events.record(
            EventType.EXCHANGE_DENIED,
            customer_id=client.customer_id,
            client_id=client.id,
            partner_user=partner_user,
            ip=self.request.client_ip,
            reason=reason,
            **detail,
        )

    def _limit(self, client: ClientRecord, subject: Subject) -> None:
        """Count this request against the client's and the partner user's limits at once."""
        settings = self.svc.settings
        user_key = fingerprint(f"{client.customer_id}:{subject.partner_user_id}")
        counts = self.svc.store.hit_many(
            [("rate:exchange:client", client.id), ("rate:exchange:user", user_key)],
            settings.rate_limit_window,
        )
        limits = {
            "client": settings.exchange_limit_per_client,
            "user": settings.exchange_limit_per_user,
        }
        for scope, count in zip(limits, counts, strict=True):
            if count > limits[scope]:
                retry_after = seconds_until_reset(settings.rate_limit_window)
                user = find_partner_user(client.customer_id, subject.partner_user_id)
                self._deny("rate_limit", partner_user=user.id if user else None, limit=scope)
                raise RateLimitedError(
                    f"Too many embed codes requested for this {scope}; "
                    f"try again in {retry_after} s.",
                    retry_after=retry_after,
                )

    def _wants_fragment_code(self, client: ClientRecord) -> bool:
        """A native-page code without PKCE: only where the client enabled fragment mode.

        Such a code cannot be bound to the page's verifier or key (the app asks for it before
        the page exists); it is single-use, short-lived and bound to a DPoP key at redemption.
        """
        if self.request.param("code_challenge") or self.request.param("code_challenge_method"):
            return False
        if not client.allows_native_fragment:
            raise InvalidRequestError(
                "code_challenge is required: the native page sends it over the app's bridge. "
                f"Codes without one (fragment mode) are only issued when client {client.id} "
                "enables the native fragment fallback."
            )
        return True

    def _subject(self, client: ClientRecord) -> Subject:
        token = self.request.require("subject_token")
        token_type = self.request.require("subject_token_type")
        if token_type == PARTNER_USER_ID_TYPE:
            if not PARTNER_USER_ID.match(token):
                raise InvalidRequestError(
                    "subject_token must be the partner user id: 1 to 255 printable characters."
                )
            return Subject(partner_user_id=token)
        if token_type != JWT_TYPE:
            raise InvalidRequestError(
                f"subject_token_type must be {PARTNER_USER_ID_TYPE} or {JWT_TYPE}."
            )
        try:
            claims = verify_client_jwt(
                client,
                token,
                audiences=[self.svc.settings.issuer],
                store=self.svc.store,
                replay_kind="subject_jti",
            )
        except ClientJwtError as exc:
            raise InvalidRequestError(f"The subject_token is invalid: {exc}.") from exc
        sub = claims.get("sub")
        if not isinstance(sub, str) or not PARTNER_USER_ID.match(sub):
            raise InvalidRequestError("The subject_token's sub must be the partner user id.")
        amr = claims.get("amr", [])
        if not isinstance(amr, list) or not all(isinstance(m, str) for m in amr):
            raise InvalidRequestError("The subject_token's amr must be a list of strings.")
        name, email = claims.get("name"), claims.get("email")
        return Subject(
            partner_user_id=sub,
            name=name if isinstance(name, str) else None,
            email=email if isinstance(email, str) else None,
            amr=amr[:10],
        )

    def _bots(self) -> tuple[list[str], str]:
        raw = self.request.param("scope") or ""
        bots: list[str] = []
        chat = False
        for entry in raw.split():
            match = BOT_SCOPE.match(entry)
            if match:
                bots.append(match.group(1))
            elif entry == "chat":
                chat = True
            else:
                raise InvalidScopeError(
                    f"Unknown scope {entry[:60]!r}: "
                    "use 'bot:<bot_id>' entries and optionally 'chat'."
                )
        bots = list(dict.fromkeys(bots))
        if not bots:
            raise InvalidScopeError("scope must name at least one bot as 'bot:<bot_id>'.")
        if len(bots) > MAX_BOTS:
            raise InvalidScopeError(f"At most {MAX_BOTS} bots per embed code.")
        scope = " ".join((["chat"] if chat else []) + [f"bot:{b}" for b in bots])
        return bots, scope
