// pages: the buyer flow as Chromium runs it through the shop's pages. Each iteration is one
// buyer (and one seat, as in flow.js) going from What's on to the receipt; on every page it
// fetches what the browser fetches, in the browser's order:
//
//   the page's HTML; then its style sheet and its module script together; then that module's
//   imports (read from web/*.js at start, so the list follows the scripts); then the API calls
//   the page's script makes, in its order, the ones it starts together sent together.
//
//   What's on  GET /api/accounts/current + GET /api/concerts
//   Waiting    GET /api/accounts/current; GET /api/concerts (findShow) + POST
//              /api/waiting-queues; GET /api/waiting-queues until `active`, each wait
//              pollAfterSeconds give or take 20% as web/queue.js does (times POLL_SCALE [1]),
//              at most MAX_POLLS of them
//   Seats      GET /api/accounts/current; GET the concert; GET the seat map; one refresh of
//              it (the page's every-3-seconds refresh, sent at once: no think time); hold;
//              GET the seat map again (the page refreshes after a hold)
//   Checkout   GET /api/accounts/current; GET the concert + GET the balance; top-up; GET the
//              balance; pay
//   Receipt    GET /api/accounts/current; GET /api/payments + GET /api/tickets, and the payment
//              with its ticket must be among them
//
// The browser's cache: each VU keeps the ETag of every page and asset it has loaded, as a
// browser does, and sends it back as If-None-Match; the server answers `Cache-Control:
// no-cache` with an ETag, so a file seen before must come back 304 with that ETag and a new
// one 200 with its content type. A VU plays its buyers one after the other in one browser, so
// only its first buyer finds the cache empty; COLD_CACHE=1 empties it for every buyer (a new
// browser each); PAGES_STATIC=0 leaves the pages and assets out, so that a run beside one
// with them tells what they cost. The buyer's credential is its JWT as the bearer on every
// API call (the flow's sign-in; the pages' own cookie session needs a password sign-in, whose
// argon2 hash would dominate the run), with the queue token as the page sends it.
//
// Every request is tagged with its name and its kind (`page`, `asset` or `api`), so the
// summary has per-request figures and one line per kind; `not_modified` is the share of
// pages and assets answered 304.
import exec from 'k6/execution';
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Rate } from 'k6/metrics';
import {
  BASE, buyerAuth, DURATION, expectStatus, idemKey, jittered, loadCatalogue, thresholds,
  TREND_STATS,
} from './lib.js';

const catalogue = loadCatalogue();
const shows = [];
for (const c of catalogue.concerts) {
  for (const s of c.scheduleIds) shows.push({ concertId: c.concertId, scheduleId: s });
}
const SEATS = catalogue.seatsPerSchedule;
const ITERATIONS = Math.min(catalogue.users.count, shows.length * SEATS);
/** Status polls of one buyer before giving up (bounded: the flow's room lets everyone in). */
const MAX_POLLS = parseInt(__ENV.MAX_POLLS || '50', 10);
/** The waits between polls are pollAfterSeconds (jittered as the page does) times this. */
const POLL_SCALE = parseFloat(__ENV.POLL_SCALE || '1');
const COLD_CACHE = __ENV.COLD_CACHE === '1';
/** PAGES_STATIC=0: the page scripts' API calls alone, without the HTML and assets. */
const STATIC = __ENV.PAGES_STATIC !== '0';

// --- what each page loads, from web/ ------------------------------------------------------

/** The file of web/ behind each page's route (src/http/pages.rs). */
const PAGE_FILES = {
  '/': 'index.html', '/queue': 'queue.html', '/seats': 'seats.html',
  '/checkout': 'checkout.html', '/receipt': 'receipt.html',
};

/** The relative imports of a module's source (`import ... from './x.js'`), in order. */
function importsOf(source) {
  const out = [];
  const re = /^\s*import\s[^;]*?from\s+'\.\/([\w.-]+\.js)'/gm;
  let m;
  while ((m = re.exec(source)) !== null) if (!out.includes(m[1])) out.push(m[1]);
  return out;
}

/**
 * What a page loads, in the browser's waves: [[its style sheets and module scripts], [their
 * imports], [imports of those not loaded yet], ...]. A module is loaded once per page.
 */
function pageAssets(file) {
  const html = open(`../web/${file}`);
  const first = [];
  for (const m of html.matchAll(/<link rel="stylesheet" href="\/assets\/([\w.-]+)">/g)) first.push(m[1]);
  for (const m of html.matchAll(/<script type="module" src="\/assets\/([\w.-]+)"><\/script>/g)) first.push(m[1]);
  const waves = [first];
  const seen = new Set(first);
  let wave = first.filter((f) => f.endsWith('.js'));
  while (wave.length) {
    const next = [];
    for (const js of wave) {
      for (const dep of importsOf(open(`../web/${js}`))) {
        if (!seen.has(dep)) {
          seen.add(dep);
          next.push(dep);
        }
      }
    }
    if (next.length) waves.push(next);
    wave = next;
  }
  return waves;
}

const PAGES = {};
for (const [route, file] of Object.entries(PAGE_FILES)) PAGES[route] = pageAssets(file);
const STATIC_NAMES = [...new Set(Object.values(PAGES).flat(2))].map((f) => `asset ${f}`);
const PAGE_NAMES = Object.keys(PAGES).map((r) => `page ${r}`);
const API_NAMES = ['currentAccount', 'listConcerts', 'issueToken', 'queueStatus', 'getConcert',
  'getSeats', 'reserveSeat', 'getBalance', 'chargeBalance', 'pay', 'listPayments', 'listTickets'];

export const NAMES = PAGE_NAMES.concat(STATIC_NAMES, API_NAMES);

/** Pages and assets answered 304, by kind. */
const notModified = new Rate('not_modified');

const KINDS = ['page', 'asset', 'api'];
const kindThresholds = {};
for (const k of KINDS) {
  kindThresholds[`http_req_duration{kind:${k}}`] = ['max>=0'];
  kindThresholds[`http_reqs{kind:${k}}`] = ['count>=0'];
}
kindThresholds['not_modified{kind:page}'] = ['rate>=0'];
kindThresholds['not_modified{kind:asset}'] = ['rate>=0'];

export const options = {
  scenarios: {
    pages: {
      executor: 'shared-iterations',
      vus: parseInt(__ENV.VUS || '100', 10),
      iterations: ITERATIONS,
      maxDuration: DURATION,
      gracefulStop: '5s',
    },
  },
  thresholds: thresholds(NAMES, kindThresholds),
  summaryTrendStats: TREND_STATS,
  discardResponseBodies: false,
};

// --- the browser's cache and requests ------------------------------------------------------

/** This VU's browser cache: path -> ETag. */
let cache = {};

const CONTENT_TYPES = { html: 'text/html', css: 'text/css', js: 'text/javascript' };

function typeOf(path) {
  if (path.endsWith('.css')) return CONTENT_TYPES.css;
  if (path.endsWith('.js')) return CONTENT_TYPES.js;
  return CONTENT_TYPES.html;
}

/** A GET of a page or asset as the browser sends it: with If-None-Match when it is cached. */
function staticRequest(name, kind, path) {
  const headers = {};
  if (cache[path]) headers['If-None-Match'] = cache[path];
  return ['GET', `${BASE}${path}`, null, { headers, tags: { name, kind }, responseType: 'none' }];
}

/** Checks a page or asset answer against the cache, and caches its ETag. */
function checkStatic(res, name, kind, path) {
  const cached = cache[path];
  const etag = res.headers.Etag;
  const ok = expectStatus(res, name, cached ? 304 : 200) && check(res, {
    [`${kind} answer ${cached ? 'names the cached ETag' : 'has its content type and an ETag'}`]:
      (r) => (cached ? etag === cached
        : String(r.headers['Content-Type']).startsWith(typeOf(path)) && !!etag)
        && r.headers['Cache-Control'] === 'no-cache',
  }, { name });
  notModified.add(res.status === 304, { kind });
  if (ok && etag) cache[path] = etag;
  return ok;
}

/** Loads page `route` (with `query`) and everything it loads; false when anything failed. */
function loadPage(route, query) {
  if (!STATIC) return true;
  const name = `page ${route}`;
  const path = `${route}${query}`;
  let res = http.get(`${BASE}${path}`, staticRequest(name, 'page', path)[3]);
  // The cache is keyed by the URL, query included, as the browser's is.
  if (!checkStatic(res, name, 'page', path)) return false;
  for (const wave of PAGES[route]) {
    const reqs = wave.map((f) => staticRequest(`asset ${f}`, 'asset', `/assets/${f}`));
    const answers = http.batch(reqs);
    let ok = true;
    answers.forEach((r, i) => {
      ok = checkStatic(r, `asset ${wave[i]}`, 'asset', `/assets/${wave[i]}`) && ok;
    });
    if (!ok) return false;
  }
  return true;
}

/** An API request as web/api.js sends it, with the buyer's bearer and the queue token. */
function apiRequest(name, method, path, auth, options = {}) {
  const headers = Object.assign({ Accept: 'application/json' }, auth);
  if (options.queueToken) headers['Queue-Token'] = options.queueToken;
  if (options.idempotencyKey) headers['Idempotency-Key'] = options.idempotencyKey;
  let body = null;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  return [method, `${BASE}${path}`, body, { headers, tags: { name, kind: 'api' } }];
}

/** Checks an API answer: the status, and a JSON body. */
function checkApi(res, name, status) {
  return expectStatus(res, name, status) && check(res, {
    'api answer is JSON': (r) => String(r.headers['Content-Type']).startsWith('application/json'),
  }, { name });
}

function call(name, method, path, auth, status, options) {
  const [m, url, body, params] = apiRequest(name, method, path, auth, options);
  const res = http.request(m, url, body, params);
  return checkApi(res, name, status) ? res : null;
}

/** Requests the page's script starts together; null when any answer is not as expected. */
function together(auth, ...calls) {
  const answers = http.batch(calls.map(([name, method, path, , options]) =>
    apiRequest(name, method, path, auth, options)));
  let ok = true;
  answers.forEach((r, i) => {
    ok = checkApi(r, calls[i][0], calls[i][3]) && ok;
  });
  return ok ? answers : null;
}

// --- one buyer -----------------------------------------------------------------------------

export default function () {
  if (COLD_CACHE) cache = {};
  const i = exec.scenario.iterationInTest;
  const userId = catalogue.users.first + i;
  const show = shows[Math.floor(i / SEATS)];
  visit(userId, show, i % SEATS, catalogue.price);
}

function visit(userId, show, seatIndex, price) {
  const { concertId, scheduleId } = show;
  // The cookie of the page's session goes with every request; here the JWT does.
  const auth = buyerAuth(userId);
  const account = `/api/accounts/current`;

  // What's on.
  if (!loadPage('/', '')) return;
  if (!together(auth, ['currentAccount', 'GET', account, 200],
    ['listConcerts', 'GET', '/api/concerts', 200])) return;

  // The waiting room: join, then poll until let in.
  const showQuery = `?concert=${concertId}&schedule=${scheduleId}`;
  if (!loadPage('/queue', showQuery)) return;
  if (!call('currentAccount', 'GET', account, auth, 200)) return;
  const joined = together(auth, ['listConcerts', 'GET', '/api/concerts', 200],
    ['issueToken', 'POST', '/api/waiting-queues', 201,
      { body: { concertId, concertScheduleId: scheduleId } }]);
  if (!joined) return;
  const token = joined[1].json('token');
  let active = false;
  for (let poll = 0; poll < MAX_POLLS && !active; poll++) {
    const res = call('queueStatus', 'GET', '/api/waiting-queues', auth, 200, { queueToken: token });
    if (!res) return;
    active = res.json('status') === 'active';
    if (!active) sleep(jittered(res.json('pollAfterSeconds')) * POLL_SCALE);
  }
  if (!check(active, { 'buyer admitted': (a) => a })) return;

  // The seat picker.
  const withToken = { queueToken: token };
  if (!loadPage('/seats', showQuery)) return;
  if (!call('currentAccount', 'GET', account, auth, 200)) return;
  if (!call('getConcert', 'GET', `/api/concerts/${concertId}`, auth, 200, withToken)) return;
  const seatsPath = `/api/concerts/${concertId}/schedules/${scheduleId}/seats`;
  if (!call('getSeats', 'GET', seatsPath, auth, 200, withToken)) return;
  // The refresh the page makes every 3 seconds while the buyer chooses.
  const map = call('getSeats', 'GET', seatsPath, auth, 200, withToken);
  if (!map) return;
  // gjson picks the one seat on the Go side, as flow.js does.
  const seat = map.json(`seats.${seatIndex}`);
  if (!check(seat, { 'chosen seat is available': (s) => s && s.status === 'available' })) return;
  const held = call('reserveSeat', 'POST', '/api/concerts/reservations', auth, 201,
    { queueToken: token, body: { concertId, scheduleId, seatIds: [seat.seatId] } });
  if (!held) return;
  const reservationId = held.json('reservationId');
  if (!call('getSeats', 'GET', seatsPath, auth, 200, withToken)) return;

  // Checkout: the balance is short, so the buyer tops up, then pays.
  if (!loadPage('/checkout', showQuery)) return;
  if (!call('currentAccount', 'GET', account, auth, 200)) return;
  const balancePath = `/api/users/${userId}/balance`;
  if (!together(auth, ['getConcert', 'GET', `/api/concerts/${concertId}`, 200, withToken],
    ['getBalance', 'GET', balancePath, 200])) return;
  if (!call('chargeBalance', 'PATCH', balancePath, auth, 200,
    { body: { amount: price || seat.price }, idempotencyKey: idemKey('charge', userId) })) return;
  if (!call('getBalance', 'GET', balancePath, auth, 200)) return;
  const paid = call('pay', 'POST', '/api/payments', auth, 201, {
    queueToken: token, idempotencyKey: idemKey('pay', userId), body: { userId, reservationId },
  });
  if (!paid) return;
  const paymentId = paid.json('paymentId');

  // The receipt: the payment and its ticket.
  if (!loadPage('/receipt', `?payment=${paymentId}`)) return;
  if (!call('currentAccount', 'GET', account, auth, 200)) return;
  const receipt = together(auth, ['listPayments', 'GET', `/api/payments?userId=${userId}`, 200],
    ['listTickets', 'GET', `/api/tickets?userId=${userId}`, 200]);
  if (!receipt) return;
  check(receipt, {
    'receipt shows the payment and its ticket': ([payments, tickets]) =>
      (payments.json('payments') || []).some((p) => p.paymentId === paymentId)
      && (tickets.json('tickets') || []).some((t) => t.paymentId === paymentId),
  });
}
