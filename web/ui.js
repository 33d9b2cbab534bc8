// What every page shares: building elements, money and times, the account bar, errors.
//
// Escaping: text from the API (titles, names, seat numbers, messages) goes into the page ONLY
// as `textContent` or through `setAttribute` on elements made here, never through
// `innerHTML` or any other HTML parser. So `<img src=x onerror=alert(1)>` as a concert
// title is shown as those characters and never becomes an element.

import { api, currentAccount, signOut } from './api.js';

/**
 * Makes an element: `el('a', {href: '/'}, 'Home', child)`. Attributes are set with
 * setAttribute, children that are strings become text nodes.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    node.append(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
  return node;
}

/** Replaces the children of `node` with `children`. */
export function fill(node, ...children) {
  node.replaceChildren();
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

/** A price in minor units as units with two decimals: 120000 -> "1,200.00". */
export function money(minor) {
  const value = Number(minor) / 100;
  return value.toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** Units typed by a buyer ("12.50") as minor units, or null when not a positive amount. */
export function parseMoney(text) {
  const m = /^\s*(\d{1,12})(?:[.,](\d{1,2}))?\s*$/.exec(text);
  if (!m) return null;
  const minor = Number(m[1]) * 100 + Number((m[2] || '0').padEnd(2, '0'));
  return minor > 0 ? minor : null;
}

/** A time from the API, in the buyer's own time zone. */
export function when(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString('en-GB', {
    weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
  });
}

/** A duration in seconds as "2 d 03:04:05", "03:04:05" or "04:05". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const two = (n) => String(n).padStart(2, '0');
  const clock = h > 0 || d > 0 ? `${two(h)}:${two(m)}:${two(s % 60)}` : `${two(m)}:${two(s % 60)}`;
  return d > 0 ? `${d} d ${clock}` : clock;
}

/** A wait in words: "about 3 minutes". */
export function roughly(seconds) {
  if (seconds < 60) return 'less than a minute';
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `about ${minutes} minute${minutes === 1 ? '' : 's'}`;
  return `about ${Math.round(minutes / 60)} hours`;
}

/** A query parameter that is a positive integer, or null. */
export function idParam(name) {
  const value = new URLSearchParams(location.search).get(name);
  return value && /^\d{1,15}$/.test(value) ? Number(value) : null;
}

/** Shows the error of an API call as text in `node` (an element with role="alert"). */
export function showError(node, err) {
  node.textContent = err && err.message ? err.message : String(err);
  node.hidden = false;
}

export function clearError(node) {
  node.textContent = '';
  node.hidden = true;
}

/** Runs `tick` now and every second until it returns false. */
export function everySecond(tick) {
  if (tick() === false) return;
  const timer = setInterval(() => {
    if (tick() === false) clearInterval(timer);
  }, 1000);
}

/** Waits `seconds`, give or take 20%, so many open tabs do not ask at the same moment. */
export function jittered(seconds) {
  const base = Math.max(0.5, Number(seconds) || 2);
  return base * 1000 * (0.8 + Math.random() * 0.4);
}

/** The path of this page, for coming back after signing in. */
function here() {
  return location.pathname + location.search;
}

/** Whether `next` is a path of this site (so a link cannot send a buyer elsewhere). */
export function safeNext(next) {
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\')
    ? next
    : '/';
}

/** Fills the account bar of the header (`#account`) and answers who is signed in. */
export async function accountBar() {
  const bar = document.getElementById('account');
  let account = null;
  try {
    account = await currentAccount();
  } catch (err) {
    account = null;
  }
  if (!bar) return account;
  if (account) {
    const button = el('button', { type: 'button', class: 'link' }, 'Sign out');
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await signOut();
      } catch (err) {
        // Signed out or not, the page starts again from what's on.
      }
      location.assign('/');
    });
    fill(bar, el('span', { class: 'who' }, 'Signed in as ', el('strong', {}, account.name)), ' ', button);
  } else {
    const next = encodeURIComponent(here());
    fill(
      bar,
      el('a', { href: `/sign-in?next=${next}` }, 'Sign in'),
      ' ',
      el('a', { href: `/sign-up?next=${next}` }, 'Sign up'),
    );
  }
  return account;
}

/** The signed-in buyer; sends to the sign-in page (and back here after) when nobody is. */
export async function requireAccount() {
  const account = await accountBar();
  if (!account) {
    location.replace(`/sign-in?next=${encodeURIComponent(here())}`);
    return new Promise(() => {});
  }
  return account;
}

/** The public catalogue entry of a show: `{concert, schedule}` or null. */
export async function findShow(concertId, scheduleId) {
  const list = await api('GET', '/api/concerts');
  for (const concert of list.concerts || []) {
    if (concertId !== null && concert.concertId !== concertId) continue;
    for (const schedule of concert.schedules || []) {
      if (schedule.scheduleId === scheduleId) return { concert, schedule };
    }
  }
  return null;
}
