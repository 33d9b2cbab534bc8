// Shared by every scenario: the server's address, request helpers that check every status
// code, and the thresholds that turn any unexpected answer (a 429, a 5xx, a refused
// connection) into a failed run.
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';

export const BASE = __ENV.BASE_URL || 'http://127.0.0.1:8080';
export const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || '';
/** Several instances (run.sh CLUSTER=1): a comma list; VU n goes through instance n % count. */
const BASES = (__ENV.BASE_URLS || '').split(',').filter((b) => b);

/** The instance this VU talks to: BASE_URL unless BASE_URLS lists several. */
function base() {
  return BASES.length ? BASES[__VU % BASES.length] : BASE;
}

/** Answers with a 5xx status, per request name. Must stay 0. */
export const serverErrors = new Counter('server_errors');
/** Answers with 429 (rate limited), per request name. Must stay 0. */
export const rateLimited = new Counter('rate_limited');

const JSON_HEADERS = { 'Content-Type': 'application/json' };

/**
 * Checks that `res` has one of `statuses`; counts 5xx and 429 answers on the side. A refused
 * connection has status 0 and fails the check too.
 */
export function expectStatus(res, name, ...statuses) {
  if (res.status >= 500) serverErrors.add(1, { name });
  if (res.status === 429) rateLimited.add(1, { name });
  const ok = check(res, { [`${name} ${statuses.join('|')}`]: (r) => statuses.includes(r.status) },
    { name });
  if (!ok) {
    // What went wrong, for the log: k6's own error when there was no answer (refused, reset,
    // timed out), otherwise the start of the error body.
    const detail = res.status === 0 ? `${res.error_code} ${res.error}` : String(res.body).slice(0, 160);
    console.error(`UNEXPECTED ${name} ${res.status} ${detail}`);
  }
  return ok;
}

/** The JSON body, or null when there is none or it does not parse. */
export function body(res) {
  try {
    return res.json();
  } catch (_) {
    return null;
  }
}

function params(name, token, extra) {
  const headers = Object.assign({}, JSON_HEADERS, extra || {});
  if (token) headers['Queue-Token'] = token;
  return { headers, tags: { name } };
}

export function post(name, path, payload, token, headers) {
  return http.post(`${base()}${path}`, JSON.stringify(payload), params(name, token, headers));
}

export function patch(name, path, payload, token, headers) {
  return http.patch(`${base()}${path}`, JSON.stringify(payload), params(name, token, headers));
}

export function get(name, path, token) {
  return http.get(`${base()}${path}`, params(name, token));
}

/**
 * The HS256 secret of the server's `--buyer-auth jwt` (run.sh makes one per run and hands it
 * over in the environment), or '' for a build without buyer authentication, which believes
 * the `userId` in the body.
 */
export const BUYER_JWT_SECRET = __ENV.BUYER_JWT_SECRET || '';
const JWT_HEADER = encoding.b64encode('{"alg":"HS256","typ":"JWT"}', 'rawurl');
/** Expiry of the JWTs this VU signs: JWT_TTL seconds (run.sh: an hour plus the run) on. */
const JWT_EXP = Math.floor(Date.now() / 1000) + parseInt(__ENV.JWT_TTL || '3600', 10);

/**
 * The HS256 JWT of buyer n (an integer): sub `buyer-<n>`, its name and address, `exp`. The
 * server makes the user on first sight and knows the same sub as the same user from then on.
 * The claims are a template: JSON.stringify costs k6 several times more.
 */
export function buyerJwt(n) {
  const claims = `{"sub":"buyer-${n}","name":"Buyer ${n}","email":"buyer${n}@load.test",` +
    `"exp":${JWT_EXP}}`;
  const data = `${JWT_HEADER}.${encoding.b64encode(claims, 'rawurl')}`;
  return `${data}.${crypto.hmac('sha256', BUYER_JWT_SECRET, data, 'base64rawurl')}`;
}

/**
 * Which buyer n each user id was made for, as seed.js recorded it (SUBJECTS, jwt only): the
 * buyers are made concurrently, so buyer n is some id of 1..USERS, not necessarily n. The
 * file holds SUBJECT_WIDTH digits per id, read in place: parsing 80,000 numbers into an
 * array in each VU's init cost k6 17 CPU seconds for 100 VUs.
 */
export const SUBJECT_WIDTH = 8;
const SUBJECTS = BUYER_JWT_SECRET && __ENV.SUBJECTS ? open(__ENV.SUBJECTS) : null;

/**
 * The headers that prove the caller is user `userId` of the seeded catalogue: its buyer's
 * JWT as the bearer, signed on each call, or none for a build without buyer authentication.
 */
export function buyerAuth(userId) {
  if (!SUBJECTS) return {};
  const n = parseInt(SUBJECTS.substr((userId - 1) * SUBJECT_WIDTH, SUBJECT_WIDTH), 10);
  return { Authorization: `Bearer ${buyerJwt(n)}` };
}

export function admin(name, path, payload) {
  return post(name, path, payload, null, { Authorization: `Bearer ${ADMIN_TOKEN}` });
}

/** The place in line (`seq`) a queue token carries: the 4th big-endian u64 of its payload. */
export function tokenSeq(token) {
  const payload = new Uint8Array(encoding.b64decode(token.split('.')[1], 'rawurl'));
  let seq = 0;
  for (let i = 24; i < 32; i++) seq = seq * 256 + payload[i];
  return seq;
}

/** The catalogue seed.js wrote for this run. */
export function loadCatalogue() {
  return JSON.parse(open(__ENV.CATALOGUE));
}

/**
 * Thresholds every scenario shares: every check passes, no 5xx, no 429. `names` adds one
 * always-true threshold per request name so that each gets its own line in the summary.
 */
export function thresholds(names, extra) {
  const t = {
    checks: ['rate==1'],
    server_errors: ['count==0'],
    rate_limited: ['count==0'],
  };
  for (const n of names) {
    t[`http_req_duration{name:${n}}`] = ['max>=0'];
    t[`http_reqs{name:${n}}`] = ['count>=0'];
  }
  return Object.assign(t, extra || {});
}

export const TREND_STATS = ['avg', 'min', 'med', 'max', 'p(95)', 'p(99)', 'count'];

/** Scenario duration from the runner, e.g. "20s". */
export const DURATION = __ENV.DURATION || '20s';

/** An Idempotency-Key unique to this run, user and purpose. */
export function idemKey(kind, user) {
  return `${__ENV.RUN_ID || 'run'}-${kind}-${user}`;
}

/** web/ui.js jittered(): the wait in seconds the page takes for `seconds`. */
export function jittered(seconds) {
  const base = Math.max(0.5, Number(seconds) || 2);
  return base * (0.8 + Math.random() * 0.4);
}
