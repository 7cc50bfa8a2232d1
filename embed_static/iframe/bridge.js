// The native app bridges of /embed/{client_id}/native: find the one the app installed, and
// accept a code only as the app's own reply. Pure functions, unit-tested with `node --test`.
//
//   iOS           WKScriptMessageHandlerWithReply "chatframe": webkit.messageHandlers.chatframe
//                 .postMessage(text) returns a Promise of the app's reply.
//   Android       WebViewCompat.addWebMessageListener(webView, "chatframe", allowedOriginRules, …)
//                 injects window.chatframe; replyProxy.postMessage(text) fires its "message".
//   React Native  window.ReactNativeWebView.postMessage(text); the app answers with
//                 webView.postMessage(text), which dispatches a synthetic "message" event on
//                 window (iOS) or document (Android).

/** Replies larger than this (as text) are ignored. */
export const MAX_REPLY_BYTES = 16 * 1024;

const CODE = /^[A-Za-z0-9_-]{20,512}$/;
const REQUEST_ID = /^[A-Za-z0-9_-]{22,64}$/;
const REPLY_KEYS = ["chatframe", "code", "request_id", "type"];

/**
 * @typedef {object} Bridge
 * @property {"ios" | "android" | "react-native"} kind
 * @property {(text: string) => unknown} post  send one JSON message to the app
 * @property {(receive: (data: unknown) => void) => void} onReply  deliver the app's replies
 */

/**
 * The bridge the app installed in this page, or null. Its objects are captured now, once:
 * nothing that runs later can swap them.
 * @param {any} win  `window`
 * @param {any} doc  `document`
 * @returns {Bridge | null}
 */
export function findBridge(win, doc) {
  const ios = win.webkit?.messageHandlers?.chatframe;
  if (ios && typeof ios.postMessage === "function") {
    return {
      kind: "ios",
      post: (text) => ios.postMessage(text),
      onReply: () => {}, // replies are the Promises post() returns
    };
  }
  const android = win.chatframe;
  if (android && typeof android.postMessage === "function") {
    return {
      kind: "android",
      post: (text) => android.postMessage(text),
      onReply: (receive) => {
        const listener = (event) => receive(event?.data);
        if (typeof android.addEventListener === "function") {
          android.addEventListener("message", listener);
        } else {
          android.onmessage = listener;
        }
      },
    };
  }
  const reactNative = win.ReactNativeWebView;
  if (reactNative && typeof reactNative.postMessage === "function") {
    return {
      kind: "react-native",
      post: (text) => reactNative.postMessage(text),
      onReply: (receive) => {
        const listener = (event) => {
          if (isAppDispatched(event)) receive(event.data);
        };
        win.addEventListener("message", listener);
        doc.addEventListener("message", listener);
      },
    };
  }
  return null;
}

/**
 * True only for a "message" event the app dispatched into this page (React Native's
 * injectJavaScript / postMessage): script-made (`isTrusted` false), with no source window and
 * no origin. Every message another window or frame posts is trusted and carries its source and
 * origin, so no foreign frame can pass this check.
 */
export function isAppDispatched(event) {
  return (
    event != null &&
    event.isTrusted === false &&
    event.source === null &&
    event.origin === "" &&
    (!event.ports || event.ports.length === 0)
  );
}

/** A fresh request id for READY; the app must echo it in its reply. */
export function newRequestId() {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(18));
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The code in the app's reply `{"chatframe": 1, "type": "AUTH", "code", "request_id"}` (as JSON
 * text or, from iOS, an object), or null when anything is off: malformed, oversized, extra keys,
 * or a request id other than the one we are waiting for.
 * @param {unknown} data
 * @param {string | null} requestId
 */
export function parseBridgeReply(data, requestId) {
  if (typeof requestId !== "string" || !REQUEST_ID.test(requestId)) return null;
  let reply = data;
  if (typeof data === "string") {
    if (data.length > MAX_REPLY_BYTES) return null;
    try {
      reply = JSON.parse(data);
    } catch {
      return null;
    }
  }
  if (reply === null || typeof reply !== "object" || Array.isArray(reply)) return null;
  const proto = Object.getPrototypeOf(reply);
  if (proto !== Object.prototype && proto !== null) return null;
  const keys = Object.keys(reply).sort();
  if (keys.length !== REPLY_KEYS.length || keys.some((key, i) => key !== REPLY_KEYS[i])) {
    return null;
  }
  if (reply.chatframe !== 1 || reply.type !== "AUTH") return null;
  if (reply.request_id !== requestId) return null;
  return typeof reply.code === "string" && CODE.test(reply.code) ? reply.code : null;
}

/** The code a URL fragment carries (`#code=…`), or null when there is none or it is malformed. */
export function fragmentCode(hash) {
  if (typeof hash !== "string" || !hash.startsWith("#") || hash.length > 1024) return null;
  const code = new URLSearchParams(hash.slice(1)).get("code");
  return code && CODE.test(code) ? code : null;
}
