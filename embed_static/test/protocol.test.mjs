// Message validation: anything malformed, unknown, oversized or from the wrong side is ignored.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  MAX_MESSAGE_BYTES,
  isAllowedOrigin,
  makeMessage,
  originOf,
  parseMessage,
} from "../sdk/protocol.js";

const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const JKT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

test("valid messages parse to {type, ...fields} without the version key", () => {
  assert.deepEqual(parseMessage({ chatframe: 1, type: "HELLO" }, "toIframe"), { type: "HELLO" });
  const code = "a".repeat(43);
  assert.deepEqual(parseMessage({ chatframe: 1, type: "AUTH", code }, "toIframe"), { type: "AUTH", code });
  const ready = { chatframe: 1, type: "READY", code_challenge: CHALLENGE, code_challenge_method: "S256", dpop_jkt: JKT };
  assert.equal(parseMessage(ready, "toParent").type, "READY");
  const success = { chatframe: 1, type: "AUTH_SUCCESS", bots: [{ id: "bot_abc", name: "Billing" }], expires_at: 1790000000 };
  assert.deepEqual(parseMessage(success, "toParent").bots, [{ id: "bot_abc", name: "Billing" }]);
});

test("the unavailable state's messages: UNAVAILABLE to the iframe, RETRY to the page", () => {
  assert.deepEqual(parseMessage({ chatframe: 1, type: "UNAVAILABLE" }, "toIframe"), { type: "UNAVAILABLE" });
  assert.deepEqual(parseMessage({ chatframe: 1, type: "RETRY" }, "toParent"), { type: "RETRY" });
  assert.equal(parseMessage({ chatframe: 1, type: "UNAVAILABLE" }, "toParent"), null);
  assert.equal(parseMessage({ chatframe: 1, type: "RETRY" }, "toIframe"), null);
  assert.equal(parseMessage({ chatframe: 1, type: "RETRY", reason: "x" }, "toParent"), null);
});

test("messages for the other direction are ignored", () => {
  assert.equal(parseMessage({ chatframe: 1, type: "READY" }, "toIframe"), null);
  assert.equal(parseMessage({ chatframe: 1, type: "AUTH", code: "a".repeat(43) }, "toParent"), null);
});

test("wrong shapes are ignored", () => {
  const cases = [
    null, undefined, "HELLO", 42, [], ["HELLO"],
    '{"chatframe":1,"type":"HELLO"}',          // strings are never parsed as JSON
    { type: "HELLO" },                          // no version
    { chatframe: 2, type: "HELLO" },            // another version
    { chatframe: "1", type: "HELLO" },
    { chatframe: 1, type: "hello" },            // unknown type
    { chatframe: 1, type: "__proto__" },
    { chatframe: 1, type: "toString" },
    { chatframe: 1, type: "HELLO", extra: 1 },  // unexpected keys
    { chatframe: 1, type: "AUTH" },             // missing field
    { chatframe: 1, type: "AUTH", code: 123 },
    { chatframe: 1, type: "AUTH", code: "short" },
    { chatframe: 1, type: "AUTH", code: "<script>alert(1)</script>xxxxxxxxxx" },
    { chatframe: 1, type: "READY", code_challenge: CHALLENGE, code_challenge_method: "plain", dpop_jkt: JKT },
    { chatframe: 1, type: "RESIZE", height: -1 },
    { chatframe: 1, type: "RESIZE", height: 1.5 },
    { chatframe: 1, type: "RESIZE", height: "100" },
    { chatframe: 1, type: "AUTH_SUCCESS", bots: [{ id: "bot_1", name: "x", html: "<b>" }], expires_at: 1 },
    { chatframe: 1, type: "AUTH_SUCCESS", bots: [{ id: "javascript:alert(1)", name: "x" }], expires_at: 1 },
    { chatframe: 1, type: "AUTH_ERROR", error: "Bad Error", error_description: "x" },
  ];
  for (const data of cases) {
    const direction = ["READY", "RESIZE", "AUTH_SUCCESS", "AUTH_ERROR"].includes(data?.type) ? "toParent" : "toIframe";
    assert.equal(parseMessage(data, direction), null, JSON.stringify(data));
  }
});

test("objects that are not plain are ignored", () => {
  class Fake { constructor() { this.chatframe = 1; this.type = "HELLO"; } }
  assert.equal(parseMessage(new Fake(), "toIframe"), null);
  const withProto = Object.create({ chatframe: 1, type: "HELLO" });
  assert.equal(parseMessage(withProto, "toIframe"), null);
  const nullProto = Object.assign(Object.create(null), { chatframe: 1, type: "HELLO" });
  assert.deepEqual(parseMessage(nullProto, "toIframe"), { type: "HELLO" });
});

test("oversized and unserialisable messages are ignored", () => {
  const huge = { chatframe: 1, type: "AUTH_ERROR", error: "x", error_description: "y".repeat(MAX_MESSAGE_BYTES) };
  assert.equal(parseMessage(huge, "toParent"), null);
  const cyclic = { chatframe: 1, type: "HELLO" };
  cyclic.self = cyclic;
  assert.equal(parseMessage(cyclic, "toIframe"), null);
});

test("makeMessage refuses to build what the other side would reject", () => {
  assert.deepEqual(makeMessage("toIframe", "HELLO"), { chatframe: 1, type: "HELLO" });
  assert.throws(() => makeMessage("toIframe", "AUTH", { code: "" }), TypeError);
  assert.throws(() => makeMessage("toParent", "RESIZE", { height: 1e9 }), TypeError);
});

test("origins are compared exactly", () => {
  const allowed = ["https://app.example.com", "http://localhost:5001"];
  assert.equal(isAllowedOrigin("https://app.example.com", allowed), true);
  for (const origin of [
    "https://app.example.com/", "https://app.example.com.evil.example", "http://app.example.com",
    "https://APP.example.com", "null", "", undefined, "https://evil.example",
  ]) {
    assert.equal(isAllowedOrigin(origin, allowed), false, String(origin));
  }
  assert.equal(isAllowedOrigin("null", ["null"]), false);
});

test("originOf takes http(s) origins only", () => {
  assert.equal(originOf("https://chat.example.com/sdk/v1/chatframe.js"), "https://chat.example.com");
  assert.equal(originOf("http://127.0.0.1:8000/x?y#z"), "http://127.0.0.1:8000");
  assert.equal(originOf("file:///tmp/chatframe.js"), null);
  assert.equal(originOf("javascript:alert(1)"), null);
  assert.equal(originOf("not a url"), null);
});
