// The chat view: renders bots, messages and states into the embed page's DOM.
// Text is only ever set with textContent: messages are plain text, never HTML.

const HEX_COLOUR = /^#[0-9a-fA-F]{6}$/;

export class ChatView {
  constructor(doc = document) {
    this.doc = doc;
    const $ = (id) => doc.getElementById(id);
    this.root = $("chat");
    this.name = $("bot-name");
    this.subtitle = $("bot-subtitle");
    this.picker = $("picker");
    this.select = $("bot-picker");
    this.status = $("status");
    this.log = $("log");
    this.list = $("messages");
    this.earlier = $("load-earlier");
    this.typing = $("typing");
    this.form = $("composer");
    this.input = $("message");
    this.send = $("send");
    this.input.addEventListener("input", () => this.autosize());
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
  }

  /** A status line: `kind` is "info", "error" or "" (hidden). */
  setStatus(text, kind = "info") {
    this.status.hidden = !text;
    this.status.textContent = text || "";
    this.status.dataset.kind = kind;
  }

  /**
   * The end user's "unavailable" state: the chat could not start (the host page's getCode kept
   * failing, or Chatframe refused the code). Whatever transport runs the handshake (postMessage
   * with a host page, a native bridge) passes `onRetry`; the developer's details go elsewhere.
   * Without `onRetry` (a one-time fragment code) there is no "Try again", only what to do.
   */
  showUnavailable(onRetry) {
    this.hideUnavailable();
    const panel = this.doc.createElement("div");
    panel.id = "unavailable";
    panel.className = "unavailable";
    panel.setAttribute("role", "alert");
    const text = this.doc.createElement("p");
    text.textContent = "Chat is unavailable right now.";
    panel.append(text);
    if (onRetry) {
      const retry = this.doc.createElement("button");
      retry.type = "button";
      retry.id = "retry";
      retry.textContent = "Try again";
      retry.addEventListener("click", () => {
        retry.disabled = true;
        retry.textContent = "Connecting…";
        onRetry();
      });
      panel.append(retry);
    } else {
      text.textContent += " Close the chat and open it again.";
    }
    this.setStatus("");
    this.setComposerEnabled(false);
    this.subtitle.textContent = "Unavailable";
    this.root.insertBefore(panel, this.log);
  }

  hideUnavailable() {
    const panel = this.doc.getElementById("unavailable");
    if (!panel) return;
    panel.remove();
    this.subtitle.textContent = "Connecting…";
  }

  setBusy(busy) {
    this.root.setAttribute("aria-busy", busy ? "true" : "false");
  }

  setComposerEnabled(enabled) {
    this.input.disabled = !enabled;
    this.send.disabled = !enabled;
  }

  /** The bot picker, shown only when the session holds more than one bot. */
  showBots(bots, selectedId) {
    this.select.replaceChildren(
      ...bots.map((bot) => {
        const option = this.doc.createElement("option");
        option.value = bot.id;
        option.textContent = bot.name;
        option.selected = bot.id === selectedId;
        return option;
      }),
    );
    this.picker.hidden = bots.length < 2;
  }

  showBot(bot) {
    this.name.textContent = bot.name;
    this.subtitle.textContent = "Online";
    const accent = bot.appearance?.accent;
    if (typeof accent === "string" && HEX_COLOUR.test(accent)) {
      this.root.style.setProperty("--accent", accent);
    } else {
      this.root.style.removeProperty("--accent");
    }
  }

  clearMessages() {
    this.list.replaceChildren();
  }

  messageNode(message) {
    const item = this.doc.createElement("li");
    item.className = `message ${message.role === "user" ? "from-user" : "from-bot"}`;
    if (message.id) item.dataset.id = message.id;
    const who = this.doc.createElement("span");
    who.className = "visually-hidden";
    who.textContent = message.role === "user" ? "You said: " : `${this.name.textContent} said: `;
    const bubble = this.doc.createElement("p");
    bubble.className = "bubble";
    bubble.textContent = message.text;
    item.append(who, bubble);
    if (message.greeting) item.classList.add("greeting");
    if (message.pending) item.classList.add("pending");
    if (message.failed) item.classList.add("failed");
    return item;
  }

  appendMessage(message) {
    const node = this.messageNode(message);
    this.list.append(node);
    this.scrollToEnd();
    return node;
  }

  prependMessages(messages) {
    const before = this.log.scrollHeight;
    const fragment = this.doc.createDocumentFragment();
    fragment.append(...messages.map((m) => this.messageNode(m)));
    const greeting = this.list.querySelector(".greeting");
    this.list.insertBefore(fragment, greeting ? greeting.nextSibling : this.list.firstChild);
    this.log.scrollTop += this.log.scrollHeight - before; // keep the reader's place
  }

  showEarlierButton(visible) {
    this.earlier.hidden = !visible;
  }

  setTyping(on) {
    this.typing.hidden = !on;
    if (on) this.scrollToEnd();
  }

  scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 140)}px`;
  }

  /** The height the chat would like: content plus chrome, within sensible bounds. */
  preferredHeight() {
    const chrome =
      this.root.querySelector(".chat-header").offsetHeight +
      this.form.offsetHeight +
      (this.status.hidden ? 0 : this.status.offsetHeight);
    return Math.round(Math.min(640, Math.max(380, chrome + this.list.scrollHeight + 48)));
  }
}
