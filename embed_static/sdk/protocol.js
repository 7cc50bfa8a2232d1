// The Chatframe postMessage protocol: message shapes and their strict validation.
// Shared by the host-page SDK and the iframe; pure functions, unit-tested with `node --test`.

/** Version carried in every message as `chatframe: 1`. */
export const PROTOCOL_VERSION = 1;

/** Messages larger than this (as JSON) are ignored. */
export const MAX_MESSAGE_BYTES = 16 * 1024;

const B64URL_43 = /^[A-Za-z0-9_-]{43}$/;
const CODE = /^[A-Za-z0-9_-]{20,512}$/;
const BOT_ID = /^bot_[A-Za-z0-9]{1,36}$/;
const ERROR_CODE = /^[a-z_]{1,64}$/;

const isString = (max) => (v) => typeof v === "string" && v.length <= max;
const matches = (re) => (v) => typeof v === "string" && re.test(v);
const isBotList = (v) =>
  Array.isArray(v) &&
  v.length <= 20 &&
  v.every(
    (b) =>
      isPlainObject(b) &&
      Object.keys(b).every((k) => k === "id" || k === "name") &&
      matches(BOT_ID)(b.id) &&
      isString(200)(b.name),
  );
const isTimestamp = (v) => typeof v === "number" && Number.isFinite(v) && v > 0;
const isHeight = (v) => Number.isInteger(v) && v >= 0 && v <= 10000;

/**
 * Fields each message type must carry, by direction.
 * @type {Record<"toIframe" | "toParent", Record<string, Record<string, (v: unknown) => boolean>>>}
 */
export const MESSAGES = {
  toIframe: {
    HELLO: {},
    AUTH: { code: matches(CODE) },
    LOGOUT: {},
    UNAVAILABLE: {},
  },
  toParent: {
    READY: {
      code_challenge: matches(B64URL_43),
      code_challenge_method: (v) => v === "S256",
      dpop_jkt: matches(B64URL_43),
    },
    AUTH_SUCCESS: { bots: isBotList, expires_at: isTimestamp },
    AUTH_ERROR: { error: matches(ERROR_CODE), error_description: isString(500) },
    SESSION_EXPIRED: {},
    RESIZE: { height: isHeight },
    RETRY: {},
  },
};

/** True for `{}`-style objects only (not arrays, class instances, DOM nodes or null). */
export function isPlainObject(value) {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Size of a value as JSON, or Infinity when it cannot be serialised. */
export function messageSize(value) {
  try {
    const json = JSON.stringify(value);
    return typeof json === "string" ? json.length : Infinity;
  } catch {
    return Infinity;
  }
}

/**
 * Validate a received message. Returns `{type, ...fields}` (without `chatframe`) or `null`
 * for anything malformed, unknown, oversized or carrying unexpected keys.
 * @param {unknown} data  `event.data`
 * @param {"toIframe" | "toParent"} direction  which side is receiving
 */
export function parseMessage(data, direction) {
  if (!isPlainObject(data) || messageSize(data) > MAX_MESSAGE_BYTES) return null;
  if (data.chatframe !== PROTOCOL_VERSION || typeof data.type !== "string") return null;
  const table = MESSAGES[direction];
  if (!table || !Object.prototype.hasOwnProperty.call(table, data.type)) return null;
  const fields = table[data.type];
  for (const key of Object.keys(data)) {
    if (key !== "chatframe" && key !== "type" && !Object.prototype.hasOwnProperty.call(fields, key)) {
      return null;
    }
  }
  const message = { type: data.type };
  for (const [key, valid] of Object.entries(fields)) {
    if (!valid(data[key])) return null;
    message[key] = data[key];
  }
  return message;
}

/**
 * Build an outgoing message; throws if it would not pass `parseMessage` on the other side.
 * @param {"toIframe" | "toParent"} direction
 * @param {string} type
 * @param {Record<string, unknown>} [fields]
 */
export function makeMessage(direction, type, fields = {}) {
  const message = { chatframe: PROTOCOL_VERSION, type, ...fields };
  if (parseMessage(message, direction) === null) {
    throw new TypeError(`invalid ${type} message`);
  }
  return message;
}

/** Exact origin comparison against a list; the opaque origin "null" never matches. */
export function isAllowedOrigin(origin, allowed) {
  return (
    typeof origin === "string" &&
    origin !== "null" &&
    Array.isArray(allowed) &&
    allowed.includes(origin)
  );
}

/** The origin (`scheme://host[:port]`) of an absolute URL, or null. */
export function originOf(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.origin : null;
  } catch {
    return null;
  }
}
