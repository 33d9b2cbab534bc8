// One show in the console: its line live (waiting, active, the admission rate, the time to
// clear it), pause and resume and the admission knobs, the sales figures, the sales window
// and purchase limit, the open holds (each can be released) and the payments.

import { api } from './api.js';
import { fromLocalInput, localInput, requireAdmin, wholeNumber } from './console.js';
import { clearError, el, fill, idParam, money, roughly, showError, when } from './ui.js';

const scheduleId = idParam('schedule');
const error = document.getElementById('error');
const $ = (id) => document.getElementById(id);
let concert = null;
let queue = null;

function say(id, text) {
  $(id).textContent = text;
}

function done(id, text) {
  const node = $(id);
  node.textContent = text;
  node.hidden = false;
}

/** The concert this show belongs to, from the admin list (a page of 200 at a time). */
async function findConcert() {
  let cursor = null;
  for (let pages = 0; pages < 50; pages += 1) {
    const params = new URLSearchParams({ limit: '200' });
    if (cursor) params.set('cursor', cursor);
    const page = await api('GET', `/api/admin/concerts?${params}`);
    const found = page.concerts.find((c) => c.schedules.some((s) => s.scheduleId === scheduleId));
    if (found) return found;
    cursor = page.nextCursor;
    if (!cursor) return null;
  }
  return null;
}

/** Minutes to let everyone waiting in, at the rate measured over the last minute. */
function timeToClear(q) {
  if (q.waiting === 0) return 'Nobody is waiting';
  if (q.paused) return 'Not while paused';
  // The measured rate; when nobody came in over the last minute but there is room, the setting.
  const rate = q.admittedLastMinute > 0 ? q.admittedLastMinute : q.active < q.maxActive ? q.admitPerMinute : 0;
  if (rate === 0) return 'Unknown: nobody was let in over the last minute (every place is taken)';
  return roughly((q.waiting / rate) * 60);
}

function drawQueue(q) {
  queue = q;
  say('q-state', q.paused ? 'Paused: nobody is let in' : 'Letting buyers in');
  say('q-waiting', String(q.waiting));
  say('q-active', `${q.active} of at most ${q.maxActive}`);
  say('q-admitted', String(q.admittedLastMinute));
  say('q-rate', `${q.admitPerMinute} a minute`);
  say('q-eta', timeToClear(q));
  say('q-oldest', q.oldestWaitSeconds === undefined || q.oldestWaitSeconds === null ? 'Nobody is waiting' : roughly(q.oldestWaitSeconds));
  say('pause', q.paused ? 'Resume the line' : 'Pause the line');
}

function drawSales(s) {
  say('s-sold', String(s.sold));
  say('s-held', String(s.held));
  say('s-available', String(s.available));
  say('s-total', String(s.totalSeats));
  say('s-revenue', money(s.revenue));
  say('s-refunded', `${s.refunded} seats, ${money(s.refundedAmount)}`);
}

function drawSchedule(schedule) {
  $('sales-start').value = localInput(schedule.salesStart);
  $('sales-end').value = localInput(schedule.salesEnd);
  $('limit').value = String(schedule.maxTicketsPerBuyer);
  say('when', `${when(schedule.startTime)} · sales ${schedule.salesStatus} · ${schedule.availableSeats} of ${schedule.totalSeats} seats available`);
}

async function live() {
  try {
    const [q, s] = await Promise.all([
      api('GET', `/api/admin/queues/${scheduleId}`),
      api('GET', `/api/admin/schedules/${scheduleId}/sales`),
    ]);
    drawQueue(q);
    drawSales(s);
    clearError(error);
  } catch (err) {
    showError(error, err);
  }
}

async function loadHolds() {
  const list = $('holds');
  const problem = $('holds-error');
  try {
    const page = await api('GET', `/api/admin/schedules/${scheduleId}/holds?limit=200`);
    fill(list);
    if (page.holds.length === 0) list.append(el('li', { class: 'muted' }, 'No open holds.'));
    for (const hold of page.holds) {
      const seats = hold.seats.map((s) => s.seatNumber).join(', ');
      const release = el('button', { type: 'button', 'aria-label': `Release hold ${hold.reservationId} of ${hold.name}` }, 'Release');
      release.addEventListener('click', async () => {
        clearError(problem);
        release.disabled = true;
        try {
          await api('DELETE', `/api/admin/reservations/${hold.reservationId}`);
          await Promise.all([loadHolds(), live()]);
          $('holds-title').focus();
        } catch (err) {
          showError(problem, err);
          release.disabled = false;
        }
      });
      list.append(
        el(
          'li',
          { class: 'line-item' },
          el('p', {}, el('strong', {}, hold.name), ' ', el('span', { class: 'muted' }, hold.email)),
          el('p', {}, `Hold ${hold.reservationId}: ${seats} · ${money(hold.price)} · runs out ${when(hold.expiresAt)}`),
          release,
        ),
      );
    }
  } catch (err) {
    showError(problem, err);
  }
}

async function loadPayments() {
  const list = $('payments');
  try {
    const page = await api('GET', `/api/admin/payments?scheduleId=${scheduleId}&limit=200`);
    fill(list);
    if (page.payments.length === 0) list.append(el('li', { class: 'muted' }, 'No payments yet.'));
    for (const p of page.payments) {
      const refunded = p.refunded > 0 ? ` · refunded ${money(p.refunded)}` : '';
      list.append(
        el(
          'li',
          { class: 'line-item' },
          el('p', {}, el('strong', {}, p.name), ' ', el('span', { class: 'muted' }, p.email)),
          el('p', {}, `Payment ${p.paymentId}: ${p.seats.join(', ')} · ${money(p.amount)}${refunded} · paid ${when(p.paidAt)}`),
        ),
      );
    }
  } catch (err) {
    showError($('payments-error'), err);
  }
}

function drawOthers() {
  const nav = $('others');
  if (concert.schedules.length < 2) return;
  const list = el('ul', {});
  for (const s of concert.schedules) {
    const current = s.scheduleId === scheduleId;
    list.append(el('li', {}, el('a', { href: `/admin/show?schedule=${s.scheduleId}`, 'aria-current': current ? 'page' : null }, when(s.startTime))));
  }
  fill(nav, el('h2', { class: 'visually-hidden' }, 'Shows of this concert'), list);
  nav.hidden = false;
}

/** Runs a form's change: clears its messages, disables its button while the API answers. */
function onSubmit(formId, action) {
  const form = $(formId);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const problem = $(`${formId}-error`);
    const ok = $(`${formId}-done`);
    clearError(problem);
    if (ok) ok.hidden = true;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      await action(problem);
    } catch (err) {
      showError(problem, err);
    } finally {
      button.disabled = false;
    }
  });
}

function wire() {
  $('pause').addEventListener('click', async () => {
    const problem = $('pause-error');
    clearError(problem);
    try {
      drawQueue(await api('PATCH', `/api/admin/queues/${scheduleId}`, { body: { paused: !queue.paused } }));
    } catch (err) {
      showError(problem, err);
    }
  });
  onSubmit('knobs', async (problem) => {
    const maxActive = wholeNumber($('max-active').value);
    const admitPerMinute = wholeNumber($('admit-rate').value);
    const bad = (n) => n === null || Number.isNaN(n);
    if (bad(maxActive)) throw new Error('Most active buyers at once is a whole number.');
    if (bad(admitPerMinute)) throw new Error('Buyers let in per minute is a whole number.');
    const q = await api('PATCH', `/api/admin/queues/${scheduleId}`, { body: { maxActive, admitPerMinute } });
    drawQueue(q);
    clearError(problem);
    done('knobs-done', `Saved: at most ${q.maxActive} at once, ${q.admitPerMinute} a minute.`);
  });
  onSubmit('window', async () => {
    const salesStart = fromLocalInput($('sales-start').value);
    const salesEnd = fromLocalInput($('sales-end').value);
    const limit = wholeNumber($('limit').value);
    if (!salesStart || !salesEnd) throw new Error('Give both the opening and the closing of sales.');
    if (Number.isNaN(limit)) throw new Error('The most tickets per buyer is a whole number.');
    const schedule = await api('PATCH', `/api/admin/schedules/${scheduleId}`, {
      body: { salesStart, salesEnd, maxTicketsPerBuyer: limit },
    });
    drawSchedule(schedule);
    done('window-done', `Saved: sales ${schedule.salesStatus}, at most ${schedule.maxTicketsPerBuyer} per buyer.`);
  });
  onSubmit('rename', async () => {
    const title = $('concert-title').value.trim();
    if (!title) throw new Error('Give the concert a title.');
    concert = await api('PATCH', `/api/admin/concerts/${concert.concertId}`, { body: { title } });
    say('title', concert.title);
    document.title = `${concert.title} · boxoffice console`;
  });
  $('refresh').addEventListener('click', () => Promise.all([loadHolds(), loadPayments()]));
}

async function main() {
  await requireAdmin();
  if (scheduleId === null) {
    showError(error, new Error('No show given: open a show from the concerts list.'));
    return;
  }
  let schedule;
  try {
    [schedule, concert] = await Promise.all([api('GET', `/api/admin/schedules/${scheduleId}`), findConcert()]);
  } catch (err) {
    showError(error, err);
    return;
  }
  if (concert) {
    say('title', concert.title);
    document.title = `${concert.title} · boxoffice console`;
    $('concert-title').value = concert.title;
    drawOthers();
  } else {
    $('rename').closest('section').hidden = true;
  }
  $('created').hidden = new URLSearchParams(location.search).get('created') !== '1';
  drawSchedule(schedule);
  $('holds-title').setAttribute('tabindex', '-1');
  wire();
  await live();
  $('show').hidden = false;
  if (queue) {
    $('max-active').value = String(queue.maxActive);
    $('admit-rate').value = String(queue.admitPerMinute);
  }
  await Promise.all([loadHolds(), loadPayments()]);
  setInterval(live, 2000);
}

main();
