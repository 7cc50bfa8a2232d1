// PKCE, JWK thumbprints and DPoP proofs made with WebCrypto, checked against the RFCs.
import assert from "node:assert/strict";
import { createPublicKey, verify } from "node:crypto";
import { test } from "node:test";

import { base64url, createDpopKey, createPkce, createProof, jwkThumbprint, jwtClaims, sha256 } from "../iframe/dpop.js";
import { refreshLead } from "../iframe/session.js";

test("S256 matches RFC 7636 appendix B", async () => {
  assert.equal(await sha256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  const pkce = await createPkce();
  assert.match(pkce.verifier, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(pkce.challenge, await sha256(pkce.verifier));
});

test("thumbprint matches RFC 7638's method (EC key, members in order)", async () => {
  const jwk = { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRjmJaAfKuTBGFJp0R-SeUJWcX6FP4YXb-aR4bc" };
  const expected = base64url(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(
      '{"crv":"P-256","kty":"EC","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRjmJaAfKuTBGFJp0R-SeUJWcX6FP4YXb-aR4bc"}',
    ))),
  );
  assert.equal(await jwkThumbprint({ ...jwk, extra: "ignored" }), expected);
});

test("DPoP keys are non-extractable and proofs verify with the public JWK", async () => {
  const key = await createDpopKey();
  assert.equal(key.privateKey.extractable, false);
  await assert.rejects(crypto.subtle.exportKey("jwk", key.privateKey));
  assert.deepEqual(Object.keys(key.jwk).sort(), ["crv", "kty", "x", "y"]);
  const proof = await createProof(key, { htm: "POST", htu: "https://chat.example.com/oauth/token", accessToken: "abc", now: 1700000000.7 });
  const [header, payload, signature] = proof.split(".");
  const decode = (part) => JSON.parse(Buffer.from(part, "base64url").toString());
  assert.deepEqual(decode(header), { typ: "dpop+jwt", alg: "ES256", jwk: key.jwk });
  const claims = decode(payload);
  assert.equal(claims.htm, "POST");
  assert.equal(claims.iat, 1700000000);
  assert.equal(claims.ath, await sha256("abc"));
  assert.match(claims.jti, /^[A-Za-z0-9_-]{22}$/);
  const publicKey = createPublicKey({ key: key.jwk, format: "jwk" });
  const valid = verify("sha256", Buffer.from(`${header}.${payload}`), { key: publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(signature, "base64url"));
  assert.equal(valid, true);
});

test("every proof has a fresh jti", async () => {
  const key = await createDpopKey();
  const a = jwtClaims(await createProof(key, { htm: "GET", htu: "https://c.example/x" }));
  const b = jwtClaims(await createProof(key, { htm: "GET", htu: "https://c.example/x" }));
  assert.notEqual(a.jti, b.jti);
});

test("refresh happens a quarter of the lifetime early, between 2 and 60 seconds", () => {
  assert.equal(refreshLead(600), 60);
  assert.equal(refreshLead(40), 10);
  assert.equal(refreshLead(3), 2);
});
