// race: 1,000 VUs, each a distinct buyer with an active session, hammer the few seats of one
// show with holds; every hold that wins is paid at once. A seat is held at most once, so the
// holds won must equal the seats exactly (threshold on holds_won), and every losing attempt
// must be a clean 409. The runner's audit then checks the database seat by seat.
import exec from 'k6/execution';
import { sleep } from 'k6';
import { Counter } from 'k6/metrics';
import http from 'k6/http';
import {
  body, buyerAuth, DURATION, expectStatus, get, idemKey, loadCatalogue, patch, post,
  thresholds, TREND_STATS,
} from './lib.js';

const catalogue = loadCatalogue();
const concertId = catalogue.concerts[0].concertId;
const scheduleId = catalogue.concerts[0].scheduleIds[0];
const SEATS = catalogue.seatsPerSchedule;
const VUS = parseInt(__ENV.VUS || '1000', 10);

const holdsWon = new Counter('holds_won');
const holdsLost = new Counter('holds_lost');

export const NAMES = ['issueToken', 'getSeats', 'chargeBalance', 'reserveSeat', 'pay'];

export const options = {
  scenarios: {
    race: {
      executor: 'constant-vus',
      vus: VUS,
      duration: DURATION,
      gracefulStop: '5s',
    },
  },
  thresholds: thresholds(NAMES, { holds_won: [`count==${SEATS}`] }),
  summaryTrendStats: TREND_STATS,
};

// 409 is the expected answer of a lost race, not a failed request.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 409));

// Per VU: its buyer's token, the seat ids, and whether it already won its seat.
let token = null;
let seatIds = null;
let won = false;

function join(userId) {
  let res = post('issueToken', '/api/waiting-queues', {
    userId, concertId, concertScheduleId: scheduleId,
  }, null, buyerAuth(userId));
  if (!expectStatus(res, 'issueToken', 201)) return false;
  token = body(res).token;
  res = get('getSeats', `/api/concerts/${concertId}/schedules/${scheduleId}/seats`, token);
  if (!expectStatus(res, 'getSeats', 200)) return false;
  seatIds = res.json('seats.#.seatId');
  res = patch('chargeBalance', `/api/users/${userId}/balance`, { amount: catalogue.price },
    token, { 'Idempotency-Key': idemKey('charge', userId) });
  return expectStatus(res, 'chargeBalance', 200);
}

export default function () {
  const userId = catalogue.users.first + exec.vu.idInTest - 1;
  if (won || (token === null && !join(userId))) {
    // A winner has its seat and its session ended with the payment; a buyer that could not
    // join has failed its check already. Neither hammers any more.
    sleep(1);
    return;
  }
  const seatId = seatIds[Math.floor(Math.random() * seatIds.length)];
  let res = post('reserveSeat', '/api/concerts/reservations', { concertId, scheduleId, seatId },
    token);
  if (!expectStatus(res, 'reserveSeat', 201, 409)) return;
  if (res.status === 409) {
    holdsLost.add(1);
    return;
  }
  holdsWon.add(1);
  won = true;
  const reservationId = body(res).reservationId;
  res = post('pay', '/api/payments', { userId, reservationId }, token,
    { 'Idempotency-Key': idemKey('pay', userId) });
  expectStatus(res, 'pay', 201);
}
