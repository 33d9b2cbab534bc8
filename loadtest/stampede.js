// stampede: BUYERS (20,000) buyers join one show's line within JOIN_WINDOW (10) seconds and
// poll their status until admitted, at the pace the server asks for (`pollAfterSeconds`,
// jittered as the queue page does), or every POLL seconds when POLL is a number (POLL=1: the
// client of the load-test issue, which polled every second wherever it stood); each admitted
// buyer tops up, holds a seat of its own and pays, which ends its session and lets the next
// one in.
//
// One VU plays BUYERS_PER_VU buyers at once with async requests, so 20,000 buyers need 200
// VUs, not 20,000. Every buyer prints one line for the runner's order check:
//   ADMIT <seq> <last waiting poll sent, ms> <first active answer received, ms>
//   NOT_ADMITTED <seq> <last waiting poll sent, ms>
// Nobody was admitted out of order when no buyer was still told "waiting" in a poll sent
// after a buyer later in line had been told "active" (seq is the place in line, read from the
// token). Seats are checked in the database by the runner's audit.
//
// OPENING=1 (run.sh opening): the crowd joins before the show's opening. setup() moves the
// show's salesStart to JOIN_WINDOW + OPENING_MARGIN (5) seconds from now and pauses its line;
// every buyer joins before it and waits as "scheduled" with opensAt = salesStart. At the
// opening the pre-queue gets its random order; the line stays paused for OPENING_HOLD (5)
// more seconds, so that every buyer reads the place drawn for it (nobody moves while
// paused), then the `opener` scenario resumes it and admission goes on as in the stampede.
// The checks (a failed one fails the run): every join's answer comes before the opening;
// every poll answered before the opening says "scheduled" with that opensAt (nobody is let
// in before it, nor does the line open early); no poll sent after it says "scheduled"; each
// buyer reads one place during the hold; positions never go up; when the hold ends the whole
// crowd is in line and nobody is inside. Seq is then the joining order and the place is the
// line's order, so the lines are
//   OPENING <opensAt, ms> <hold ends, ms> <buyers>      (once, from setup)
//   PLACE <seq> <place, or -1 when none was read>
//   ADMIT <place> <last waiting poll sent, ms> <first active answer received, ms>
//   NOT_ADMITTED <place> <last waiting poll sent, ms>
// and the runner checks that the places are a permutation of 1..buyers, that the rank
// correlation between seq and place is near 0, and the admission order by place. Each VU
// reads the seat map once, with the token of its first buyer let in (it cannot be read
// before the opening: only an active token may).
import exec from 'k6/execution';
import http from 'k6/http';
import { check, sleep } from 'k6';
import { setTimeout } from 'k6/timers';
import {
  BASE, buyerAuth, DURATION, expectStatus, idemKey, jittered, loadCatalogue, thresholds,
  tokenSeq, TREND_STATS,
} from './lib.js';

const catalogue = loadCatalogue();
const concertId = catalogue.concerts[0].concertId;
const scheduleId = catalogue.concerts[0].scheduleIds[0];
const BUYERS = parseInt(__ENV.BUYERS || '20000', 10);
const BUYERS_PER_VU = parseInt(__ENV.BUYERS_PER_VU || '100', 10);
const JOIN_WINDOW_MS = parseFloat(__ENV.JOIN_WINDOW || '10') * 1000;
const VUS = Math.ceil(BUYERS / BUYERS_PER_VU);
const OPENING = __ENV.OPENING === '1';
/**
 * 'server' (the stampede's default): wait what the status asks, as the queue page does; a
 * number: that many seconds between polls. The opening polls every second by default, so that
 * every buyer reads its place during the few seconds the line is held.
 */
const POLL = __ENV.POLL || (OPENING ? '1' : 'server');
const POLL_MS = POLL === 'server' ? null : parseFloat(POLL) * 1000;
if (POLL_MS !== null && !(POLL_MS > 0)) throw new Error(`POLL: 'server' or seconds, not ${POLL}`);
/** Milliseconds until the next poll, after the status answer `res`. */
const nextPoll = (res) => (POLL_MS === null
  ? jittered(res.json('pollAfterSeconds')) * 1000 : POLL_MS);
const OPENING_MARGIN_MS = parseFloat(__ENV.OPENING_MARGIN || '5') * 1000;
const OPENING_HOLD_MS = parseFloat(__ENV.OPENING_HOLD || '5') * 1000;
/** estimatedWaitSeconds of a buyer waiting in a paused line: one day. */
const PAUSED_WAIT_S = 86400;

export const NAMES = ['issueToken', 'chargeBalance', 'queueStatus', 'reserveSeat', 'pay']
  .concat(OPENING ? ['getSeats', 'adminSetSchedule', 'adminTuneQueue', 'adminQueue'] : []);

const scenarios = {
  stampede: {
    executor: 'per-vu-iterations',
    vus: VUS,
    iterations: 1,
    maxDuration: DURATION,
    gracefulStop: '5s',
  },
};
if (OPENING) {
  // One more VU that resumes the line when the hold after the opening ends.
  scenarios.opener = {
    executor: 'per-vu-iterations',
    vus: 1,
    iterations: 1,
    maxDuration: DURATION,
    gracefulStop: '5s',
    exec: 'opener',
  };
}

export const options = {
  scenarios,
  setupTimeout: '2m',
  thresholds: thresholds(NAMES),
  summaryTrendStats: TREND_STATS,
};

const JSON_HEADERS = { 'Content-Type': 'application/json' };

function request(name, method, path, payload, token, extra) {
  const headers = Object.assign({}, JSON_HEADERS, extra || {});
  if (token) headers['Queue-Token'] = token;
  const bodyText = payload === null ? null : JSON.stringify(payload);
  return http.asyncRequest(method, `${BASE}${path}`, bodyText, { headers, tags: { name } });
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const ADMIN_HEADERS = Object.assign({ Authorization: `Bearer ${__ENV.ADMIN_TOKEN || ''}` },
  JSON_HEADERS);

function adminRequest(name, method, path, payload) {
  const bodyText = payload === undefined ? null : JSON.stringify(payload);
  return http.request(method, `${BASE}${path}`, bodyText,
    { headers: ADMIN_HEADERS, tags: { name } });
}

/**
 * OPENING: the show opens JOIN_WINDOW + OPENING_MARGIN seconds from now, its line paused
 * until OPENING_HOLD seconds after that. Nobody has joined its line yet, so it has not opened.
 */
function setupOpening() {
  let res = adminRequest('adminTuneQueue', 'PATCH', `/api/admin/queues/${scheduleId}`,
    { paused: true });
  if (res.status !== 200) throw new Error(`pausing the line: ${res.status} ${res.body}`);
  const opensAt = Date.now() + JOIN_WINDOW_MS + OPENING_MARGIN_MS;
  res = adminRequest('adminSetSchedule', 'PATCH', `/api/admin/schedules/${scheduleId}`,
    { salesStart: new Date(opensAt).toISOString() });
  if (res.status !== 200) throw new Error(`moving salesStart: ${res.status} ${res.body}`);
  if (Date.parse(res.json('salesStart')) !== opensAt || res.json('salesStatus') !== 'scheduled') {
    throw new Error(`salesStart not moved: ${res.body}`);
  }
  const holdUntil = opensAt + OPENING_HOLD_MS;
  console.log(`OPENING ${opensAt} ${holdUntil} ${BUYERS}`);
  return { opensAt, holdUntil };
}

/**
 * The seat ids of the show: the seat map read once, by a buyer who is not in the crowd. With
 * OPENING the opening instead (the seat map is read by each VU after it).
 */
export function setup() {
  if (OPENING) return setupOpening();
  const userId = catalogue.users.first + BUYERS;
  const headers = Object.assign({}, JSON_HEADERS, buyerAuth(userId));
  let res = http.post(`${BASE}/api/waiting-queues`,
    JSON.stringify({ userId, concertId, concertScheduleId: scheduleId }), { headers });
  if (res.status !== 201) throw new Error(`setup token: ${res.status} ${res.body}`);
  const token = res.json('token');
  res = http.get(`${BASE}/api/concerts/${concertId}/schedules/${scheduleId}/seats`,
    { headers: { 'Queue-Token': token } });
  if (res.status !== 200) throw new Error(`setup seats: ${res.status} ${res.body}`);
  const seatIds = res.json('seats.#.seatId');
  if (seatIds.length < BUYERS) throw new Error(`${seatIds.length} seats for ${BUYERS} buyers`);
  return { seatIds };
}

async function buyer(n, seatId, deadline) {
  const userId = catalogue.users.first + n;
  await pause(Math.random() * JOIN_WINDOW_MS);
  let res = await request('issueToken', 'POST', '/api/waiting-queues',
    { userId, concertId, concertScheduleId: scheduleId }, null, buyerAuth(userId));
  if (!expectStatus(res, 'issueToken', 201)) return;
  const token = res.json('token');
  const seq = tokenSeq(token);

  let lastWaitingSent = -1;
  let lastPosition = Infinity;
  for (;;) {
    const sent = Date.now();
    res = await request('queueStatus', 'GET', '/api/waiting-queues', null, token);
    if (!expectStatus(res, 'queueStatus', 200)) return;
    if (res.json('status') === 'active') break;
    const position = res.json('position');
    check(position, { 'position never goes up': (p) => p <= lastPosition });
    lastPosition = position;
    lastWaitingSent = sent;
    const wait = nextPoll(res);
    if (Date.now() + wait > deadline) {
      check(null, { 'admitted before the deadline': () => false });
      console.log(`NOT_ADMITTED ${seq} ${lastWaitingSent}`);
      return;
    }
    await pause(wait);
  }
  console.log(`ADMIT ${seq} ${lastWaitingSent} ${Date.now()}`);
  await checkout(userId, seatId, token);
}

/** Checkout, as in flow: top up, hold the seat, pay. */
async function checkout(userId, seatId, token) {
  let res = await request('chargeBalance', 'PATCH', `/api/users/${userId}/balance`,
    { amount: catalogue.price }, token, { 'Idempotency-Key': idemKey('charge', userId) });
  if (!expectStatus(res, 'chargeBalance', 200)) return;

  res = await request('reserveSeat', 'POST', '/api/concerts/reservations',
    { concertId, scheduleId, seatId }, token);
  if (!expectStatus(res, 'reserveSeat', 201)) return;
  const reservationId = res.json('reservationId');
  res = await request('pay', 'POST', '/api/payments', { userId, reservationId }, token,
    { 'Idempotency-Key': idemKey('pay', userId) });
  expectStatus(res, 'pay', 201);
}

/** OPENING: this VU's seat ids, read once with the first active token among its buyers. */
let seatMap = null;
function seatIdsWith(token) {
  if (!seatMap) {
    seatMap = request('getSeats', 'GET',
      `/api/concerts/${concertId}/schedules/${scheduleId}/seats`, null, token)
      .then((res) => (expectStatus(res, 'getSeats', 200) ? res.json('seats.#.seatId') : null));
  }
  return seatMap;
}

/** OPENING: buyer n joins before the opening, reads its place during the hold, then buys. */
async function earlyBuyer(n, opening, deadline) {
  const userId = catalogue.users.first + n;
  await pause(Math.random() * JOIN_WINDOW_MS);
  let res = await request('issueToken', 'POST', '/api/waiting-queues',
    { userId, concertId, concertScheduleId: scheduleId }, null, buyerAuth(userId));
  if (!expectStatus(res, 'issueToken', 201)) return;
  check(Date.now(), { 'joined before the opening': (t) => t < opening.opensAt });
  const token = res.json('token');
  const seq = tokenSeq(token);

  let place = -1;
  let lastWaitingSent = -1;
  let lastPosition = Infinity;
  let admitted = false;
  for (;;) {
    const sent = Date.now();
    res = await request('queueStatus', 'GET', '/api/waiting-queues', null, token);
    const received = Date.now();
    if (!expectStatus(res, 'queueStatus', 200)) break;
    const status = res.json('status');
    if (received < opening.opensAt) {
      // Answered before the opening: in the pre-queue, told when it opens, never let in.
      check(res, {
        'scheduled until the opening': () => status === 'scheduled',
        'opensAt is the salesStart': (r) => Date.parse(r.json('opensAt')) === opening.opensAt,
      });
    }
    if (sent > opening.opensAt) {
      check(status, { 'no longer scheduled after the opening': (st) => st !== 'scheduled' });
    }
    if (status === 'active') {
      admitted = true;
      break;
    }
    if (status === 'waiting') {
      const position = res.json('position');
      check(position, { 'position never goes up': (p) => p <= lastPosition });
      lastPosition = position;
      lastWaitingSent = sent;
      // The line is paused until holdUntil (the server says so too: while paused the wait it
      // estimates is a day): nobody moves, so this is the place drawn at the opening. The
      // server's word counts when k6 itself is too busy to see the answer before holdUntil.
      if (received < opening.holdUntil || res.json('estimatedWaitSeconds') === PAUSED_WAIT_S) {
        if (place < 0) place = position;
        check(position, { 'place kept while the line is held': (p) => p === place });
      }
    }
    const wait = nextPoll(res);
    if (Date.now() + wait > deadline) {
      check(null, { 'admitted before the deadline': () => false });
      break;
    }
    await pause(wait);
  }
  check(place, { 'place read during the hold': (p) => p > 0 });
  console.log(`PLACE ${seq} ${place}`);
  if (!admitted) {
    console.log(`NOT_ADMITTED ${place} ${lastWaitingSent}`);
    return;
  }
  console.log(`ADMIT ${place} ${lastWaitingSent} ${Date.now()}`);
  const seatIds = await seatIdsWith(token);
  if (!seatIds) return;
  if (!check(seatIds, { 'a seat for every buyer': (ids) => ids.length >= BUYERS })) return;
  await checkout(userId, seatIds[n], token);
}

/**
 * OPENING, the opener VU: when the hold ends, checks that the whole crowd is in line and
 * nobody was let in, then resumes the line.
 */
export function opener(data) {
  const wait = data.holdUntil - Date.now();
  if (wait > 0) sleep(wait / 1000);
  let res = adminRequest('adminQueue', 'GET', `/api/admin/queues/${scheduleId}`);
  if (expectStatus(res, 'adminQueue', 200)) {
    check(res, {
      'nobody let in before the line resumes': (r) => r.json('active') === 0,
      'the whole crowd in line at the opening': (r) => r.json('waiting') === BUYERS,
    });
  }
  res = adminRequest('adminTuneQueue', 'PATCH', `/api/admin/queues/${scheduleId}`,
    { paused: false });
  expectStatus(res, 'adminTuneQueue', 200);
}

export default async function (data) {
  // The scenario's iteration, not the VU's id: with OPENING the opener VU takes one of the ids.
  const first = exec.scenario.iterationInTest * BUYERS_PER_VU;
  const last = Math.min(first + BUYERS_PER_VU, BUYERS);
  // Stop waiting a little before maxDuration so that every buyer reports how it ended.
  const deadline = Date.now() + parseDuration(DURATION) - 10000;
  const buyers = [];
  for (let n = first; n < last; n++) {
    buyers.push(OPENING ? earlyBuyer(n, data, deadline) : buyer(n, data.seatIds[n], deadline));
  }
  await Promise.all(buyers);
}

function parseDuration(text) {
  const m = /^(\d+)(ms|s|m)$/.exec(text);
  if (!m) return 60000;
  return parseInt(m[1], 10) * { ms: 1, s: 1000, m: 60000 }[m[2]];
}
