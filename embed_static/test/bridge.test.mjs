// The native bridges: which one the app installed, and which replies count as the app's.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  MAX_REPLY_BYTES,
  findBridge,
  fragmentCode,
  isAppDispatched,
  newRequestId,
  parseBridgeReply,
} from "../iframe/bridge.js";

const CODE = "c".repeat(43);
const ID = "r".repeat(24);
const reply = (fields = {}) => ({ chatframe: 1, type: "AUTH", code: CODE, request_id: ID, ...fields });
const fakeDoc = () => ({ addEventListener() {} });

test("the app's reply gives its code, as JSON text or (iOS) an object", () => {
  assert.equal(parseBridgeReply(JSON.stringify(reply()), ID), CODE);
  assert.equal(parseBridgeReply(reply(), ID), CODE);
});

test("a reply to another request, or with no request pending, gives nothing", () => {
  assert.equal(parseBridgeReply(reply({ request_id: "x".repeat(24) }), ID), null);
  assert.equal(parseBridgeReply(reply(), null), null);
  const { request_id: _, ...withoutId } = reply();
  assert.equal(parseBridgeReply(withoutId, ID), null);
});

test("malformed, oversized or padded replies give nothing", () => {
  for (const bad of [
    null,
    undefined,
    42,
    "not json",
    "[]",
    [reply()],
    reply({ type: "HELLO" }),
    reply({ chatframe: 2 }),
    reply({ code: "short" }),
    reply({ code: "has spaces in it and is long enough" }),
    reply({ extra: true }),
    JSON.stringify(reply({ code: "a".repeat(MAX_REPLY_BYTES) })),
    Object.assign(Object.create({ inherited: 1 }), reply()),
  ]) {
    assert.equal(parseBridgeReply(bad, ID), null, JSON.stringify(bad));
  }
});

test("only a script-made event with no source and no origin is the app's", () => {
  assert.equal(isAppDispatched({ isTrusted: false, source: null, origin: "", ports: [] }), true);
  const framePosted = { isTrusted: true, source: {}, origin: "https://evil.example", ports: [] };
  assert.equal(isAppDispatched(framePosted), false);
  assert.equal(isAppDispatched({ ...framePosted, isTrusted: false }), false);
  assert.equal(isAppDispatched({ isTrusted: false, source: null, origin: "null", ports: [] }), false);
  assert.equal(isAppDispatched({ isTrusted: true, source: null, origin: "", ports: [] }), false);
  assert.equal(isAppDispatched(null), false);
});

test("the bridge is found by shape: iOS, then Android, then React Native", () => {
  const ios = { webkit: { messageHandlers: { chatframe: { postMessage: () => "ios" } } } };
  const android = { chatframe: { postMessage: () => "android", addEventListener() {} } };
  const rn = { ReactNativeWebView: { postMessage: () => "rn" }, addEventListener() {} };
  assert.equal(findBridge(ios, fakeDoc()).kind, "ios");
  assert.equal(findBridge(android, fakeDoc()).kind, "android");
  assert.equal(findBridge(rn, fakeDoc()).kind, "react-native");
  assert.equal(findBridge({ ...rn, ...android, ...ios }, fakeDoc()).kind, "ios");
  assert.equal(findBridge({ chatframe: {} }, fakeDoc()), null);
  assert.equal(findBridge({}, fakeDoc()), null);
});

test("the fragment gives a well-formed code only", () => {
  assert.equal(fragmentCode(`#code=${CODE}`), CODE);
  assert.equal(fragmentCode(`#x=1&code=${CODE}`), CODE);
  assert.equal(fragmentCode(`?code=${CODE}`), null);
  assert.equal(fragmentCode("#code=<script>"), null);
  assert.equal(fragmentCode(""), null);
});

test("request ids are fresh and well-formed", () => {
  const a = newRequestId();
  assert.match(a, /^[A-Za-z0-9_-]{24}$/);
  assert.notEqual(a, newRequestId());
  assert.equal(parseBridgeReply(reply({ request_id: a }), a), CODE);
});
