// What the browser tests share: a real `boxoffice serve` of their own, and API calls to set
// the scene (the admin API, other buyers) the way any client would.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { expect } = require('@playwright/test');
const AxeBuilder = require('@axe-core/playwright').default;

const ADMIN_TOKEN = 'browser-test-admin-token';
const PASSWORD = 'browser-test-password';

function binary() {
  const bin = process.env.BOXOFFICE_BIN;
  if (!bin) throw new Error('set BOXOFFICE_BIN to the boxoffice binary (.ci/browser.sh does)');
  return bin;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts `boxoffice serve` with a temporary database and `extra` flags. */
async function startServer(extra = [], { command = 'serve' } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'boxoffice-browser-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const log = fs.openSync(path.join(dir, 'server.log'), 'w');
  const child = spawn(
    binary(),
    [
      command, '--listen', `127.0.0.1:${port}`, '--db', path.join(dir, 'shop.db'),
      '--admin-token', ADMIN_TOKEN, '--queue-issue-rate-limit', '0', '--sign-in-rate-limit', '0',
      '--sign-in-account-rate-limit', '0', '--queue-tick', '250ms', ...extra,
    ],
    { stdio: ['ignore', log, log], env: { ...process.env, NO_COLOR: '1', RUST_LOG: 'warn' } },
  );
  let exited = false;
  child.once('exit', () => { exited = true; });
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(`${base}/health`);
      if (r.ok) break;
    } catch (err) { /* not up yet */ }
    if (exited || Date.now() > deadline) {
      throw new Error(`the server did not come up:\n${fs.readFileSync(path.join(dir, 'server.log'), 'utf8')}`);
    }
    await sleep(100);
  }
  const server = {
    base,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        for (let i = 0; i < 50 && !exited; i += 1) await sleep(100);
        if (!exited) child.kill('SIGKILL');
      }
      fs.closeSync(log);
      fs.rmSync(dir, { recursive: true, force: true });
    },
    /** A JSON API call; answers the parsed body and fails the test on an unexpected status. */
    async call(method, urlPath, { body, bearer, queueToken, expectStatus } = {}) {
      const headers = { Accept: 'application/json' };
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      if (bearer) headers.Authorization = `Bearer ${bearer}`;
      if (queueToken) headers['Queue-Token'] = queueToken;
      const resp = await fetch(base + urlPath, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await resp.text();
      const data = text ? JSON.parse(text) : null;
      if (expectStatus ? resp.status !== expectStatus : !resp.ok) {
        throw new Error(`${method} ${urlPath} answered ${resp.status}: ${text}`);
      }
      return data;
    },
    admin(method, urlPath, body) {
      return server.call(method, urlPath, { body, bearer: ADMIN_TOKEN });
    },
    /** A concert of one show with `rows` rows of `perRow` seats (A1, A2, …), or the seats of `layout`; `{concertId, scheduleId}`. */
    async concert({ title = 'Browser Test Live', rows = 2, perRow = 6, price = 5000, salesStart, seatNumber, layout } = {}) {
      const seats = layout ? [...layout] : [];
      for (let r = 0; r < (layout ? 0 : rows); r += 1) {
        for (let n = 1; n <= perRow; n += 1) {
          const number = `${String.fromCharCode(65 + r)}${n}`;
          seats.push({ seatNumber: seatNumber ? seatNumber(number) : number, price: r === 0 ? price * 2 : price });
        }
      }
      const schedule = { startTime: new Date(Date.now() + 30 * 86400_000).toISOString(), seats };
      if (salesStart) schedule.salesStart = salesStart;
      const made = await server.admin('POST', '/api/admin/concerts', { title, schedules: [schedule] });
      return { concertId: made.concertId, scheduleId: made.schedules[0].scheduleId };
    },
    /** A buyer made by the admin, signed in over the API: `{userId, email, session}`. */
    async buyer(name = 'Other Buyer') {
      const email = `${name.replace(/\W+/g, '.').toLowerCase()}.${Math.random().toString(36).slice(2, 10)}@example.com`;
      const user = await server.admin('POST', '/api/admin/users', { name, email, password: PASSWORD });
      const session = await server.call('POST', '/api/sessions', { body: { email, password: PASSWORD } });
      return { userId: user.userId, email, name, session: session.sessionToken };
    },
    /** Puts `buyer` in the line of a show; answers the queue token. */
    async join(buyer, show) {
      const issued = await server.call('POST', '/api/waiting-queues', {
        bearer: buyer.session,
        body: { concertId: show.concertId, concertScheduleId: show.scheduleId },
      });
      return issued.token;
    },
    async queueStatus(token) {
      return server.call('GET', '/api/waiting-queues', { queueToken: token });
    },
  };
  return server;
}

/** A unique email address for a buyer who signs up in the browser. */
function email(name) {
  return `${name}.${Math.random().toString(36).slice(2, 10)}@example.com`;
}

/** Signs up in the browser (the sign-up page, then back to `next`). */
async function signUp(page, server, { name, address, next = '/' }) {
  await page.goto(`${server.base}/sign-up?next=${encodeURIComponent(next)}`);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Email').fill(address);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create the account' }).click();
  await expect(page.locator('#account')).toContainText(name);
}

/** Signs in in the browser with an account made elsewhere. */
async function signIn(page, server, { email: address, name }, next = '/') {
  await page.goto(`${server.base}/sign-in?next=${encodeURIComponent(next)}`);
  await page.getByLabel('Email').fill(address);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('#account')).toContainText(name);
}

/** axe-core on the page as it stands: no serious or critical violation. */
async function expectAccessible(page, what) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const report = bad.map((v) => `${v.impact} ${v.id}: ${v.help}\n  ${v.nodes.map((n) => n.target.join(' ')).join('\n  ')}`).join('\n');
  expect(bad, `axe on ${what}:\n${report}`).toEqual([]);
}

/** Fails the test when the page opens a dialog (alert) or logs a CSP violation or an error. */
function watchPage(page) {
  const problems = [];
  page.on('dialog', (dialog) => {
    problems.push(`a dialog opened: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  return problems;
}

module.exports = { ADMIN_TOKEN, PASSWORD, startServer, email, signUp, signIn, expectAccessible, watchPage, sleep };
