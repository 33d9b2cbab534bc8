// The buyer's pages in a real browser, against the real binary: the whole purchase behind a
// line, the pre-queue's countdown, a second buyer watching the seats change, and hostile text.
const { test, expect } = require('@playwright/test');
const { startServer, email, signUp, signIn, watchPage } = require('./support');

/** Ends `buyer`'s admitted session the way a buyer does: by holding a seat and paying for it. */
async function buyOneSeat(server, buyer, token, show) {
  const map = await server.call('GET', `/api/concerts/${show.concertId}/schedules/${show.scheduleId}/seats`, { queueToken: token });
  const seat = map.seats[map.seats.length - 1];
  const hold = await server.call('POST', '/api/concerts/reservations', {
    queueToken: token,
    body: { concertId: show.concertId, scheduleId: show.scheduleId, seatId: seat.seatId },
    expectStatus: 201,
  });
  await server.call('PATCH', `/api/users/${buyer.userId}/balance`, { bearer: buyer.session, body: { amount: seat.price } });
  await server.call('POST', '/api/payments', {
    queueToken: token,
    body: { userId: buyer.userId, reservationId: hold.reservationId },
    expectStatus: 201,
  });
}

const seat = (page, row, number) => page.getByRole('button', { name: new RegExp(`^Seat ${row}${number},`) });

test('a buyer signs up, waits behind another buyer, picks two seats, tops up, pays and sees both on the receipt', async ({ page }) => {
  const server = await startServer(['--queue-max-active', '1']);
  try {
    const problems = watchPage(page);
    const show = await server.concert({ title: 'Queue Night' });
    const other = await server.buyer('Early Bird');
    const otherToken = await server.join(other, show);
    expect((await server.queueStatus(otherToken)).status).toBe('active');

    await signUp(page, server, { name: 'Ada Buyer', address: email('ada') });
    // The session cookie is out of the scripts' reach; the CSRF token's is not.
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'bx_session');
    expect(session.httpOnly).toBe(true);
    expect(session.sameSite).toBe('Lax');
    expect(await page.evaluate(() => document.cookie)).not.toContain('bx_session');
    expect(await page.evaluate(() => document.cookie)).toContain('bx_csrf=');
    await page.getByRole('link', { name: /^Get tickets: Queue Night/ }).click();
    await expect(page.getByRole('heading', { name: 'You are number 1 in line' })).toBeVisible();
    await expect(page.getByLabel('Your progress in the line')).toBeVisible();
    await expect(page.locator('#detail')).toContainText('Estimated wait');

    // A reload keeps the place.
    await page.reload();
    await expect(page.getByRole('heading', { name: 'You are number 1 in line' })).toBeVisible();

    await buyOneSeat(server, other, otherToken, show);
    await expect(page).toHaveURL(/\/seats\?/);
    await seat(page, 'A', 1).click();
    await seat(page, 'A', 2).press('Enter'); // the keyboard works as well as the mouse
    await expect(seat(page, 'A', 1)).toHaveAttribute('aria-pressed', 'true');
    await expect(seat(page, 'A', 2)).toHaveAttribute('aria-pressed', 'true');
    await expect(page.locator('#summary')).toContainText('2 seats chosen: A1, A2. Total 200.00.');
    await page.getByRole('button', { name: 'Hold the chosen seats' }).click();
    await expect(page.locator('#hold-left')).toHaveText(/^\d\d:\d\d$/);

    await page.getByRole('link', { name: 'Continue to checkout' }).click();
    await expect(page.locator('#balance')).toHaveText('0.00');
    await expect(page.locator('#total')).toHaveText('200.00');
    await expect(page.getByLabel('Amount to add')).toHaveValue('200.00');
    await expect(page.getByRole('button', { name: 'Pay' })).toBeDisabled();
    await page.getByRole('button', { name: 'Top up' }).click();
    await expect(page.locator('#balance')).toHaveText('200.00');
    await page.getByRole('button', { name: 'Pay' }).click();

    await expect(page).toHaveURL(/\/receipt\?payment=\d+$/);
    const receipt = page.locator('#receipt');
    await expect(receipt).toContainText('Queue Night');
    await expect(receipt).toContainText('Seat A1: 100.00');
    await expect(receipt).toContainText('Seat A2: 100.00');
    await expect(page.getByRole('img', { name: /QR code of the ticket for seat A[12]/ })).toHaveCount(2);

    // The receipt is a page to come back to, from the purchases.
    await page.getByRole('link', { name: 'My purchases', exact: true }).click();
    await page.getByRole('link', { name: /^Receipt of payment \d+: Queue Night/ }).click();
    await expect(page.locator('#receipt')).toContainText('Seat A2');
    expect(problems).toEqual([]);
  } finally {
    await server.stop();
  }
});

test('a buyer who arrives before the opening sees the countdown, then the line', async ({ page }) => {
  const server = await startServer();
  try {
    const problems = watchPage(page);
    const show = await server.concert({ title: 'Opening Night' });
    const opens = new Date(Date.now() + 12_000).toISOString();
    await server.admin('PATCH', `/api/admin/schedules/${show.scheduleId}`, { salesStart: opens });
    // Paused, so that the line is there to see after the opening, not skipped at once.
    await server.admin('PATCH', `/api/admin/queues/${show.scheduleId}`, { paused: true });
    const buyer = await server.buyer('Punctual Pat');
    await signIn(page, server, buyer);

    await expect(page.getByText(/^Sales open in \d\d:\d\d$/)).toBeVisible();
    await page.getByRole('link', { name: /^Wait for tickets: Opening Night/ }).click();
    await expect(page.getByRole('heading', { name: 'You are in the pre-queue' })).toBeVisible();
    await expect(page.locator('#countdown')).toHaveText(/^Sales open in 00:\d\d$/);

    await expect(page.getByRole('heading', { name: 'You are number 1 in line' })).toBeVisible({ timeout: 25_000 });
    await expect(page.locator('#countdown')).toBeHidden();
    await server.admin('PATCH', `/api/admin/queues/${show.scheduleId}`, { paused: false });
    await expect(page).toHaveURL(/\/seats\?/);
    await expect(seat(page, 'A', 1)).toBeVisible();
    expect(problems).toEqual([]);
  } finally {
    await server.stop();
  }
});

test("a second browser sees the first buyer's seats turn held, then sold", async ({ browser }) => {
  const server = await startServer();
  const first = await browser.newContext();
  const second = await browser.newContext();
  try {
    const show = await server.concert({ title: 'Two Browsers' });
    const pageA = await first.newPage();
    const pageB = await second.newPage();
    const problems = [...watchPage(pageA), ...watchPage(pageB)];
    const queue = `/queue?concert=${show.concertId}&schedule=${show.scheduleId}`;
    await signIn(pageA, server, await server.buyer('First Fan'), queue);
    await signIn(pageB, server, await server.buyer('Second Fan'), queue);
    await expect(pageA).toHaveURL(/\/seats\?/);
    await expect(pageB).toHaveURL(/\/seats\?/);
    await expect(seat(pageB, 'B', 3)).toHaveAttribute('aria-label', /, available$/);

    await seat(pageA, 'B', 3).click();
    await seat(pageA, 'B', 4).click();
    await pageA.getByRole('button', { name: 'Hold the chosen seats' }).click();
    await expect(pageA.getByRole('heading', { name: 'Your seats are held' })).toBeVisible();

    await expect(seat(pageB, 'B', 3)).toHaveAttribute('aria-label', /, held$/);
    await expect(seat(pageB, 'B', 4)).toHaveAttribute('aria-label', /, held$/);
    await expect(seat(pageB, 'B', 5)).toHaveAttribute('aria-label', /, available$/);
    // A held seat cannot be chosen.
    await seat(pageB, 'B', 3).press('Enter');
    await expect(seat(pageB, 'B', 3)).toHaveAttribute('aria-pressed', 'false');
    await expect(pageB.locator('#error')).toHaveText('Seat B3 is held.');

    await pageA.getByRole('link', { name: 'Continue to checkout' }).click();
    await pageA.getByRole('button', { name: 'Top up' }).click();
    await pageA.getByRole('button', { name: 'Pay' }).click();
    await expect(pageA).toHaveURL(/\/receipt\?payment=\d+$/);

    await expect(seat(pageB, 'B', 3)).toHaveAttribute('aria-label', /, sold$/);
    await expect(seat(pageB, 'B', 4)).toHaveAttribute('aria-label', /, sold$/);
    expect(problems).toEqual([]);
  } finally {
    await first.close();
    await second.close();
    await server.stop();
  }
});

test('hostile catalogue text shows as text: no element is made of it and no script runs', async ({ page }) => {
  const server = await startServer();
  try {
    const problems = watchPage(page);
    const title = '<img src=x onerror=alert(1)>';
    const show = await server.concert({ title, rows: 1, perRow: 3, seatNumber: (n) => `<img src=y onerror=alert(2)>${n}` });
    const name = '<script>alert(3)</script>';
    const buyer = await server.buyer(name);

    await page.goto(`${server.base}/`);
    await expect(page.getByRole('heading', { name: title })).toBeVisible();
    await expect(page.locator('img')).toHaveCount(0);

    await signIn(page, server, buyer, `/queue?concert=${show.concertId}&schedule=${show.scheduleId}`);
    await expect(page.locator('#account')).toContainText(name);
    await expect(page).toHaveURL(/\/seats\?/);
    await expect(page.locator('#show')).toContainText(title);
    const hostileSeat = page.getByRole('button', { name: /^Seat <img src=y onerror=alert\(2\)>A1, / });
    await expect(hostileSeat).toBeVisible();
    await hostileSeat.click();
    await expect(page.locator('#summary')).toContainText('1 seat chosen: <img src=y onerror=alert(2)>A1.');
    await expect(page.locator('img')).toHaveCount(0);
    await expect(page.locator('script:not([src])')).toHaveCount(0);
    await page.waitForTimeout(500); // an onerror would have fired by now
    expect(problems).toEqual([]);
  } finally {
    await server.stop();
  }
});

test('the seat picker draws the sections, rows and plan positions of a show created with a layout', async ({ page }) => {
  // A show created with a layout (section, row, number, category, x, y per seat) through the
  // admin API: the stalls in front, the balcony 30 units behind.
  const server = await startServer();
  try {
    const problems = watchPage(page);
    const layout = [];
    for (const [section, category, price, y] of [['Stalls', 'Premium', 10000, 0], ['Balcony', 'Standard', 5000, 30]]) {
      for (let n = 1; n <= 4; n += 1) {
        layout.push({ seatNumber: `${section} 1-${n}`, price, section, row: '1', number: String(n), category, x: (n - 1) * 10, y });
      }
    }
    const show = await server.concert({ title: 'Layout Hall', layout });
    await signIn(page, server, await server.buyer('Plan Reader'), `/queue?concert=${show.concertId}&schedule=${show.scheduleId}`);
    await expect(page).toHaveURL(/\/seats\?/);
    const stalls = page.getByRole('button', { name: /^Seat Stalls 1-2, section Stalls, row 1, number 2, 100\.00, available$/ });
    const balcony = page.getByRole('button', { name: /^Seat Balcony 1-2, section Balcony, row 1, number 2, 50\.00, available$/ });
    await expect(stalls).toBeVisible();
    await expect(balcony).toBeVisible();
    await expect(page.locator('#legend')).toContainText('Premium: 100.00');
    await expect(page.locator('#legend')).toContainText('Standard: 50.00');
    // Placed by x and y: the balcony below the stalls, seat 2 right of seat 1.
    const [a, b, c] = await Promise.all([
      stalls.boundingBox(),
      balcony.boundingBox(),
      page.getByRole('button', { name: /^Seat Stalls 1-1,/ }).boundingBox(),
    ]);
    expect(b.y).toBeGreaterThan(a.y + a.height);
    expect(a.x).toBeGreaterThan(c.x + c.width - 1);
    // Keyboard: Tab moves through the seats in reading order, Space chooses one.
    await page.getByRole('button', { name: /^Seat Stalls 1-1,/ }).focus();
    await page.keyboard.press('Tab');
    await expect(stalls).toBeFocused();
    await page.keyboard.press('Space');
    const chosen = page.getByRole('button', { name: /^Seat Stalls 1-2, section Stalls, row 1, number 2, 100\.00, chosen$/ });
    await expect(chosen).toHaveAttribute('aria-pressed', 'true');
    await expect(chosen).toBeFocused();
    await page.screenshot({ path: require('node:path').join(__dirname, 'test-results', 'layout.png') });
    expect(problems).toEqual([]);
  } finally {
    await server.stop();
  }
});
