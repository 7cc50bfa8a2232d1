// Chatframe host-page SDK: mounts the chat iframe and runs the handshake with it.
//
//   <script src="https://chat.example.com/sdk/v1/chatframe.js"></script>   (window.Chatframe)
//   import { Chatframe } from "https://chat.example.com/sdk/v1/chatframe.js";
//   const chat = Chatframe.mount("#chat", { clientId: "cf_…", getCode: async (request) => … });
//
// This file is the ES-module source; chatapp/sdk_bundle.py serves it with protocol.js inlined,
// as a module or as a classic script (which finds its own URL in document.currentScript).
//
// Your getCode asks YOUR backend for a one-time embed code (token exchange with your client
// secret, which never reaches the browser). The code is useless outside the iframe that made
// its PKCE challenge and DPoP key.

import { makeMessage, originOf, parseMessage } from "./protocol.js";

const CLIENT_ID = /^cf_[A-Za-z0-9]{1,37}$/;
const HELLO_INTERVAL_MS = 250;
const READY_TIMEOUT_MS = 10000;
const GET_CODE_RETRIES = [1000, 2000, 4000];
const MIN_HEIGHT = 320;
const MAX_HEIGHT = 900;

/** Chatframe's origin: where this SDK file was loaded from. */
export const CHATFRAME_ORIGIN = originOf(import.meta.url);

/**
 * Accept a message event only from our own iframe window and Chatframe's exact origin.
 * Returns the validated message ({type, ...}) or null.
 */
export function acceptMessage(event, { iframeWindow, chatframeOrigin }) {
  if (!event || event.source !== iframeWindow || event.origin !== chatframeOrigin) return null;
  return parseMessage(event.data, "toParent");
}

/** The embed URL for a client (no user, bot or token data: only the public client_id). */
export function embedUrl(chatframeOrigin, clientId) {
  return `${chatframeOrigin}/embed/${encodeURIComponent(clientId)}`;
}

/** Clamp a RESIZE height to what a page can sensibly show. */
export function clampHeight(height) {
  return Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, Math.round(height)));
}

/**
 * What to tell the developer when the page's own Content-Security-Policy blocked the chat
 * iframe (a `securitypolicyviolation` event), or null when the violation is not about it.
 */
export function frameBlockedMessage(violation, chatframeOrigin) {
  const directive = String(violation?.effectiveDirective || violation?.violatedDirective || "").split(" ")[0];
  if (!["frame-src", "child-src", "default-src"].includes(directive)) return null;
  const blocked = String(violation?.blockedURI ?? "");
  if (originOf(blocked) !== chatframeOrigin) return null;
  // The status check is a fetch: a policy that refuses it (connect-src, or default-src in
  // browsers that name only the fallback) says nothing about the frame.
  if (/\/status$/.test(new URL(blocked).pathname)) return null;
  return (
    `this page's Content-Security-Policy (${directive}) blocked the chat iframe: ` +
    `add ${chatframeOrigin} to the frame-src directive of your page's Content-Security-Policy.`
  );
}

/** What to tell the developer when the iframe never answered HELLO (and Chatframe sees no reason). */
export function silenceMessage(chatframeOrigin) {
  return (
    `the chat iframe did not answer. If this page has a Content-Security-Policy, add ` +
    `${chatframeOrigin} to its frame-src; check the browser console for a refused frame.`
  );
}

/**
 * What to tell the developer when the iframe never answered and Chatframe could not be asked
 * why (network trouble, or a Content-Security-Policy whose connect-src leaves Chatframe out).
 */
export function unreachableMessage(chatframeOrigin, pageOrigin) {
  return (
    `the chat iframe did not answer and ${chatframeOrigin} could not be reached for the reason. ` +
    `Check that this browser reaches ${chatframeOrigin}, that ${pageOrigin} is one of the ` +
    `client's allowed origins in the Chatframe console, and, if this page has a ` +
    `Content-Security-Policy, that its frame-src allows ${chatframeOrigin}.`
  );
}

/** Check mount() options; throws a TypeError that says what to fix. */
export function checkOptions(options) {
  if (!options || typeof options !== "object") {
    throw new TypeError("Chatframe.mount(target, {clientId, getCode}) needs an options object.");
  }
  if (typeof options.clientId !== "string" || !CLIENT_ID.test(options.clientId)) {
    throw new TypeError(
      `Chatframe: clientId must be your client id ("cf_…"), got ${JSON.stringify(options.clientId)}.`,
    );
  }
  if (typeof options.getCode !== "function") {
    throw new TypeError("Chatframe: getCode must be a function that returns a code from your backend.");
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== "function") {
    throw new TypeError("Chatframe: onEvent, when given, must be a function.");
  }
}

function resolveTarget(target, doc) {
  const element = typeof target === "string" ? doc.querySelector(target) : target;
  if (!element || typeof element.appendChild !== "function") {
    throw new TypeError(`Chatframe: mount target ${String(target)} was not found in the page.`);
  }
  return element;
}

function mount(target, options) {
  checkOptions(options);
  const doc = globalThis.document;
  const element = resolveTarget(target, doc);
  const chatframeOrigin = CHATFRAME_ORIGIN;
  const pageOrigin = globalThis.location.origin;
  const { clientId, getCode, onEvent = () => {} } = options;

  const iframe = doc.createElement("iframe");
  iframe.src = embedUrl(chatframeOrigin, clientId);
  iframe.title = "Chat";
  iframe.setAttribute("referrerpolicy", "origin");
  iframe.style.cssText = "width:100%;border:0;display:block;color-scheme:normal";
  iframe.style.height = `${clampHeight(480)}px`;

  let state = "idle"; // idle → hello → code → auth → ready ; stopped ; destroyed
  let helloTimer = null;
  let helloDeadline = 0;
  let attempt = 0;

  const emit = (message) => {
    try {
      onEvent(message);
    } catch (error) {
      console.error("Chatframe: your onEvent handler threw:", error);
    }
  };
  const fail = (error, description) => {
    console.error(`Chatframe: ${description}`);
    emit({ type: "ERROR", error, error_description: description });
  };
  const send = (type, fields) => {
    iframe.contentWindow?.postMessage(makeMessage("toIframe", type, fields), chatframeOrigin);
  };

  function hello() {
    if (state === "destroyed" || state === "stopped") return;
    state = "hello";
    clearInterval(helloTimer);
    helloDeadline = Date.now() + READY_TIMEOUT_MS;
    send("HELLO");
    helloTimer = setInterval(() => {
      if (state !== "hello") return clearInterval(helloTimer);
      if (Date.now() > helloDeadline) {
        clearInterval(helloTimer);
        state = "idle";
        explainSilence();
        return;
      }
      send("HELLO");
    }, HELLO_INTERVAL_MS);
  }

  /**
   * Why this page cannot embed the chat, asked of Chatframe: [error, description], or null
   * when Chatframe sees no problem, or undefined when Chatframe could not be asked.
   */
  async function embedProblem() {
    let status;
    try {
      const response = await fetch(`${chatframeOrigin}/embed/${encodeURIComponent(clientId)}/status`, {
        credentials: "omit",
      });
      if (!response.ok) return undefined;
      status = await response.json();
    } catch {
      return undefined;
    }
    if (!status.client) {
      return [
        "iframe_unavailable",
        `client ${clientId} does not exist or is disabled; check the clientId in your page and the client in the Chatframe console.`,
      ];
    }
    if (!status.origin_allowed) {
      return [
        "origin_not_allowed",
        `origin ${pageOrigin} is not registered for client ${clientId}; add it to the client's allowed origins in the Chatframe console.`,
      ];
    }
    return null;
  }

  async function explainSilence() {
    const problem = await embedProblem();
    if (problem === undefined) {
      fail("iframe_unavailable", unreachableMessage(chatframeOrigin, pageOrigin));
    } else {
      fail(...(problem ?? ["iframe_unavailable", silenceMessage(chatframeOrigin)]));
    }
  }

  /** A problem no retry can fix: report it once and stop the handshake for good. */
  function stop(problem) {
    if (["stopped", "ready", "destroyed"].includes(state)) return;
    state = "stopped";
    clearInterval(helloTimer);
    fail(...problem);
  }

  async function requestCode(ready) {
    state = "code";
    let code;
    try {
      code = await getCode({
        codeChallenge: ready.code_challenge,
        codeChallengeMethod: ready.code_challenge_method,
        dpopJkt: ready.dpop_jkt,
        origin: pageOrigin,
      });
    } catch (error) {
      return retryCode(`getCode threw: ${error?.message ?? error}`);
    }
    if (state !== "code") return;
    if (typeof code !== "string" || !code) {
      return retryCode("getCode returned no code (it must return the code string from your backend).");
    }
    try {
      send("AUTH", { code });
    } catch {
      return retryCode(
        "getCode returned something that is not an embed code (it must return the access_token of your backend's token exchange).",
      );
    }
    attempt = 0;
    state = "auth";
  }

  function retryCode(description) {
    fail("get_code_failed", description);
    if (state === "destroyed") return;
    if (attempt < GET_CODE_RETRIES.length) {
      setTimeout(hello, GET_CODE_RETRIES[attempt++]);
    } else {
      state = "idle"; // out of retries: the user sees it, and may try again from the iframe
      send("UNAVAILABLE");
    }
  }

  function onMessage(event) {
    const message = acceptMessage(event, { iframeWindow: iframe.contentWindow, chatframeOrigin });
    if (!message || state === "destroyed") return;
    if (message.type === "READY") {
      // a late READY for a handshake already under way starts nothing new
      if (state === "hello") requestCode(message);
    } else if (message.type === "RESIZE") {
      iframe.style.height = `${clampHeight(message.height)}px`;
    } else if (message.type === "AUTH_SUCCESS") {
      state = "ready";
    } else if (message.type === "AUTH_ERROR") {
      state = "idle";
      console.error(`Chatframe: the chat could not start: ${message.error}: ${message.error_description}`);
    } else if (message.type === "SESSION_EXPIRED") {
      hello(); // a new handshake, by itself: getCode is called again
    } else if (message.type === "RETRY") {
      // the user pressed "Try again" in the iframe: a fresh handshake with fresh retries
      if (state === "idle") {
        attempt = 0;
        hello();
      }
    }
    emit(message);
  }

  function onPolicyViolation(event) {
    const description = frameBlockedMessage(event, chatframeOrigin);
    if (description) stop(["frame_blocked_by_csp", description]);
  }

  globalThis.addEventListener("message", onMessage);
  doc.addEventListener("securitypolicyviolation", onPolicyViolation);
  // The status check only sharpens error messages. Only a definite answer (unknown client,
  // unregistered origin: the frame cannot start either way) stops the handshake; a check that
  // could not be made (say, a connect-src policy without Chatframe) counts as "unknown" and
  // the handshake goes on.
  embedProblem().then((problem) => {
    if (problem) stop(problem);
  });
  iframe.addEventListener("load", () => {
    if (state === "idle") hello();
  });
  element.appendChild(iframe);

  return {
    /** Sign the user out of the chat: the iframe revokes its session. */
    logout() {
      if (state !== "destroyed") send("LOGOUT");
      state = "idle";
    },
    /** Remove the iframe and stop listening. */
    destroy() {
      state = "destroyed";
      clearInterval(helloTimer);
      globalThis.removeEventListener("message", onMessage);
      doc.removeEventListener("securitypolicyviolation", onPolicyViolation);
      iframe.remove();
    },
  };
}

export const Chatframe = Object.freeze({ version: "1", mount });

if (typeof window !== "undefined" && !window.Chatframe) {
  window.Chatframe = Chatframe; // for pages that use a classic script after the module loads
}
