// How the pages talk to the JSON API (docs/api.md). Every rule lives in the API; a page only
// asks and shows the answer.
//
// The buyer's sign-in is the `bx_session` cookie (HttpOnly: no script reads it), which a
// same-origin fetch sends by itself. Every request that changes something also sends the
// `X-CSRF-Token` header with the value of the `bx_csrf` cookie, which another site can
// neither read nor set, so a forged form or fetch from elsewhere is refused (403).
// The console's admin session is the same pattern with its own pair of cookies (`bx_admin`,
// HttpOnly, and `bx_admin_csrf`): a call under `/api/admin/` sends the latter's value.
// The queue token is no cookie: it travels in the `Queue-Token` header, and is kept in
// sessionStorage per buyer and show, so a reload keeps the place in line.

/** An answer of the API that is not a success, with its error body. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `the server answered ${status}`);
    this.status = status;
    this.code = body && body.errorCode;
    this.body = body || {};
  }
}

/** The value of the CSRF cookie `cookie` (the buyer's `bx_csrf` by default), or an empty string. */
export function csrfToken(cookie = 'bx_csrf') {
  for (const part of document.cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === cookie) return decodeURIComponent(rest.join('='));
  }
  return '';
}

/** A random key for `Idempotency-Key` (works outside secure contexts too). */
export function randomKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Calls the API: `api('POST', '/api/payments', {body, queueToken, idempotencyKey})`.
 * Answers the JSON body (null for 204); throws an ApiError for any 4xx or 5xx.
 */
export async function api(method, path, options = {}) {
  const headers = { Accept: 'application/json' };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const token = csrfToken(path.startsWith('/api/admin/') ? 'bx_admin_csrf' : 'bx_csrf');
    if (token) headers['X-CSRF-Token'] = token;
  }
  if (options.queueToken) headers['Queue-Token'] = options.queueToken;
  if (options.idempotencyKey) headers['Idempotency-Key'] = options.idempotencyKey;
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch (err) {
    throw new ApiError(0, { message: 'The shop cannot be reached. Check the connection and try again.' });
  }
  if (resp.status === 204) return null;
  let data = null;
  try {
    data = await resp.json();
  } catch (err) {
    data = null;
  }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

/** Who is signed in (`{userId, name, email}`), or null. */
export async function currentAccount() {
  try {
    return await api('GET', '/api/accounts/current');
  } catch (err) {
    if (err.status === 401) return null;
    throw err;
  }
}

/** Signs in with the cookie session. */
export function signIn(email, password) {
  return api('POST', '/api/web/sessions', { body: { email, password } });
}

/** Signs out, and forgets the queue places and holds of this tab. */
export async function signOut() {
  try {
    await api('DELETE', '/api/web/sessions/current');
  } finally {
    forgetAll();
  }
}

const PREFIX = 'boxoffice.';

function key(kind, userId, scheduleId) {
  return `${PREFIX}${kind}.${userId}.${scheduleId}`;
}

function read(k) {
  try {
    return JSON.parse(sessionStorage.getItem(k) || 'null');
  } catch (err) {
    return null;
  }
}

/** The buyer's place in line for a show: `{token, concertId, firstPosition}` or null. */
export function savedPlace(userId, scheduleId) {
  return read(key('queue', userId, scheduleId));
}

export function savePlace(userId, scheduleId, place) {
  sessionStorage.setItem(key('queue', userId, scheduleId), JSON.stringify(place));
}

export function forgetPlace(userId, scheduleId) {
  sessionStorage.removeItem(key('queue', userId, scheduleId));
}

/** The buyer's hold for a show (the reservation as the API answered it) or null. */
export function savedHold(userId, scheduleId) {
  return read(key('hold', userId, scheduleId));
}

export function saveHold(userId, scheduleId, hold) {
  sessionStorage.setItem(key('hold', userId, scheduleId), JSON.stringify(hold));
}

export function forgetHold(userId, scheduleId) {
  sessionStorage.removeItem(key('hold', userId, scheduleId));
}

/** Forgets every place and hold this tab keeps (at sign-in and sign-out). */
export function forgetAll() {
  for (let i = sessionStorage.length - 1; i >= 0; i -= 1) {
    const k = sessionStorage.key(i);
    if (k && k.startsWith(PREFIX)) sessionStorage.removeItem(k);
  }
}
