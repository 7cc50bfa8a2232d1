// Type declarations for the Chatframe host-page SDK: /sdk/v1/chatframe.js

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
  | {
      type: "ERROR";
      /** "get_code_failed" | "origin_not_allowed" | "iframe_unavailable" */
      error: string;
      error_description: string;
    };

export interface MountOptions {
  /** Your client id, "cf_…". */
  clientId: string;
  /**
   * Ask your backend for a one-time embed code (token exchange) and return it.
   * Called at start and again, by itself, whenever the chat session expires.
   */
  getCode(request: CodeRequest): string | Promise<string>;
  /** Every validated message from the iframe, and the SDK's own errors. */
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
