// What the console's pages share: the admin session, the header, times for form fields.
//
// Signing in with the admin token sets the `bx_admin` cookie (HttpOnly: no script reads it)
// and `bx_admin_csrf`, which api.js sends back as `X-CSRF-Token` with every change under
// `/api/admin/`. The token itself is never kept by the page. Text from the API goes in only
// as textContent or through setAttribute (ui.js's `el`).

import { api } from './api.js';
import { el, fill } from './ui.js';

/** Whether the browser holds a live admin session (an admin call answers, not 401). */
export async function signedIn() {
  try {
    await api('GET', '/api/admin/concerts?limit=1');
    return true;
  } catch (err) {
    if (err.status === 401) return false;
    throw err;
  }
}

/** Puts the sign-out button in the header's `#account`. */
export function signOutButton() {
  const bar = document.getElementById('account');
  const button = el('button', { type: 'button', class: 'link' }, 'Sign out');
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await api('DELETE', '/api/admin/sessions/current');
    } catch (err) {
      // Signed out or not, the console starts again from its sign-in.
    }
    location.assign('/admin');
  });
  fill(bar, button);
}

/** A console page behind the sign-in: sends to `/admin` when nobody is signed in. */
export async function requireAdmin() {
  let ok = false;
  try {
    ok = await signedIn();
  } catch (err) {
    ok = true; // the page's own calls show what is wrong
  }
  if (!ok) {
    location.replace('/admin');
    return new Promise(() => {});
  }
  signOutButton();
  return true;
}

/** An API time as the value of a `datetime-local` field, in this browser's time zone. */
export function localInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const two = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** A `datetime-local` value as an RFC 3339 time, or null when empty or not a time. */
export function fromLocalInput(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** A whole number typed in a field, or null when empty; NaN when not a whole number. */
export function wholeNumber(value) {
  const text = String(value).trim();
  if (text === '') return null;
  return /^\d{1,9}$/.test(text) ? Number(text) : NaN;
}

/** `{label, value}` pairs as a definition list. */
export function facts(pairs, attrs = {}) {
  const list = el('dl', { class: 'facts', ...attrs });
  for (const [term, value, id] of pairs) {
    list.append(el('div', {}, el('dt', {}, term), el('dd', id ? { id } : {}, value)));
  }
  return list;
}
