// What's on: every concert and its shows, with the sales window, sold out, and a countdown to
// the opening of a show not on sale yet.

import { api } from './api.js';
import { accountBar, duration, el, fill, money, showError, when } from './ui.js';

const countdowns = [];

function showCard(concert, schedule) {
  const status = schedule.salesStatus;
  const item = el('li', { class: 'show' });
  const title = `${concert.title}, ${when(schedule.startTime)}`;
  item.append(
    el('p', { class: 'show-time' }, el('time', { datetime: schedule.startTime }, when(schedule.startTime))),
    el(
      'p',
      { class: 'muted' },
      `On sale ${when(schedule.salesStart)} to ${when(schedule.salesEnd)}`,
    ),
  );
  const seats = el('p', {}, `${schedule.availableSeats} of ${schedule.totalSeats} seats available`);
  item.append(seats);
  if (schedule.soldOut) {
    item.append(el('p', { class: 'badge sold-out' }, 'Sold out'));
  } else if (status === 'closed') {
    item.append(el('p', { class: 'badge closed' }, 'Sales closed'));
  } else {
    const href = `/queue?concert=${concert.concertId}&schedule=${schedule.scheduleId}`;
    if (status === 'scheduled') {
      const clock = el('strong', { class: 'countdown' });
      const line = el('p', { class: 'opens' }, 'Sales open in ', clock);
      countdowns.push({ at: Date.parse(schedule.salesStart), clock, line });
      item.append(line);
      item.append(el('a', { class: 'button', href, 'aria-label': `Wait for tickets: ${title}` }, 'Wait for tickets'));
    } else {
      item.append(el('a', { class: 'button primary', href, 'aria-label': `Get tickets: ${title}` }, 'Get tickets'));
    }
  }
  return item;
}

function tick() {
  const now = Date.now();
  for (const c of countdowns) {
    const left = (c.at - now) / 1000;
    if (left <= 0) {
      c.line.textContent = 'Sales are open';
    } else {
      c.clock.textContent = duration(left);
    }
  }
}

async function main() {
  accountBar();
  const list = document.getElementById('concerts');
  const error = document.getElementById('error');
  let concerts;
  try {
    concerts = (await api('GET', '/api/concerts')).concerts || [];
  } catch (err) {
    document.getElementById('loading').hidden = true;
    showError(error, err);
    return;
  }
  document.getElementById('loading').hidden = true;
  if (concerts.length === 0) {
    fill(list, el('p', {}, 'Nothing is on sale at the moment.'));
    return;
  }
  for (const concert of concerts) {
    const headingId = `concert-${concert.concertId}`;
    const shows = el('ul', { class: 'shows' });
    for (const schedule of concert.schedules || []) shows.append(showCard(concert, schedule));
    list.append(
      el('article', { class: 'concert card', 'aria-labelledby': headingId }, el('h2', { id: headingId }, concert.title), shows),
    );
  }
  tick();
  if (countdowns.length) setInterval(tick, 1000);
}

main();
