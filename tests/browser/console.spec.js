// The box-office console in a real browser, against the real binary: signing in with the
// admin token, a concert made with the layout generator that a buyer then sees drawn, the
// line watched live and steered, the sales window and the holds, hostile text shown as text,
// and axe-core plus a screenshot of every console page on a desktop and a phone.
const path = require('node:path');
const { test, expect } = require('@playwright/test');
const { ADMIN_TOKEN, startServer, signIn, expectAccessible, watchPage } = require('./support');

const SHOTS = process.env.BOXOFFICE_SCREENSHOTS_DIR || path.join(__dirname, '..', '..', 'docs', 'screenshots');
const HOSTILE = '<img src=x onerror=alert(1)>';
// Events go to a webhook where nothing listens, and die at the first failure.
const DEAD_WEBHOOK = [
  '--webhook-url', 'http://127.0.0.1:9/hook', '--webhook-secret', 'browser-test-webhook-secret',
  '--outbox-max-attempts', '1', '--outbox-interval', '200ms', '--outbox-retry-base', '100ms',
];

/** Signs in to the console with the admin token. */
async function signInToConsole(page, server) {
  await page.goto(`${server.base}/admin`);
  await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Concerts' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
}

/** Holds the first available seat for `buyer` (let in with `token`); answers the hold. */
async function holdOne(server, token, show) {
  const map = await server.call('GET', `/api/concerts/${show.concertId}/schedules/${show.scheduleId}/seats`, { queueToken: token });
  const seat = map.seats.find((s) => s.status === 'available');
  return server.call('POST', '/api/concerts/reservations', {
    queueToken: token, body: { concertId: show.concertId, scheduleId: show.scheduleId, seatId: seat.seatId }, expectStatus: 201,
  });
}

/** Holds a seat for `buyer` and pays for it, which ends the buyer's session. */
async function buyOne(server, buyer, token, show) {
  const hold = await holdOne(server, token, show);
  await server.call('PATCH', `/api/users/${buyer.userId}/balance`, { bearer: buyer.session, body: { amount: hold.price } });
  await server.call('POST', '/api/payments', { queueToken: token, body: { userId: buyer.userId, reservationId: hold.reservationId }, expectStatus: 201 });
}

/** Fills the generator with two sections: the stalls priced per row, a balcony at one price. */
async function fillLayout(page, title) {
  await page.getByLabel('Title').fill(title);
  const first = page.locator('#sections fieldset').nth(0);
  await first.getByLabel('Name').fill('Stalls');
  await first.getByLabel('Rows').fill('2');
  await first.getByLabel('Seats per row').fill('4');
  await first.getByLabel(/^Price/).fill('80, 60');
  await page.getByRole('button', { name: 'Add a section' }).click();
  const second = page.locator('#sections fieldset').nth(1);
  await expect(second.getByLabel('Name')).toBeFocused();
  await page.keyboard.type('Balcony');
  await second.getByLabel('Rows').fill('1');
  await second.getByLabel('Seats per row').fill('5');
  await second.getByLabel(/^Price/).fill('40');
  await expect(page.locator('#preview')).toHaveText('13 seats per show (Stalls 2 × 4, Balcony 1 × 5), worth 760.00 when sold out.');
}

test('the console creates a concert of two shows with a generated layout, which a buyer then sees drawn', async ({ page }) => {
  const server = await startServer();
  try {
    const problems = watchPage(page);
    await page.goto(`${server.base}/admin`);
    await page.getByLabel('Admin token').fill('not-the-admin-token');
    await page.keyboard.press('Enter');
    const wrong = await server.call('POST', '/api/admin/sessions', { body: { token: 'not-the-admin-token' }, expectStatus: 401 });
    await expect(page.locator('#sign-in-error')).toHaveText(wrong.message);
    await expect(page.locator('#sign-in-error')).toHaveAttribute('role', 'alert');
    await signInToConsole(page, server);
    // The session cookie is out of the scripts' reach and never sent by another site; a change
    // without the CSRF token is refused.
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'bx_admin');
    expect(session.httpOnly).toBe(true);
    expect(session.sameSite).toBe('Strict');
    const readable = await page.evaluate(() => document.cookie);
    expect(readable).not.toMatch(/(^|; )bx_admin=/);
    expect(readable).toContain('bx_admin_csrf=');
    const forged = await page.evaluate(async () => {
      const r = await fetch('/api/admin/concerts', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"title":"x","schedules":[]}' });
      return { status: r.status, body: await r.json() };
    });
    expect(forged.status).toBe(403);
    expect(forged.body.errorCode).toBe('CSRF_TOKEN_INVALID');

    await page.getByRole('link', { name: 'New concert' }).first().click();
    await fillLayout(page, 'Generated Hall');
    await page.getByRole('button', { name: 'Add a show' }).click();
    const second = page.locator('#shows fieldset').nth(1);
    await expect(second.getByLabel('Starts at')).toBeFocused();
    await second.getByLabel('Starts at').fill('2031-06-01T19:30');
    await second.getByLabel('Most tickets per buyer').fill('2');
    await page.getByRole('button', { name: 'Create the concert' }).click();
    await expect(page).toHaveURL(/\/admin\/show\?schedule=\d+&created=1$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Generated Hall' })).toBeVisible();
    await expect(page.getByRole('status').filter({ hasText: 'The concert is created' })).toBeVisible();
    await expect(page.locator('#s-total')).toHaveText('13');

    const made = (await server.admin('GET', '/api/admin/concerts?q=Generated')).concerts;
    expect(made).toHaveLength(1);
    expect(made[0].schedules.map((s) => s.totalSeats)).toEqual([13, 13]);
    expect(made[0].schedules[1].maxTicketsPerBuyer).toBe(2);
    expect(Date.parse(made[0].schedules[1].startTime)).toBe(new Date(2031, 5, 1, 19, 30).getTime());
    // The other show is one link away.
    await page.getByRole('navigation', { name: 'Shows of this concert' }).getByRole('link').nth(1).click();
    await expect(page.locator('#limit')).toHaveValue('2');

    // A show that does not exist: the API's answer, as text.
    await page.goto(`${server.base}/admin/show?schedule=999999`);
    const missing = await server.call('GET', '/api/admin/schedules/999999', { bearer: ADMIN_TOKEN, expectStatus: 404 });
    await expect(page.locator('#error')).toHaveText(missing.message);

    const show = { concertId: made[0].concertId, scheduleId: made[0].schedules[0].scheduleId };
    await signIn(page, server, await server.buyer('Plan Reader'), `/queue?concert=${show.concertId}&schedule=${show.scheduleId}`);
    await expect(page).toHaveURL(/\/seats\?/);
    const front = page.getByRole('button', { name: /^Seat Stalls A1, section Stalls, row A, number 1, 80\.00, available$/ });
    const second_row = page.getByRole('button', { name: /^Seat Stalls B1, section Stalls, row B, number 1, 60\.00, available$/ });
    const balcony = page.getByRole('button', { name: /^Seat Balcony A1, section Balcony, row A, number 1, 40\.00, available$/ });
    await expect(front).toBeVisible();
    await expect(page.getByRole('button', { name: /^Seat Stalls B4, section Stalls, row B, number 4, 60\.00, available$/ })).toBeVisible();
    await expect(page.getByRole('button', { name: /^Seat Balcony A5, section Balcony, row A, number 5, 40\.00, available$/ })).toBeVisible();
    await expect(page.getByRole('button', { name: /^Seat / })).toHaveCount(13);
    await expect(page.locator('#legend')).toContainText('Stalls: 60.00 / 80.00');
    await expect(page.locator('#legend')).toContainText('Balcony: 40.00');
    // Drawn as generated: row B behind row A, the balcony behind the stalls.
    const [a, b, c] = await Promise.all([front.boundingBox(), second_row.boundingBox(), balcony.boundingBox()]);
    expect(b.y).toBeGreaterThan(a.y + a.height - 1);
    expect(c.y).toBeGreaterThan(b.y + b.height - 1);
    expect(problems).toEqual([]);
  } finally {
    await server.stop();
  }
});

test('the console watches a line live, pauses it, changes its knobs, sets the sales window and releases a hold', async ({ page }) => {
  const server = await startServer(['--queue-max-active', '1']);
  try {
    const problems = watchPage(page);
    const show = await server.concert({ title: 'Busy Night' });
    const first = await server.buyer('First Buyer');
    const firstToken = await server.join(first, show);
    const second = await server.buyer('Second Buyer');
    const secondToken = await server.join(second, show);
    await signInToConsole(page, server);
    await page.getByRole('link', { name: /^Show of .*: Busy Night$/ }).click();
    await expect(page.locator('#q-waiting')).toHaveText('1');
    await expect(page.locator('#q-active')).toHaveText('1 of at most 1');
    await expect(page.locator('#q-eta')).toHaveText(/^(about \d+ minutes?|less than a minute|Unknown: .+)$/);
    await expect(page.locator('#s-available')).toHaveText('12');

    // Pause from the keyboard; the line stays paused when the knobs make room.
    await page.getByRole('button', { name: 'Pause the line' }).focus();
    await page.keyboard.press('Enter');
    await expect(page.locator('#q-state')).toHaveText('Paused: nobody is let in');
    await expect(page.locator('#q-eta')).toHaveText('Not while paused');
    expect((await server.admin('GET', `/api/admin/queues/${show.scheduleId}`)).paused).toBe(true);
    const rate = page.getByLabel('Buyers let in per minute');
    await rate.fill('0');
    await rate.press('Enter');
    const refused = await server.call('PATCH', `/api/admin/queues/${show.scheduleId}`, { bearer: ADMIN_TOKEN, body: { admitPerMinute: 0 }, expectStatus: 400 });
    await expect(page.locator('#knobs-error')).toHaveText(refused.message);
    await rate.fill('120');
    await page.getByLabel('Most active buyers at once').fill('3');
    await page.getByRole('button', { name: 'Save the admission' }).click();
    await expect(page.locator('#knobs-done')).toHaveText('Saved: at most 3 at once, 120 a minute.');
    await expect(page.locator('#knobs-error')).toBeHidden();
    await expect(page.locator('#q-active')).toHaveText('1 of at most 3');
    expect((await server.queueStatus(secondToken)).status).toBe('waiting');
    await page.getByRole('button', { name: 'Resume the line' }).click();
    await expect(page.locator('#q-waiting')).toHaveText('0');
    await expect(page.locator('#q-active')).toHaveText('2 of at most 3');
    await expect(page.locator('#q-eta')).toHaveText('Nobody is waiting');
    expect((await server.queueStatus(secondToken)).status).toBe('active');

    // The sales window: a closing before the opening is the API's to refuse.
    await page.getByLabel('Sales open at').fill('2031-01-10T10:00');
    await page.getByLabel('Sales close at').fill('2031-01-09T10:00');
    await page.getByRole('button', { name: 'Save the sales window' }).click();
    const backwards = await server.call('PATCH', `/api/admin/schedules/${show.scheduleId}`, {
      bearer: ADMIN_TOKEN, body: { salesStart: '2031-01-10T10:00:00Z', salesEnd: '2031-01-09T10:00:00Z' }, expectStatus: 400,
    });
    await expect(page.locator('#window-error')).toHaveText(backwards.message);
    const opens = new Date(Date.now() - 3600_000);
    const closes = new Date(Date.now() + 7 * 86400_000);
    const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await page.getByLabel('Sales open at').fill(local(opens));
    await page.getByLabel('Sales close at').fill(local(closes));
    await page.getByLabel('Most tickets per buyer').fill('3');
    await page.getByRole('button', { name: 'Save the sales window' }).click();
    await expect(page.locator('#window-done')).toHaveText('Saved: sales open, at most 3 per buyer.');
    const schedule = await server.admin('GET', `/api/admin/schedules/${show.scheduleId}`);
    expect(schedule.maxTicketsPerBuyer).toBe(3);
    expect(Date.parse(schedule.salesEnd)).toBe(Math.floor(closes.getTime() / 60_000) * 60_000);

    // A hold shows up with its buyer and can be released; a payment shows in the sales.
    const hold = await holdOne(server, secondToken, show);
    await buyOne(server, first, firstToken, show);
    await expect(page.locator('#s-held')).toHaveText('1');
    await expect(page.locator('#s-sold')).toHaveText('1');
    await expect(page.locator('#s-revenue')).toHaveText('100.00');
    await page.getByRole('button', { name: 'Refresh the holds and payments' }).click();
    await expect(page.locator('#holds')).toContainText('Second Buyer');
    await expect(page.locator('#holds')).toContainText(`Hold ${hold.reservationId}: ${hold.seatNumber}`);
    await expect(page.locator('#payments')).toContainText('First Buyer');
    await page.getByRole('button', { name: `Release hold ${hold.reservationId} of Second Buyer` }).click();
    await expect(page.locator('#holds')).toHaveText('No open holds.');
    await expect(page.locator('#s-held')).toHaveText('0');
    const map = await server.call('GET', `/api/concerts/${show.concertId}/schedules/${show.scheduleId}/seats`, { queueToken: secondToken });
    expect(map.seats.find((s) => s.seatId === hold.seatId).status).toBe('available');
    // A hold that ended behind the console's back: the release is refused, and the console
    // shows the API's answer next to the list.
    const later = await holdOne(server, secondToken, show);
    await page.getByRole('button', { name: 'Refresh the holds and payments' }).click();
    const stale = page.getByRole('button', { name: `Release hold ${later.reservationId} of Second Buyer` });
    await expect(stale).toBeVisible();
    await server.admin('DELETE', `/api/admin/reservations/${later.reservationId}`);
    await stale.click();
    const gone = await server.call('DELETE', `/api/admin/reservations/${later.reservationId}`, { bearer: ADMIN_TOKEN, expectStatus: 409 });
    await expect(page.locator('#holds-error')).toHaveText(gone.message);
    await expect(page.locator('#holds-error')).toHaveAttribute('role', 'alert');
    expect(problems).toEqual([]);
  } finally {
    await server.stop();
  }
});

test('hostile text in the console (a concert title, buyer names, seat numbers, an outbox payload) shows as text', async ({ page }) => {
  const server = await startServer(DEAD_WEBHOOK);
  try {
    const problems = watchPage(page);
    const show = await server.concert({ title: HOSTILE, seatNumber: (n) => `${HOSTILE} ${n}` });
    const payer = await server.buyer(HOSTILE);
    await buyOne(server, payer, await server.join(payer, show), show);
    const holder = await server.buyer(`${HOSTILE} holder`);
    await holdOne(server, await server.join(holder, show), show);
    await server.admin('POST', `/api/admin/users/${payer.userId}/balance-adjustments`, { amount: 100, reason: HOSTILE });
    await expect.poll(async () => (await server.admin('GET', '/api/admin/outbox')).dead, { timeout: 15_000 }).toBeGreaterThan(4);

    await signInToConsole(page, server);
    await expect(page.getByRole('heading', { level: 2, name: HOSTILE })).toBeVisible();
    await page.getByRole('link', { name: /^Show of / }).click();
    await expect(page.getByRole('heading', { level: 1, name: HOSTILE })).toBeVisible();
    await expect(page.locator('#holds')).toContainText(`${HOSTILE} holder`);
    await expect(page.locator('#holds')).toContainText(`${HOSTILE} A`);
    await expect(page.locator('#payments strong')).toHaveText(HOSTILE);
    await expect(page.locator('#payments')).toContainText(`${HOSTILE} A`);
    await expect(page.locator('#concert-title')).toHaveValue(HOSTILE);
    await expect(page.locator('main img')).toHaveCount(0);

    await page.getByRole('link', { name: 'Outbox' }).click();
    const adjusted = page.locator('#letters li').filter({ hasText: 'balance.adjusted' });
    await expect(adjusted.locator('pre')).toContainText(`"reason": "${HOSTILE}"`);
    await expect(page.locator('main img')).toHaveCount(0);
    const id = (await server.admin('GET', '/api/admin/outbox')).deadLetters.find((e) => e.type === 'balance.adjusted').id;
    await adjusted.getByRole('button', { name: /^Retry event/ }).click();
    await expect(page.getByRole('status')).toHaveText(`Event ${id} (balance.adjusted) is pending again: the relay delivers it on its next run.`);
    expect(problems).toEqual([]);
  } finally {
    await server.stop();
  }
});

const VIEWPORTS = [
  ['desktop', { width: 1280, height: 800 }],
  ['phone', { width: 390, height: 844 }],
];

for (const [device, viewport] of VIEWPORTS) {
  test(`every console page passes axe-core and is photographed (${device})`, async ({ browser }) => {
    const server = await startServer(['--queue-max-active', '1', ...DEAD_WEBHOOK], { command: 'demo' });
    const context = await browser.newContext({ viewport, isMobile: device === 'phone', hasTouch: device === 'phone' });
    const page = await context.newPage();
    try {
      const problems = watchPage(page);
      const check = async (name) => {
        await expectAccessible(page, `${name} (${device})`);
        await page.screenshot({ path: path.join(SHOTS, `console-${name}-${device}.png`), fullPage: true });
      };
      await page.goto(`${server.base}/admin`);
      await expect(page.getByLabel('Admin token')).toBeVisible();
      await check('sign-in');
      await signInToConsole(page, server);
      await expect(page.locator('.concert').first()).toBeVisible();
      await check('concerts');
      await page.getByRole('link', { name: 'New concert' }).first().click();
      await fillLayout(page, 'Autumn Gala');
      await check('new');
      await page.getByRole('button', { name: 'Create the concert' }).click();
      await expect(page.getByRole('heading', { level: 1, name: 'Autumn Gala' })).toBeVisible();
      const scheduleId = Number(new URL(page.url()).searchParams.get('schedule'));
      const concertId = (await server.admin('GET', '/api/admin/concerts?q=Autumn')).concerts[0].concertId;
      const show = { concertId, scheduleId };
      const buyers = [];
      for (const name of ['Ada Early', 'Ben Second', 'Cy Third']) {
        const buyer = await server.buyer(name);
        buyers.push({ buyer, token: await server.join(buyer, show) });
      }
      await buyOne(server, buyers[0].buyer, buyers[0].token, show);
      await expect.poll(async () => (await server.queueStatus(buyers[1].token)).status).toBe('active');
      await holdOne(server, buyers[1].token, show);
      await page.reload();
      await expect(page.locator('#q-waiting')).toHaveText('1');
      await expect(page.locator('#holds')).toContainText('Ben Second');
      await expect(page.locator('#payments')).toContainText('Ada Early');
      await check('show');
      await expect.poll(async () => (await server.admin('GET', '/api/admin/outbox')).dead, { timeout: 15_000 }).toBeGreaterThan(2);
      await page.getByRole('link', { name: 'Outbox' }).click();
      await expect(page.locator('#letters pre').first()).toBeVisible();
      await check('outbox');
      await page.getByRole('button', { name: 'Sign out' }).click();
      await expect(page.getByLabel('Admin token')).toBeVisible();
      expect(problems).toEqual([]);
    } finally {
      await context.close();
      await server.stop();
    }
  });
}
