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
  | { type: "AUTH_ERROR"; error: string; error_description: string }
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
 * - get_code_failed: your getCode threw or returned no code (retried after 1, 2 and 4 s, then
 *   the iframe shows "Chat is unavailable right now" with a "Try again" button);
 * - origin_not_allowed: this page's origin is not one of the client's allowed origins;
 * - frame_blocked_by_csp: this page's Content-Security-Policy refused the chat frame
 *   (add the Chatframe origin to frame-src);
 * - iframe_unavailable: the iframe did not answer, the client does not exist or is disabled,
 *   or Chatframe could not be reached.
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
