// PKCE and DPoP with WebCrypto: the verifier and the private key never leave this iframe.
// The private key is generated non-extractable, so not even this page's own code can export it.

const encoder = new TextEncoder();

/** base64url without padding. */
export function base64url(bytes) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = "";
  for (const byte of view) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** base64url(JSON) of a plain object. */
export function base64urlJson(value) {
  return base64url(encoder.encode(JSON.stringify(value)));
}

/** Random base64url string of `size` bytes. */
export function randomString(size = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

/** BASE64URL(SHA-256(ASCII(text))). */
export async function sha256(text) {
  return base64url(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/** A PKCE pair (RFC 7636, S256): 256-bit verifier and its challenge. */
export async function createPkce() {
  const verifier = randomString(32);
  return { verifier, challenge: await sha256(verifier), method: "S256" };
}

/** RFC 7638 thumbprint of a public EC JWK: members in lexicographic order, no spaces. */
export async function jwkThumbprint(jwk) {
  return sha256(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }));
}

/** A fresh, non-extractable ES256 key pair for DPoP, with its public JWK and thumbprint. */
export async function createDpopKey() {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
    "sign",
    "verify",
  ]);
  const full = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const jwk = { kty: full.kty, crv: full.crv, x: full.x, y: full.y };
  return { privateKey: pair.privateKey, jwk, jkt: await jwkThumbprint(jwk) };
}

/**
 * A DPoP proof (RFC 9449) for one request.
 * @param {{privateKey: CryptoKey, jwk: object}} key
 * @param {{htm: string, htu: string, accessToken?: string, now?: number}} request
 *   `now` in seconds (server-corrected clock); `accessToken` adds `ath` for resource requests.
 */
export async function createProof(key, { htm, htu, accessToken, now }) {
  const header = { typ: "dpop+jwt", alg: "ES256", jwk: key.jwk };
  const claims = {
    jti: randomString(16),
    htm,
    htu,
    iat: Math.floor(now ?? Date.now() / 1000),
  };
  if (accessToken) claims.ath = await sha256(accessToken);
  const input = `${base64urlJson(header)}.${base64urlJson(claims)}`;
  const signature = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    key.privateKey,
    encoder.encode(input),
  );
  return `${input}.${base64url(signature)}`; // WebCrypto's ECDSA output is JWS's r||s form
}

/** The claims of a JWT, unverified (the iframe only reads its own token's `bots` and `exp`). */
export function jwtClaims(token) {
  const part = token.split(".")[1] ?? "";
  const padded = part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4);
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(padded), (c) => c.charCodeAt(0))));
}
