// Type declarations for the Chatframe host-page SDK: /sdk/v1/chatframe.js
//
// As an ES module:     import { Chatframe } from "https://chat.example.com/sdk/v1/chatframe.js";
// As a classic script: <script src="https://chat.example.com/sdk/v1/chatframe.js"></script>
//                      then window.Chatframe (see the `declare global` below).
// Pinned with SRI:     /sdk/v1.<hash>/chatframe.js (classic) or /sdk/v1.<hash>/chatframe.mjs
//                      (module), with the integrity value shown on the console's Install page.

/** What the iframe hands your getCode: pass all of it to your backend's token exchange. */
export interface CodeRequest {
  /** PKCE challenge made by the iframe (S256). */
  codeChallenge: string;
  /** Always "S256". */
  codeChallengeMethod: "S256";
  /** RFC 7638 thumbprint of the iframe's DPoP key: send it as `dpop_jkt`. */
  dpopJkt: string;
  /** This page's exact origin: send it as `origin`. */
  origin: string;
}

export interface BotSummary {
  id: string;
  name: string;
}

/** Messages from the iframe (validated), and the SDK's own ERROR. */
export type ChatframeEvent =
  | { type: "READY"; code_challenge: string; code_challenge_method: "S256"; dpop_jkt: string }
  | { type: "AUTH_SUCCESS"; bots: BotSummary[]; expires_at: number }
  | {
      type: "AUTH_ERROR";
      /**
       * The token endpoint's or chat API's error when the iframe could not start the chat
       * (invalid_grant, invalid_request, invalid_client, invalid_dpop_proof, invalid_token,
       * insufficient_scope, temporarily_unavailable), or the iframe's own access_denied,
       * network_error or server_error. The iframe then shows "Chat is unavailable right now"
       * with a "Try again" button (which sends RETRY).
       */
      error: string;
      error_description: string;
    }
  | { type: "SESSION_EXPIRED" }
  | { type: "RESIZE"; height: number }
  /** The end user pressed "Try again" in the iframe's "Chat is unavailable right now" state. */
  | { type: "RETRY" }
  | {
      type: "ERROR";
      error: ChatframeErrorCode;
      /** What went wrong and how to fix it (also written to the browser console). */
      error_description: string;
    };

/**
 * The SDK's own failures:
 * - get_code_failed: your getCode threw, returned no code or returned something that is not an
 *   embed code (retried after 1, 2 and 4 s, then the iframe shows "Chat is unavailable right
 *   now" with a "Try again" button);
 * - origin_not_allowed: this page's origin is not one of the client's allowed origins;
 * - frame_blocked_by_csp: this page's Content-Security-Policy refused the chat frame
 *   (add the Chatframe origin to frame-src);
 * - iframe_unavailable: the client does not exist or is disabled, or the iframe did not answer
 *   within 10 s (the description lists what to check).
 * origin_not_allowed and an unknown client are reported at once when the SDK's status check
 * (/embed/{clientId}/status) reaches Chatframe; a check that cannot (say, the page's
 * connect-src leaves Chatframe out) never stops the chat from starting.
 */
export type ChatframeErrorCode =
  | "get_code_failed"
  | "origin_not_allowed"
  | "frame_blocked_by_csp"
  | "iframe_unavailable";

export interface MountOptions {
  /** Your client id, "cf_…". */
  clientId: string;
  /**
   * Ask your backend for a one-time embed code (token exchange) and return it.
   * Called at start and again, by itself, whenever the chat session expires. When it fails,
   * throw an Error whose message explains why (e.g. your backend's error_description).
   */
  getCode(request: CodeRequest): string | Promise<string>;
  /** Every validated message from the iframe (AUTH_ERROR included), and the SDK's own errors. */
  onEvent?(event: ChatframeEvent): void;
}

export interface ChatframeHandle {
  /** Sign the user out of the chat: the iframe revokes its session. */
  logout(): void;
  /** Remove the iframe and stop listening for its messages. */
  destroy(): void;
}

export interface ChatframeSDK {
  readonly version: "1";
  /** Create the chat iframe inside `target` (an element or a CSS selector). */
  mount(target: Element | string, options: MountOptions): ChatframeHandle;
}

export declare const Chatframe: ChatframeSDK;
export declare const CHATFRAME_ORIGIN: string | null;

declare global {
  interface Window {
    Chatframe?: ChatframeSDK;
  }
}
