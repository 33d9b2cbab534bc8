// stampede: BUYERS (20,000) buyers join one show's line within JOIN_WINDOW (10) seconds and
// poll their status every second until admitted; each admitted buyer tops up, holds a seat of
// its own and pays, which ends its session and lets the next one in.
//
// One VU plays BUYERS_PER_VU buyers at once with async requests, so 20,000 buyers need 200
// VUs, not 20,000. Every buyer prints one line for the runner's order check:
//   ADMIT <seq> <last waiting poll sent, ms> <first active answer received, ms>
//   NOT_ADMITTED <seq> <last waiting poll sent, ms>
// Nobody was admitted out of order when no buyer was still told "waiting" in a poll sent
// after a buyer later in line had been told "active" (seq is the place in line, read from the
// token). Seats are checked in the database by the runner's audit.
import exec from 'k6/execution';
import http from 'k6/http';
import { check } from 'k6';
import { setTimeout } from 'k6/timers';
import {
  BASE, buyerAuth, DURATION, expectStatus, idemKey, loadCatalogue, thresholds, tokenSeq,
  TREND_STATS,
} from './lib.js';

const catalogue = loadCatalogue();
const concertId = catalogue.concerts[0].concertId;
const scheduleId = catalogue.concerts[0].scheduleIds[0];
const BUYERS = parseInt(__ENV.BUYERS || '20000', 10);
const BUYERS_PER_VU = parseInt(__ENV.BUYERS_PER_VU || '100', 10);
const JOIN_WINDOW_MS = parseFloat(__ENV.JOIN_WINDOW || '10') * 1000;
const POLL_MS = 1000;
const VUS = Math.ceil(BUYERS / BUYERS_PER_VU);

export const NAMES = ['issueToken', 'chargeBalance', 'queueStatus', 'reserveSeat', 'pay'];

export const options = {
  scenarios: {
    stampede: {
      executor: 'per-vu-iterations',
      vus: VUS,
      iterations: 1,
      maxDuration: DURATION,
      gracefulStop: '5s',
    },
  },
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

/** The seat ids of the show: the seat map read once, by a buyer who is not in the crowd. */
export function setup() {
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
    if (Date.now() + POLL_MS > deadline) {
      check(null, { 'admitted before the deadline': () => false });
      console.log(`NOT_ADMITTED ${seq} ${lastWaitingSent}`);
      return;
    }
    await pause(POLL_MS);
  }
  console.log(`ADMIT ${seq} ${lastWaitingSent} ${Date.now()}`);

  // Checkout, as in flow: top up, hold the seat, pay.
  res = await request('chargeBalance', 'PATCH', `/api/users/${userId}/balance`,
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

export default async function (data) {
  const first = (exec.vu.idInTest - 1) * BUYERS_PER_VU;
  const last = Math.min(first + BUYERS_PER_VU, BUYERS);
  // Stop waiting a little before maxDuration so that every buyer reports how it ended.
  const deadline = Date.now() + parseDuration(DURATION) - 10000;
  const buyers = [];
  for (let n = first; n < last; n++) buyers.push(buyer(n, data.seatIds[n], deadline));
  await Promise.all(buyers);
}

function parseDuration(text) {
  const m = /^(\d+)(ms|s|m)$/.exec(text);
  if (!m) return 60000;
  return parseInt(m[1], 10) * { ms: 1, s: 1000, m: 60000 }[m[2]];
}
