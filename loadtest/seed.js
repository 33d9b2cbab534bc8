// Creates the catalogue of a run through the admin API and writes it as JSON for the scenario
// scripts: CONCERTS concerts of SCHEDULES_PER_CONCERT shows of SEATS seats each, then USERS
// buyers. On the fresh database the runner starts, the buyers get ids 1..USERS: each creation
// is checked to answer 201 with an id in that range, and ids are unique.
import { check } from 'k6';
import exec from 'k6/execution';
import { admin, body, expectStatus, thresholds, TREND_STATS } from './lib.js';

const CONCERTS = parseInt(__ENV.CONCERTS || '1', 10);
const SCHEDULES_PER_CONCERT = parseInt(__ENV.SCHEDULES_PER_CONCERT || '1', 10);
const SEATS = parseInt(__ENV.SEATS || '500', 10);
const USERS = parseInt(__ENV.USERS || '1', 10);
const PRICE = parseInt(__ENV.PRICE || '50000', 10);

export const options = {
  scenarios: {
    users: {
      executor: 'shared-iterations',
      vus: Math.max(1, Math.min(50, USERS)),
      iterations: USERS,
      maxDuration: '10m',
    },
  },
  setupTimeout: '10m',
  thresholds: thresholds([]),
  summaryTrendStats: TREND_STATS,
};

function seats() {
  const list = [];
  for (let n = 0; n < SEATS; n++) {
    list.push({ seatNumber: `R${Math.floor(n / 50) + 1}-${(n % 50) + 1}`, price: PRICE });
  }
  return list;
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
  return { concerts, seatsPerSchedule: SEATS, price: PRICE, users: { first: 1, count: USERS } };
}

export default function () {
  const n = exec.scenario.iterationInTest + 1;
  const res = admin('adminCreateUser', '/api/admin/users', {
    name: `Buyer ${n}`,
    email: `buyer${n}@load.test`,
  });
  expectStatus(res, 'adminCreateUser', 201);
  const created = body(res);
  // Ids are unique, so USERS answers all within 1..USERS mean the buyers are exactly 1..USERS.
  const id = created && created.userId;
  check(id, { 'user id within 1..USERS (fresh database)': (v) => v >= 1 && v <= USERS });
}

export function handleSummary(data) {
  const out = {};
  out[__ENV.CATALOGUE] = JSON.stringify(data.setup_data);
  out.stdout = `seed: ${data.setup_data.concerts.length} concerts, ` +
    `${USERS} users, checks ${JSON.stringify(data.metrics.checks.values)}\n`;
  return out;
}
