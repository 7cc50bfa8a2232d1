// The iframe's token session rides out a Chatframe outage instead of ending the chat.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createDpopKey } from "../iframe/dpop.js";
import { TokenSession } from "../iframe/session.js";

function answering(...answers) {
  const seen = [];
  globalThis.fetch = async (url, init) => {
    seen.push(new URLSearchParams(init.body).get("refresh_token"));
    const { status, body } = answers.shift();
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  };
  return seen;
}

async function liveSession() {
  let expired = false;
  const session = new TokenSession({
    issuer: "https://chat.example",
    clientId: "cf_test",
    key: await createDpopKey(),
    onExpired: () => {
      expired = true;
    },
  });
  session.tokens = { access_token: "a.b.c", refresh_token: "cfr_1", token_type: "DPoP", expires_in: 600 };
  session.expiresAt = session.now() + 600;
  return { session, expired: () => expired };
}

const UNAVAILABLE = { status: 503, body: { error: "temporarily_unavailable", error_description: "Try again in 2 seconds." } };
const FRESH = { status: 200, body: { access_token: "d.e.f", refresh_token: "cfr_2", token_type: "DPoP", expires_in: 600 } };

test("a 503 during a silent refresh is retried with the same refresh token, and the chat goes on", async () => {
  const seen = answering(UNAVAILABLE, FRESH);
  const { session, expired } = await liveSession();
  await session.refresh();
  assert.deepEqual(seen, ["cfr_1", "cfr_1"]);
  assert.equal(session.tokens.refresh_token, "cfr_2");
  assert.equal(expired(), false);
  session.end();
});

test("a refused refresh (invalid_grant) still ends the session at once", async () => {
  const seen = answering({ status: 400, body: { error: "invalid_grant", error_description: "Reused." } });
  const { session, expired } = await liveSession();
  await assert.rejects(session.refresh(), (error) => error.error === "invalid_grant");
  assert.deepEqual(seen, ["cfr_1"]);
  assert.equal(expired(), true);
});
