// health: the HTTP ceiling. 100 VUs call GET /health with no think time; no storage, no JSON
// to speak of, so its request rate is what the server and k6 reach on this machine at most.
import { DURATION, expectStatus, get, thresholds, TREND_STATS } from './lib.js';

export const options = {
  scenarios: {
    health: {
      executor: 'constant-vus',
      vus: parseInt(__ENV.VUS || '100', 10),
      duration: DURATION,
      gracefulStop: '5s',
    },
  },
  thresholds: thresholds(['health']),
  summaryTrendStats: TREND_STATS,
  discardResponseBodies: true,
};

export default function () {
  expectStatus(get('health', '/health'), 'health', 200);
}
