// The outbox: how many events wait, how old the oldest is, and the dead letters, each with
// its envelope and last error and a button that hands it back to the relay.

import { api } from './api.js';
import { requireAdmin } from './console.js';
import { clearError, el, fill, roughly, showError, when } from './ui.js';

const error = document.getElementById('error');
const letters = document.getElementById('letters');
const doneNote = document.getElementById('done');

function letter(event) {
  const problem = el('p', { class: 'error', role: 'alert', hidden: true });
  const retry = el('button', { type: 'button', 'aria-label': `Retry event ${event.id} (${event.type})` }, 'Retry');
  retry.addEventListener('click', async () => {
    clearError(problem);
    retry.disabled = true;
    try {
      const again = await api('POST', `/api/admin/outbox/${event.id}/retry`);
      doneNote.textContent = `Event ${again.id} (${again.type}) is ${again.state} again: the relay delivers it on its next run.`;
      doneNote.hidden = false;
      await load();
      document.getElementById('dead-title').focus();
    } catch (err) {
      showError(problem, err);
      retry.disabled = false;
    }
  });
  return el(
    'li',
    { class: 'line-item letter' },
    el('h3', {}, `${event.type} · ${event.key}`),
    el('p', { class: 'muted' }, `Event ${event.id} (${event.eventId}), occurred ${when(event.occurredAt)}, ${event.attempts} attempts`),
    event.lastError ? el('p', {}, 'Last error: ', el('span', { class: 'code' }, event.lastError)) : null,
    el('p', { class: 'muted' }, 'Envelope:'),
    el('pre', { class: 'envelope' }, JSON.stringify(event.envelope, null, 2)),
    retry,
    problem,
  );
}

async function load() {
  try {
    const view = await api('GET', '/api/admin/outbox?limit=100');
    document.getElementById('pending').textContent = String(view.pending);
    document.getElementById('oldest').textContent = view.oldestPendingAgeSeconds === undefined || view.oldestPendingAgeSeconds === null
      ? 'Nothing is pending'
      : roughly(view.oldestPendingAgeSeconds);
    document.getElementById('delivered').textContent = String(view.delivered);
    document.getElementById('dead').textContent = String(view.dead);
    fill(letters);
    if (view.deadLetters.length === 0) letters.append(el('li', { class: 'muted' }, 'No dead letters.'));
    for (const event of view.deadLetters) letters.append(letter(event));
    clearError(error);
  } catch (err) {
    showError(error, err);
  }
}

async function main() {
  await requireAdmin();
  document.getElementById('refresh').addEventListener('click', load);
  await load();
}

main();
