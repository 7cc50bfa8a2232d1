// The SDK's origin logic and option checks.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  acceptMessage,
  checkOptions,
  clampHeight,
  embedUrl,
  frameBlockedMessage,
  silenceMessage,
  unreachableMessage,
} from "../sdk/chatframe.js";

const iframeWindow = {};
const chatframeOrigin = "https://chat.example.com";
const hello = { chatframe: 1, type: "RESIZE", height: 500 };

test("messages are accepted only from our iframe at Chatframe's exact origin", () => {
  const ok = acceptMessage({ source: iframeWindow, origin: chatframeOrigin, data: hello }, { iframeWindow, chatframeOrigin });
  assert.deepEqual(ok, { type: "RESIZE", height: 500 });
  const otherWindow = acceptMessage({ source: {}, origin: chatframeOrigin, data: hello }, { iframeWindow, chatframeOrigin });
  assert.equal(otherWindow, null);
  for (const origin of ["https://chat.example.com.evil.example", "http://chat.example.com", "null", "https://evil.example"]) {
    assert.equal(acceptMessage({ source: iframeWindow, origin, data: hello }, { iframeWindow, chatframeOrigin }), null, origin);
  }
  assert.equal(acceptMessage(null, { iframeWindow, chatframeOrigin }), null);
});

test("messages meant for the iframe are not accepted by the page", () => {
  const auth = { chatframe: 1, type: "AUTH", code: "a".repeat(43) };
  assert.equal(acceptMessage({ source: iframeWindow, origin: chatframeOrigin, data: auth }, { iframeWindow, chatframeOrigin }), null);
});

test("the embed URL carries only the public client id", () => {
  assert.equal(embedUrl("https://chat.example.com", "cf_abc123"), "https://chat.example.com/embed/cf_abc123");
  assert.equal(embedUrl("https://c.example", "cf_a/../x?y"), "https://c.example/embed/cf_a%2F..%2Fx%3Fy");
});

test("resize heights are clamped", () => {
  assert.equal(clampHeight(10), 320);
  assert.equal(clampHeight(500.4), 500);
  assert.equal(clampHeight(10000), 900);
});

test("mount options are checked with actionable messages", () => {
  const getCode = () => "code";
  assert.doesNotThrow(() => checkOptions({ clientId: "cf_abc", getCode }));
  assert.throws(() => checkOptions(undefined), /needs an options object/);
  assert.throws(() => checkOptions({ clientId: "abc", getCode }), /clientId must be your client id/);
  assert.throws(() => checkOptions({ clientId: "cf_abc" }), /getCode must be a function/);
  assert.throws(() => checkOptions({ clientId: "cf_abc", getCode, onEvent: "x" }), /onEvent/);
});

test("a host-page CSP that blocks the chat iframe is explained with the fix", () => {
  const blocked = { effectiveDirective: "frame-src", blockedURI: `${chatframeOrigin}/embed/cf_abc` };
  const message = frameBlockedMessage(blocked, chatframeOrigin);
  assert.match(message, /Content-Security-Policy \(frame-src\) blocked the chat iframe/);
  assert.match(message, /add https:\/\/chat\.example\.com to the frame-src directive/);
  assert.match(
    frameBlockedMessage({ violatedDirective: "child-src", blockedURI: chatframeOrigin }, chatframeOrigin),
    /\(child-src\)/,
  );
});

test("other policy violations are not blamed on the chat frame", () => {
  const cases = [
    { effectiveDirective: "frame-src", blockedURI: "https://ads.example/frame" },
    { effectiveDirective: "frame-src", blockedURI: "https://chat.example.com.evil.example/embed" },
    { effectiveDirective: "img-src", blockedURI: `${chatframeOrigin}/logo.png` },
    { effectiveDirective: "script-src", blockedURI: "inline" },
    { effectiveDirective: "frame-src-elem", blockedURI: chatframeOrigin },
    { effectiveDirective: "connect-src", blockedURI: `${chatframeOrigin}/embed/cf_abc/status` },
    { violatedDirective: "default-src 'self'", blockedURI: `${chatframeOrigin}/embed/cf_abc/status` },
    {},
    null,
  ];
  for (const violation of cases) {
    assert.equal(frameBlockedMessage(violation, chatframeOrigin), null, JSON.stringify(violation));
  }
});

test("a silent iframe names the frame-src fix", () => {
  assert.match(silenceMessage(chatframeOrigin), /did not answer.*add https:\/\/chat\.example\.com to its frame-src/);
});

test("a silent iframe that Chatframe could not be asked about names every fix but connect-src", () => {
  const message = unreachableMessage(chatframeOrigin, "https://app.example.com");
  assert.match(message, /did not answer/);
  assert.match(message, /https:\/\/app\.example\.com is one of the client's allowed origins/);
  assert.match(message, /frame-src allows https:\/\/chat\.example\.com/);
  assert.doesNotMatch(message, /connect-src/);
});
