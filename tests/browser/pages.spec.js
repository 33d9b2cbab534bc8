// Every page, on a desktop and on a phone: axe-core finds no serious or critical violation,
// and a screenshot of each goes to docs/screenshots/ (BOXOFFICE_SCREENSHOTS_DIR elsewhere).
const path = require('node:path');
const { test, expect } = require('@playwright/test');
const { startServer, email, signUp, expectAccessible, watchPage } = require('./support');

const SHOTS = process.env.BOXOFFICE_SCREENSHOTS_DIR || path.join(__dirname, '..', '..', 'docs', 'screenshots');

const VIEWPORTS = [
  ['desktop', { width: 1280, height: 800 }],
  ['phone', { width: 390, height: 844 }],
];

for (const [device, viewport] of VIEWPORTS) {
  test(`every page passes axe-core and is photographed (${device})`, async ({ browser }) => {
    // The demo catalogue, with one buyer let in at a time so that the line has someone in it.
    const server = await startServer(['--queue-max-active', '1'], { command: 'demo' });
    const context = await browser.newContext({ viewport, isMobile: device === 'phone', hasTouch: device === 'phone' });
    const page = await context.newPage();
    try {
      const problems = watchPage(page);
      const check = async (name) => {
        await expectAccessible(page, `${name} (${device})`);
        await page.screenshot({ path: path.join(SHOTS, `${name}-${device}.png`) });
      };
      const list = await server.call('GET', '/api/concerts');
      const concert = list.concerts[0];
      const show = { concertId: concert.concertId, scheduleId: concert.schedules[0].scheduleId };
      const other = await server.buyer('Early Bird');
      const otherToken = await server.join(other, show);
      const second = await server.buyer('Second Bird');
      const secondToken = await server.join(second, show);
      // A buyer leaves the line by buying a seat, which ends their session.
      const buyLast = async (buyer, token) => {
        const map = await server.call('GET', `/api/concerts/${show.concertId}/schedules/${show.scheduleId}/seats`, { queueToken: token });
        const last = map.seats.filter((s) => s.status === 'available').pop();
        const hold = await server.call('POST', '/api/concerts/reservations', {
          queueToken: token, body: { concertId: show.concertId, scheduleId: show.scheduleId, seatId: last.seatId }, expectStatus: 201,
        });
        await server.call('PATCH', `/api/users/${buyer.userId}/balance`, { bearer: buyer.session, body: { amount: last.price } });
        await server.call('POST', '/api/payments', { queueToken: token, body: { userId: buyer.userId, reservationId: hold.reservationId }, expectStatus: 201 });
      };

      await page.goto(`${server.base}/`);
      await expect(page.getByRole('heading', { name: concert.title })).toBeVisible();
      await expect(page.getByText(/^Sales open in /).first()).toBeVisible();
      await check('whats-on');
      await page.goto(`${server.base}/sign-in`);
      await check('sign-in');
      await signUp(page, server, { name: 'Grace Buyer', address: email('grace'), next: `/queue?concert=${show.concertId}&schedule=${show.scheduleId}` });
      await expect(page.getByRole('heading', { name: 'You are number 2 in line' })).toBeVisible();
      await buyLast(other, otherToken);
      await expect(page.getByRole('heading', { name: 'You are number 1 in line' })).toBeVisible();
      await check('queue');
      await buyLast(second, secondToken);

      await expect(page).toHaveURL(/\/seats\?/);
      await page.getByRole('button', { name: /^Seat Stalls C5,/ }).click();
      await page.getByRole('button', { name: /^Seat Stalls C6,/ }).click();
      await expect(page.locator('#summary')).toContainText('2 seats chosen');
      await check('seats');
      await page.getByRole('button', { name: 'Hold the chosen seats' }).click();
      await expect(page.getByRole('heading', { name: 'Your seats are held' })).toBeVisible();
      await page.getByRole('link', { name: 'Continue to checkout' }).click();
      await expect(page.getByLabel('Amount to add')).toBeVisible();
      await check('checkout');
      await page.getByRole('button', { name: 'Top up' }).click();
      await expect(page.getByRole('button', { name: 'Pay' })).toBeEnabled();
      await page.getByRole('button', { name: 'Pay' }).click();
      await expect(page.getByRole('img', { name: /QR code/ })).toHaveCount(2);
      await check('receipt');
      await page.goto(`${server.base}/purchases`);
      await expect(page.getByRole('link', { name: /^Receipt of payment/ })).toHaveCount(1);
      await check('purchases');
      await page.getByRole('button', { name: 'Sign out' }).click();
      await expect(page.locator('#account')).toContainText('Sign in');
      await page.goto(`${server.base}/sign-up`);
      await check('sign-up');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
      await server.stop();
    }
  });
}
