// The chat page: handshake through its transport (the host page's postMessage in the iframe,
// the app's bridge or URL fragment on the native page: HELLO → READY → AUTH), the token
// session, the chat. Nothing else is read from this page's URL; tokens live in memory only.

import { createDpopKey, createPkce } from "./dpop.js";
import { OAuthError, TokenSession } from "./session.js";
import { chooseTransport } from "./transport.js";
import { ChatView } from "./ui.js";

const config = JSON.parse(document.getElementById("chatframe-config").textContent);
const view = new ChatView();
const transport = chooseTransport(config);

let pending = null; // {pkce, key} between READY and AUTH
let session = null;
let chat = null;

function post(type, fields) {
  transport.send(type, fields);
}

if (transport.problem) view.setStatus(transport.problem, "error");
transport.listen((message) => handle(message).catch((error) => console.error("Chatframe:", error)));

async function handle(message) {
  if (message.type === "HELLO") {
    if (session && !session.ended) return; // already chatting; a late HELLO changes nothing
    view.hideUnavailable();
    pending ??= { pkce: await createPkce(), key: await createDpopKey() };
    post("READY", {
      code_challenge: pending.pkce.challenge,
      code_challenge_method: "S256",
      dpop_jkt: pending.key.jkt,
    });
  } else if (message.type === "AUTH" && message.unbound) {
    // Fragment mode: no READY, so no PKCE; this page's new key is bound at redemption.
    await authenticate(message.code, null, await createDpopKey());
  } else if (message.type === "AUTH") {
    if (!pending) return; // AUTH without our READY: ignore
    const { pkce, key } = pending;
    pending = null; // one code per challenge, whatever happens
    await authenticate(message.code, pkce, key);
  } else if (message.type === "LOGOUT") {
    pending = null;
    const ending = session;
    session = null;
    await ending?.revoke();
    chat?.stop();
    view.setComposerEnabled(false);
    view.setStatus("You are signed out of the chat.", "info");
  } else if (message.type === "UNAVAILABLE") {
    // the host page gave up getting a code; a late one for a live session changes nothing
    if (!session || session.ended) unavailable();
  }
}

/**
 * Show the end user the chat cannot start; "Try again" asks the host page (or the app) for a new
 * handshake. A one-time fragment code cannot be asked for again: no button then.
 */
function unavailable() {
  view.showUnavailable(transport.canReconnect ? () => post("RETRY") : null);
  resized();
}

async function authenticate(code, pkce, key) {
  view.setBusy(true);
  view.setStatus(session ? "Reconnecting…" : "Connecting…");
  const next = new TokenSession({
    issuer: config.issuer,
    clientId: config.clientId,
    key,
    onExpired: () => sessionExpired(next),
  });
  try {
    await next.redeem({ code, verifier: pkce?.verifier, origin: transport.origin });
    const bots = await loadBots(next);
    if (!bots.length) throw new OAuthError(403, "access_denied", "No bot is available to you.");
    session = next;
    post("AUTH_SUCCESS", {
      bots: bots.map(({ id, name }) => ({ id, name })),
      expires_at: Math.floor(next.expiresAt),
    });
    chat ??= new Chat(view, () => session);
    await chat.start(bots);
  } catch (error) {
    next.end();
    const oauth = error instanceof OAuthError ? error : new OAuthError(0, "network_error", "");
    unavailable();
    post("AUTH_ERROR", {
      error: /^[a-z_]{1,64}$/.test(oauth.error) ? oauth.error : "server_error",
      error_description: String(oauth.description || "Could not connect to Chatframe.").slice(0, 500),
    });
  } finally {
    view.setBusy(false);
  }
}

async function loadBots(tokenSession) {
  const bots = [];
  for (const id of tokenSession.bots) {
    bots.push(await tokenSession.api(`/chat/api/bots/${encodeURIComponent(id)}`));
  }
  return bots;
}

function sessionExpired(which) {
  if (session !== which) return;
  session = null;
  view.setComposerEnabled(false);
  view.setStatus(
    transport.canReconnect
      ? "Your chat session ended. Reconnecting…"
      : "Your chat session ended. Close the chat and open it again to continue.",
    "info",
  );
  post("SESSION_EXPIRED");
}

/** One chat at a time: the selected bot's latest conversation, paged history, sending. */
class Chat {
  constructor(chatView, currentSession) {
    this.view = chatView;
    this.session = currentSession;
    this.bots = [];
    this.bot = null;
    this.conversation = null;
    this.earliest = null;
    chatView.select.addEventListener("change", () => this.select(chatView.select.value));
    chatView.earlier.addEventListener("click", () => this.loadEarlier());
    chatView.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
  }

  async start(bots) {
    this.bots = bots;
    const keep = bots.find((b) => b.id === this.bot?.id) ?? bots[0];
    this.view.showBots(bots, keep.id);
    await this.select(keep.id);
  }

  stop() {
    this.conversation = null;
  }

  async select(botId) {
    const bot = this.bots.find((b) => b.id === botId);
    if (!bot) return;
    this.bot = bot;
    this.view.showBot(bot);
    this.view.clearMessages();
    this.view.setComposerEnabled(false);
    this.view.setStatus("Loading the conversation…");
    try {
      const api = this.session();
      const existing = await api.api(`/chat/api/bots/${bot.id}/conversations?limit=1`);
      this.conversation =
        existing.data[0] ??
        (await api.api(`/chat/api/bots/${bot.id}/conversations`, { method: "POST", json: {} }));
      const page = await api.api(`/chat/api/conversations/${this.conversation.id}/messages?limit=30`);
      if (this.bot !== bot) return; // the user switched bots meanwhile
      this.view.appendMessage({ role: "bot", text: bot.greeting, greeting: true });
      page.data.forEach((m) => this.view.appendMessage(m));
      this.earliest = page.next;
      this.view.showEarlierButton(Boolean(page.next));
      this.view.setStatus("");
      this.view.setComposerEnabled(true);
      this.view.input.focus({ preventScroll: true });
    } catch (error) {
      this.failed(error);
    }
    resized();
  }

  async loadEarlier() {
    if (!this.earliest || !this.conversation) return;
    try {
      const page = await this.session().api(
        `/chat/api/conversations/${this.conversation.id}/messages?limit=30&before=${this.earliest}`,
      );
      this.view.prependMessages(page.data);
      this.earliest = page.next;
      this.view.showEarlierButton(Boolean(page.next));
    } catch (error) {
      this.failed(error);
    }
  }

  async send() {
    const text = this.view.input.value.trim();
    if (!text || !this.conversation || this.view.input.disabled) return;
    this.view.input.value = "";
    this.view.autosize();
    const mine = this.view.appendMessage({ role: "user", text, pending: true });
    this.view.setTyping(true);
    const started = Date.now();
    try {
      const reply = await this.session().api(
        `/chat/api/conversations/${this.conversation.id}/messages`,
        { method: "POST", json: { text } },
      );
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 350 - (Date.now() - started))));
      mine.classList.remove("pending");
      mine.dataset.id = reply.user_message.id;
      this.view.setTyping(false);
      this.view.appendMessage(reply.bot_message);
    } catch (error) {
      this.view.setTyping(false);
      mine.classList.replace("pending", "failed");
      if (!this.view.input.value) this.view.input.value = text; // nothing typed is lost
      this.failed(error);
    }
    resized();
  }

  failed(error) {
    if (error instanceof OAuthError && error.status === 403) {
      this.view.setStatus(`${this.bot?.name ?? "This bot"} is no longer available to you.`, "error");
      this.view.setComposerEnabled(false);
    } else if (error instanceof OAuthError && error.status === 401) {
      this.view.setStatus("Your chat session ended. Reconnecting…", "info");
    } else {
      this.view.setStatus("Something went wrong. Please try again.", "error");
    }
  }
}

let lastHeight = 0;
function resized() {
  requestAnimationFrame(() => {
    const height = view.preferredHeight();
    if (Math.abs(height - lastHeight) >= 8) {
      lastHeight = height;
      post("RESIZE", { height });
    }
  });
}
new ResizeObserver(resized).observe(view.list);
