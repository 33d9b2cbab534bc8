// flow: the full buyer flow, 100 VUs, no think time. Each iteration is a distinct buyer and a
// distinct seat: join the line, read the status, read the concert, read the seat map, hold a
// seat, top up the balance, pay. Every answer's status is checked. The buyer joins with its
// JWT as the bearer (signed in the iteration) when the server checks one (--buyer-auth jwt);
// the seed made every buyer's user before the measured part.
//
// Iteration i (over the whole test) is buyer first+i and seat i % SEATS of show i / SEATS, so
// no two iterations want the same seat and the catalogue never runs out: the run ends after
// the last seat or after DURATION, whichever comes first.
import exec from 'k6/execution';
import { check, sleep } from 'k6';
import {
  body, buyerAuth, DURATION, expectStatus, get, idemKey, loadCatalogue, patch, post,
  thresholds, TREND_STATS,
} from './lib.js';

const catalogue = loadCatalogue();
const shows = [];
for (const c of catalogue.concerts) {
  for (const s of c.scheduleIds) shows.push({ concertId: c.concertId, scheduleId: s });
}
const SEATS = catalogue.seatsPerSchedule;
const ITERATIONS = Math.min(catalogue.users.count, shows.length * SEATS);
/** Crash mode (run.sh crash): the server dies under the load, so failures are expected. */
const CRASH = __ENV.CRASH === '1';
/** Polls of a waiting buyer before giving up; the flow runs with room for everyone. */
const MAX_POLLS = 50;

export const NAMES = ['issueToken', 'queueStatus', 'getConcert', 'getSeats', 'reserveSeat',
  'chargeBalance', 'pay'];

export const options = {
  scenarios: {
    flow: {
      executor: 'shared-iterations',
      vus: parseInt(__ENV.VUS || '100', 10),
      iterations: ITERATIONS,
      maxDuration: DURATION,
      gracefulStop: '5s',
    },
  },
  thresholds: thresholds(NAMES),
  summaryTrendStats: TREND_STATS,
  discardResponseBodies: false,
};

export default function () {
  const i = exec.scenario.iterationInTest;
  const userId = catalogue.users.first + i;
  const show = shows[Math.floor(i / SEATS)];
  const paid = buy(userId, show, i % SEATS, catalogue.price);
  if (CRASH && paid) {
    // The crash audit's ledger of what clients were told: every 201 payment.
    console.log(`PAID ${paid.paymentId} ${paid.userId} ${paid.reservationId}`);
  }
}

/** One buyer's whole flow; returns the payment or null. Exported for the crash scenario. */
export function buy(userId, show, seatIndex, price) {
  const paid = tryBuy(userId, show, seatIndex, price);
  // A refused connection (the server is down in the crash scenario) answers at once; pause
  // so that the VUs do not burn through the catalogue while it restarts.
  if (!paid && CRASH) sleep(0.2);
  return paid;
}

function tryBuy(userId, show, seatIndex, price) {
  const { concertId, scheduleId } = show;
  // The buyer's credential (its JWT) joins the line; the queue token does the rest.
  let res = post('issueToken', '/api/waiting-queues', {
    userId, concertId, concertScheduleId: scheduleId,
  }, null, buyerAuth(userId));
  if (!expectStatus(res, 'issueToken', 201)) return null;
  const token = body(res).token;

  let active = false;
  for (let poll = 0; poll < MAX_POLLS && !active; poll++) {
    res = get('queueStatus', '/api/waiting-queues', token);
    if (!expectStatus(res, 'queueStatus', 200)) return null;
    active = body(res).status === 'active';
    if (!active) sleep(0.1);
  }
  if (!check(active, { 'buyer admitted': (a) => a })) return null;

  res = get('getConcert', `/api/concerts/${concertId}`, token);
  if (!expectStatus(res, 'getConcert', 200)) return null;

  res = get('getSeats', `/api/concerts/${concertId}/schedules/${scheduleId}/seats`, token);
  if (!expectStatus(res, 'getSeats', 200)) return null;
  // gjson picks the one seat on the Go side: parsing 500 seats in JS per iteration would
  // make k6 itself the bottleneck.
  const seat = res.json(`seats.${seatIndex}`);
  if (!check(seat, { 'chosen seat is available': (s) => s && s.status === 'available' })) {
    return null;
  }

  res = post('reserveSeat', '/api/concerts/reservations', {
    concertId, scheduleId, seatId: seat.seatId,
  }, token);
  if (!expectStatus(res, 'reserveSeat', 201)) return null;
  const reservationId = body(res).reservationId;

  res = patch('chargeBalance', `/api/users/${userId}/balance`, { amount: price || seat.price },
    token, { 'Idempotency-Key': idemKey('charge', userId) });
  if (!expectStatus(res, 'chargeBalance', 200)) return null;

  res = post('pay', '/api/payments', { userId, reservationId }, token,
    { 'Idempotency-Key': idemKey('pay', userId) });
  if (!expectStatus(res, 'pay', 201)) return null;
  return { paymentId: body(res).paymentId, userId, reservationId };
}
