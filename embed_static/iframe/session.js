// The iframe's token session: redeem the embed code, keep tokens in memory only, sign a DPoP
// proof for every request, refresh silently before expiry (one refresh at a time), revoke.

import { createProof, jwtClaims } from "./dpop.js";

const FORM = { "Content-Type": "application/x-www-form-urlencoded" };

/** An OAuth error answered by Chatframe, with its code and human description. */
export class OAuthError extends Error {
  constructor(status, error, description) {
    super(description || error);
    this.status = status;
    this.error = error;
    this.description = description || error;
  }
}

/** Seconds before expiry at which to refresh: a quarter of the lifetime, 2 s to 60 s. */
export function refreshLead(expiresIn) {
  return Math.min(60, Math.max(2, expiresIn / 4));
}

export class TokenSession {
  /**
   * @param {{issuer: string, clientId: string, key: object, onExpired: () => void}} options
   */
  constructor({ issuer, clientId, key, onExpired }) {
    this.issuer = issuer;
    this.clientId = clientId;
    this.key = key;
    this.onExpired = onExpired;
    this.clockOffset = 0; // server time minus ours, in seconds
    this.tokens = null;
    this.expiresAt = 0;
    this.refreshing = null;
    this.timer = null;
    this.ended = false;
  }

  now() {
    return Date.now() / 1000 + this.clockOffset;
  }

  /** Trade the one-time code for tokens (PKCE verifier, when it has one, + DPoP proof). */
  async redeem({ code, verifier, origin }) {
    const body = new URLSearchParams({ grant_type: "authorization_code", code });
    if (verifier) body.set("code_verifier", verifier); // none for a native fragment-mode code
    body.set("client_id", this.clientId);
    body.set("origin", origin);
    this.accept(await this.tokenRequest(body));
  }

  /** The bots the current access token grants. */
  get bots() {
    return this.tokens ? jwtClaims(this.tokens.access_token).bots ?? [] : [];
  }

  /** Refresh now; concurrent callers share one request (a refresh token is single-use). */
  refresh() {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async doRefresh(attempt = 0) {
    if (this.ended || !this.tokens) throw new OAuthError(401, "session_ended", "Session ended.");
    const body = new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: this.tokens.refresh_token,
      client_id: this.clientId,
    });
    try {
      this.accept(await this.tokenRequest(body));
    } catch (error) {
      // Network trouble or a Chatframe outage (503: nothing was rotated): retry while the token lives.
      const transient = !(error instanceof OAuthError) || error.status === 503;
      if (transient && attempt < 4 && this.expiresAt - this.now() > 2) {
        await new Promise((resolve) => setTimeout(resolve, 1500 * (attempt + 1)));
        return this.doRefresh(attempt + 1);
      }
      this.expire();
      throw error;
    }
  }

  accept(tokens) {
    this.tokens = tokens;
    this.expiresAt = this.now() + tokens.expires_in;
    clearTimeout(this.timer);
    const delay = Math.max(0.5, tokens.expires_in - refreshLead(tokens.expires_in));
    this.timer = setTimeout(() => this.refresh().catch(() => {}), delay * 1000);
  }

  /** End the session locally and tell the owner (SESSION_EXPIRED). */
  expire() {
    if (this.ended) return;
    this.end();
    this.onExpired();
  }

  end() {
    this.ended = true;
    this.tokens = null;
    clearTimeout(this.timer);
  }

  /** Revoke the refresh token (which ends the whole session server-side), then forget all. */
  async revoke() {
    const token = this.tokens?.refresh_token;
    this.end();
    if (!token) return;
    await fetch(`${this.issuer}/oauth/revoke`, {
      method: "POST",
      headers: FORM,
      body: new URLSearchParams({ token, client_id: this.clientId }),
      credentials: "omit",
    }).catch(() => {});
  }

  /**
   * A chat API request with the DPoP-bound token; refreshes first when the token is about to
   * expire, and once more on a 401. Returns the parsed JSON; throws OAuthError otherwise.
   */
  async api(path, { method = "GET", json } = {}, retried = false) {
    if (this.ended) throw new OAuthError(401, "session_ended", "Session ended.");
    if (this.expiresAt - this.now() < 2) await this.refresh();
    const url = `${this.issuer}${path}`;
    const htu = url.split("?")[0];
    const proof = await createProof(this.key, {
      htm: method,
      htu,
      accessToken: this.tokens.access_token,
      now: this.now(),
    });
    const headers = {
      Authorization: `${this.tokens.token_type} ${this.tokens.access_token}`,
      DPoP: proof,
    };
    if (json !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
      credentials: "omit",
    });
    this.learnClock(response);
    if (response.status === 401 && !retried) {
      await this.refresh();
      return this.api(path, { method, json }, true);
    }
    return this.parse(response);
  }

  async tokenRequest(body) {
    const proof = await createProof(this.key, {
      htm: "POST",
      htu: `${this.issuer}/oauth/token`,
      now: this.now(),
    });
    const response = await fetch(`${this.issuer}/oauth/token`, {
      method: "POST",
      headers: { ...FORM, DPoP: proof },
      body,
      credentials: "omit",
    });
    this.learnClock(response);
    return this.parse(response);
  }

  /** Follow the server's clock (DPoP iat must be within a minute of it). */
  learnClock(response) {
    const server = Date.parse(response.headers.get("Date") ?? "");
    if (Number.isFinite(server)) {
      const offset = server / 1000 - Date.now() / 1000;
      if (Math.abs(offset) > 5) this.clockOffset = offset;
    }
  }

  async parse(response) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) {
      throw new OAuthError(
        response.status,
        body?.error ?? "server_error",
        body?.error_description ?? `Chatframe answered ${response.status}.`,
      );
    }
    return body;
  }
}
