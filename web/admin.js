// The console's front page: the sign-in with the admin token when nobody is signed in, else
// every concert with its shows (searchable, a page at a time), each show linking to its page.

import { api } from './api.js';
import { signedIn, signOutButton } from './console.js';
import { clearError, el, fill, showError, when } from './ui.js';

const error = document.getElementById('error');
const list = document.getElementById('concerts');
const more = document.getElementById('more');
let cursor = null;
let query = '';

function showItem(concert, schedule) {
  const href = `/admin/show?schedule=${schedule.scheduleId}`;
  return el(
    'li',
    { class: 'show' },
    el('p', { class: 'show-time' }, el('a', { href, 'aria-label': `Show of ${when(schedule.startTime)}: ${concert.title}` }, when(schedule.startTime))),
    el('p', { class: 'muted' }, `Sales ${schedule.salesStatus}: ${when(schedule.salesStart)} to ${when(schedule.salesEnd)}`),
    el('p', {}, `${schedule.availableSeats} of ${schedule.totalSeats} seats available`, schedule.soldOut ? ' · sold out' : ''),
    el('p', { class: 'muted' }, `At most ${schedule.maxTicketsPerBuyer} per buyer`),
  );
}

async function load() {
  const params = new URLSearchParams({ limit: '20' });
  if (query) params.set('q', query);
  if (cursor) params.set('cursor', cursor);
  const loading = document.getElementById('loading');
  loading.hidden = false;
  try {
    const page = await api('GET', `/api/admin/concerts?${params}`);
    for (const concert of page.concerts) {
      const headingId = `concert-${concert.concertId}`;
      const shows = el('ul', { class: 'shows' });
      for (const schedule of concert.schedules) shows.append(showItem(concert, schedule));
      list.append(
        el(
          'article',
          { class: 'concert card', 'aria-labelledby': headingId },
          el('h2', { id: headingId }, concert.title),
          el('p', { class: 'muted' }, `Concert ${concert.concertId} · ${concert.schedules.length} show${concert.schedules.length === 1 ? '' : 's'}`),
          shows,
        ),
      );
    }
    if (!list.hasChildNodes()) list.append(el('p', {}, query ? 'No concert has that in its title.' : 'No concerts yet.'));
    cursor = page.nextCursor || null;
    more.hidden = !cursor;
  } catch (err) {
    showError(error, err);
  } finally {
    loading.hidden = true;
  }
}

async function showList() {
  signOutButton();
  document.getElementById('list').hidden = false;
  document.getElementById('search').addEventListener('submit', (event) => {
    event.preventDefault();
    query = document.getElementById('q').value.trim();
    cursor = null;
    fill(list);
    clearError(error);
    load();
  });
  more.addEventListener('click', load);
  await load();
}

function showSignIn() {
  const title = document.getElementById('title');
  title.textContent = 'The box-office console';
  const form = document.getElementById('sign-in');
  const formError = document.getElementById('sign-in-error');
  form.hidden = false;
  document.getElementById('token').focus();
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError(formError);
    const token = document.getElementById('token').value;
    if (!token) {
      showError(formError, new Error('Enter the admin token.'));
      return;
    }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      await api('POST', '/api/admin/sessions', { body: { token } });
      location.assign('/admin');
    } catch (err) {
      showError(formError, err);
      button.disabled = false;
      document.getElementById('token').focus();
    }
  });
}

async function main() {
  let ok;
  try {
    ok = await signedIn();
  } catch (err) {
    showError(error, err);
    return;
  }
  if (ok) await showList();
  else showSignIn();
}

main();
