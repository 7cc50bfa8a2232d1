// How the chat page gets its embed code: the handshake transport main.js talks through.
//
// Every transport has `origin` (what the code is bound to), `canReconnect`, `problem` (a
// sentence for the user when there is no way to get a code), `listen(handler)` (handler gets
// HELLO / AUTH {code, unbound?} / LOGOUT) and `send(type, fields)` (READY, AUTH_SUCCESS, …).

import { isAllowedOrigin, makeMessage, parseMessage } from "/sdk/v1/protocol.js";
import { findBridge, fragmentCode, newRequestId, parseBridgeReply } from "./bridge.js";

/** The iframe on a customer's page: postMessage with the parent at an allowed origin. */
export class ParentTransport {
  constructor(allowedOrigins) {
    this.allowedOrigins = allowedOrigins;
    this.origin = null; // fixed by the first valid HELLO
    this.canReconnect = true;
    this.problem = null;
  }

  listen(handler) {
    window.addEventListener("message", (event) => {
      if (window.parent === window || event.source !== window.parent) return;
      if (!isAllowedOrigin(event.origin, this.allowedOrigins)) return;
      if (this.origin !== null && event.origin !== this.origin) return;
      const message = parseMessage(event.data, "toIframe");
      if (!message) return;
      if (message.type === "HELLO") this.origin = event.origin;
      handler(message);
    });
  }

  send(type, fields) {
    if (this.origin) window.parent.postMessage(makeMessage("toParent", type, fields), this.origin);
  }
}

/** The native page in an app's WebView: READY to the app's bridge, AUTH only as its reply. */
export class NativeBridgeTransport {
  constructor(bridge, origin) {
    this.bridge = bridge;
    this.origin = origin;
    this.canReconnect = true;
    this.problem = null;
    this.handler = () => {};
    this.requestId = null; // the READY we are waiting on
  }

  listen(handler) {
    this.handler = handler;
    this.bridge.onReply((data) => this.received(data));
    queueMicrotask(() => handler({ type: "HELLO" })); // the app is always there: start now
  }

  send(type, fields = {}) {
    if (type === "RESIZE") return; // a top-level page sizes itself
    const message = makeMessage("toParent", type, fields);
    if (type === "READY") {
      this.requestId = newRequestId();
      message.request_id = this.requestId;
    }
    let reply;
    try {
      reply = this.bridge.post(JSON.stringify(message));
    } catch (error) {
      console.error("Chatframe: the app's bridge refused a message:", error);
      return;
    }
    if (reply && typeof reply.then === "function") {
      Promise.resolve(reply).then(
        (data) => this.received(data),
        () => {},
      );
    }
    // A session ended, or the end user pressed "Try again": ask the app again (a fresh READY).
    if (type === "SESSION_EXPIRED" || type === "RETRY") this.handler({ type: "HELLO" });
  }

  received(data) {
    const code = parseBridgeReply(data, this.requestId);
    if (!code) return;
    this.requestId = null; // one answer per READY
    this.handler({ type: "AUTH", code });
  }
}

/** The weaker fallback: one code from the URL fragment, not bound to this page's keys. */
export class FragmentTransport {
  constructor(code, origin) {
    this.code = code;
    this.origin = origin;
    this.canReconnect = false;
    this.problem = null;
  }

  listen(handler) {
    const code = this.code;
    this.code = null;
    queueMicrotask(() => handler({ type: "AUTH", code, unbound: true }));
  }

  send() {}
}

/** No way to get a code: the page says why and does nothing else. */
export class UnavailableTransport {
  constructor(problem) {
    this.origin = null;
    this.canReconnect = false;
    this.problem = problem;
  }

  listen() {}

  send() {}
}

/** The transport for this page, from its config (and, for the native page, the app). */
export function chooseTransport(config) {
  if (config.mode !== "native") return new ParentTransport(config.allowedOrigins);
  const hash = typeof window.chatframeTakeFragment === "function" ? window.chatframeTakeFragment() : "";
  if (hash) {
    const code = fragmentCode(hash);
    if (!config.fragment) {
      return new UnavailableTransport(
        "This app opened the chat with a code in its address, which this chat does not accept.",
      );
    }
    if (!code) return new UnavailableTransport("The chat link from the app is not valid.");
    return new FragmentTransport(code, config.nativeOrigin);
  }
  const bridge = findBridge(window, document);
  if (bridge) return new NativeBridgeTransport(bridge, config.nativeOrigin);
  return new UnavailableTransport("Open this chat from the app: it could not reach the app.");
}
