"""Copy-paste snippets for the Install page, filled in with a client's id, origin and our issuer."""

from __future__ import annotations

from dataclasses import dataclass

PAGE_SCRIPT = """\
<div id="chat"></div>
<script type="module">
  import { Chatframe } from "%%ISSUER%%/sdk/v1/chatframe.js";
  Chatframe.mount("#chat", {
    clientId: "%%CLIENT_ID%%",
    async getCode({ codeChallenge, codeChallengeMethod, dpopJkt, origin }) {
      const response = await fetch("/chatframe/code", {   // your backend endpoint
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ codeChallenge, codeChallengeMethod, dpopJkt, origin }),
      });
      return (await response.json()).code;
    },
  });
</script>
"""

CURL = """\
# Sample values; your backend gets them from the page script's getCode call.
USER_ID=alice   # your signed-in user's id
CODE_CHALLENGE=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
DPOP_JKT=NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs

curl -s %%ISSUER%%/oauth/token \\
  -u "%%CLIENT_ID%%:$CHATFRAME_CLIENT_SECRET" \\
  -d grant_type=urn:ietf:params:oauth:grant-type:token-exchange \\
  --data-urlencode "subject_token=$USER_ID" \\
  -d subject_token_type=urn:chatframe:token-type:partner-user-id \\
  --data-urlencode "scope=chat bot:%%BOT_ID%%" \\
  --data-urlencode "origin=%%ORIGIN%%" \\
  -d code_challenge="$CODE_CHALLENGE" -d code_challenge_method=S256 \\
  -d dpop_jkt="$DPOP_JKT"
"""

PYTHON = """\
import os

import requests

CHATFRAME = "%%ISSUER%%"
CLIENT_ID = "%%CLIENT_ID%%"
ORIGIN = "%%ORIGIN%%"  # the page that embeds the chat


def embed_code(
    user_id: str, bot_ids: list[str], code_challenge: str, dpop_jkt: str, origin: str = ORIGIN
) -> str:
    \"\"\"Ask Chatframe for a one-time embed code for our signed-in user.\"\"\"
    response = requests.post(
        f"{CHATFRAME}/oauth/token",
        auth=(CLIENT_ID, os.environ["CHATFRAME_CLIENT_SECRET"]),
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": user_id,
            "subject_token_type": "urn:chatframe:token-type:partner-user-id",
            "scope": " ".join(["chat"] + [f"bot:{bot_id}" for bot_id in bot_ids]),
            "origin": origin,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
            "dpop_jkt": dpop_jkt,
        },
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["access_token"]


# In your POST /chatframe/code handler, after your own sign-in check:
#   body = request.get_json()
#   code = embed_code(
#       user.id, ["%%BOT_ID%%"], body["codeChallenge"], body["dpopJkt"], body["origin"]
#   )
#   return {"code": code}
"""

NODE = """\
const CHATFRAME = "%%ISSUER%%";
const CLIENT_ID = "%%CLIENT_ID%%";
const ORIGIN = "%%ORIGIN%%"; // the page that embeds the chat

// Ask Chatframe for a one-time embed code for our signed-in user (Node 18+).
export async function embedCode(userId, botIds, { codeChallenge, dpopJkt, origin = ORIGIN }) {
  const credentials = Buffer.from(
    `${CLIENT_ID}:${process.env.CHATFRAME_CLIENT_SECRET}`,
  ).toString("base64");
  const response = await fetch(`${CHATFRAME}/oauth/token`, {
    method: "POST",
    headers: { Authorization: `Basic ${credentials}` },
    body: new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: userId,
      subject_token_type: "urn:chatframe:token-type:partner-user-id",
      scope: ["chat", ...botIds.map((botId) => `bot:${botId}`)].join(" "),
      origin,
      code_challenge: codeChallenge,
      code_challenge_method: "S256",
      dpop_jkt: dpopJkt,
    }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`Chatframe: ${body.error}: ${body.error_description}`);
  return body.access_token;
}

// In your POST /chatframe/code handler, after your own sign-in check:
//   res.json({ code: await embedCode(req.user.id, ["%%BOT_ID%%"], req.body) });
"""


@dataclass(frozen=True)
class Snippets:
    page_script: str
    curl: str
    python: str
    node: str


def snippets(issuer: str, client_id: str, origin: str, bot_id: str | None) -> Snippets:
    """Every snippet, filled in (``$BOT_ID`` stands in until the customer has a bot)."""
    # %%NAME%% placeholders: JavaScript's ${NAME} and Python's {name} stay untouched.
    values = {
        "%%ISSUER%%": issuer,
        "%%CLIENT_ID%%": client_id,
        "%%ORIGIN%%": origin,
        "%%BOT_ID%%": bot_id or "$BOT_ID",
    }

    def fill(template: str) -> str:
        for placeholder, value in values.items():
            template = template.replace(placeholder, value)
        return template

    return Snippets(fill(PAGE_SCRIPT), fill(CURL), fill(PYTHON), fill(NODE))
