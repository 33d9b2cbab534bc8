// Creates the catalogue of a run through the admin API and writes it as JSON for the scenario
// scripts: CONCERTS concerts of SCHEDULES_PER_CONCERT shows of SEATS seats each, then USERS
// buyers. On the fresh database the runner starts, the buyers get ids 1..USERS: each creation
// is checked to answer with an id in that range, and ids are unique.
//
// Without buyer authentication (a build before --buyer-auth) the buyers are created with
// POST /api/admin/users. With BUYER_JWT_SECRET (--buyer-auth jwt) each buyer n signs in as
// its JWT would in the measured part: GET /api/accounts/current with it makes the user. These
// run 50 at a time, so buyer n gets some id of 1..USERS, not necessarily n; which one is
// written to SUBJECTS_OUT (the n of id i in the i-th SUBJECT_WIDTH digits) for lib.js's buyerAuth(userId).
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import {
  admin, BASE, body, BUYER_JWT_SECRET, buyerJwt, expectStatus, SUBJECT_WIDTH, thresholds,
  TREND_STATS,
} from './lib.js';

const CONCERTS = parseInt(__ENV.CONCERTS || '1', 10);
const SCHEDULES_PER_CONCERT = parseInt(__ENV.SCHEDULES_PER_CONCERT || '1', 10);
const SEATS = parseInt(__ENV.SEATS || '500', 10);
const USERS = parseInt(__ENV.USERS || '1', 10);
const PRICE = parseInt(__ENV.PRICE || '50000', 10);
const JWT = BUYER_JWT_SECRET !== '';
/** Buyers created at once. */
const PARALLEL = 50;

export const options = {
  scenarios: {
    // With JWTs setup() makes the buyers, to see every id; the one iteration does nothing.
    users: {
      executor: 'shared-iterations',
      vus: JWT ? 1 : Math.max(1, Math.min(PARALLEL, USERS)),
      iterations: JWT ? 1 : USERS,
      maxDuration: '10m',
    },
  },
  batch: PARALLEL,
  batchPerHost: PARALLEL,
  setupTimeout: '10m',
  thresholds: thresholds([]),
  summaryTrendStats: TREND_STATS,
};

const FRESH = 'user id within 1..USERS (fresh database)';

function seats() {
  const list = [];
  for (let n = 0; n < SEATS; n++) {
    list.push({ seatNumber: `R${Math.floor(n / 50) + 1}-${(n % 50) + 1}`, price: PRICE });
  }
  return list;
}

/** Buyers 1..USERS made by their JWTs; returns the n of each id (of id i at i - 1). */
function jwtBuyers() {
  const subjects = new Array(USERS).fill(0);
  for (let first = 1; first <= USERS; first += PARALLEL) {
    const requests = [];
    for (let n = first; n < first + PARALLEL && n <= USERS; n++) {
      requests.push(['GET', `${BASE}/api/accounts/current`, null, {
        headers: { Authorization: `Bearer ${buyerJwt(n)}` }, tags: { name: 'currentAccount' },
      }]);
    }
    http.batch(requests).forEach((res, k) => {
      if (!expectStatus(res, 'currentAccount', 200)) return;
      const id = res.json('userId');
      // Unique ids within 1..USERS for USERS buyers are exactly 1..USERS.
      if (check(id, { [FRESH]: (v) => v >= 1 && v <= USERS && subjects[v - 1] === 0 })) {
        subjects[id - 1] = first + k;
      }
    });
  }
  return subjects;
}

export function setup() {
  const layout = seats();
  const concerts = [];
  for (let c = 0; c < CONCERTS; c++) {
    const schedules = [];
    for (let s = 0; s < SCHEDULES_PER_CONCERT; s++) {
      const day = new Date(Date.UTC(2031, 0, 1 + s, 19, 30)).toISOString();
      schedules.push({ startTime: day, seats: layout });
    }
    const res = admin('adminCreateConcert', '/api/admin/concerts', {
      title: `Load concert ${c + 1}`,
      schedules,
    });
    if (!expectStatus(res, 'adminCreateConcert', 201)) {
      throw new Error(`creating concert ${c + 1}: ${res.status} ${res.body}`);
    }
    const created = body(res);
    concerts.push({
      concertId: created.concertId,
      scheduleIds: created.schedules.map((s) => s.scheduleId),
    });
  }
  const catalogue = {
    concerts, seatsPerSchedule: SEATS, price: PRICE, users: { first: 1, count: USERS },
  };
  return JWT ? { catalogue, subjects: jwtBuyers() } : { catalogue };
}

export default function () {
  if (JWT) return;
  const n = exec.scenario.iterationInTest + 1;
  const res = admin('adminCreateUser', '/api/admin/users', {
    name: `Buyer ${n}`,
    email: `buyer${n}@load.test`,
  });
  expectStatus(res, 'adminCreateUser', 201);
  const created = body(res);
  // Ids are unique, so USERS answers all within 1..USERS mean the buyers are exactly 1..USERS.
  const id = created && created.userId;
  check(id, { [FRESH]: (v) => v >= 1 && v <= USERS });
}

export function handleSummary(data) {
  const out = {};
  out[__ENV.CATALOGUE] = JSON.stringify(data.setup_data.catalogue);
  if (JWT) {
    out[__ENV.SUBJECTS_OUT] =
      data.setup_data.subjects.map((n) => String(n).padStart(SUBJECT_WIDTH, '0')).join('');
  }
  out.stdout = `seed: ${data.setup_data.catalogue.concerts.length} concerts, ` +
    `${USERS} users (${JWT ? 'by their JWTs' : 'by the admin API'}), ` +
    `checks ${JSON.stringify(data.metrics.checks.values)}\n`;
  return out;
}
