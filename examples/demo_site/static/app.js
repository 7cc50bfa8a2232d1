// Acme's page: mount the Chatframe chat; getCode asks Acme's own backend for an embed code.
const config = JSON.parse(document.getElementById("demo-config").textContent);
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const status = document.getElementById("chat-status");

const { Chatframe } = await import(`${config.chatframeUrl}/sdk/v1/chatframe.js`);

Chatframe.mount("#chat", {
  clientId: config.clientId,
  async getCode({ codeChallenge, codeChallengeMethod, dpopJkt, origin }) {
    const response = await fetch("/chatframe/code", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ codeChallenge, codeChallengeMethod, dpopJkt, origin }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || `backend answered ${response.status}`);
    return body.code;
  },
  onEvent(event) {
    if (event.type === "AUTH_SUCCESS") status.textContent = "";
    if (event.type === "ERROR" || event.type === "AUTH_ERROR") {
      status.textContent = `Chat unavailable: ${event.error_description}`;
    }
  },
});
