// My purchases: every payment of the buyer, newest first, each linking to its receipt.

import { api } from './api.js';
import { el, fill, money, requireAccount, showError, when } from './ui.js';

async function main() {
  const error = document.getElementById('error');
  const account = await requireAccount();
  const box = document.getElementById('purchases');
  try {
    const payments = (await api('GET', `/api/payments?userId=${account.userId}`)).payments || [];
    if (payments.length === 0) {
      fill(box, el('p', {}, 'No purchases yet. ', el('a', { href: '/' }, "See what's on")));
      return;
    }
    payments.sort((a, b) => b.paymentId - a.paymentId);
    const list = el('ul', { class: 'purchases' });
    for (const p of payments) {
      const seats = p.seats && p.seats.length ? p.seats.map((s) => s.seatNumber) : [p.seatNumber];
      list.append(
        el(
          'li',
          { class: 'card' },
          el('h2', {}, p.title),
          el('p', {}, `${when(p.time)} · seats ${seats.join(', ')} · ${money(p.price)} · ${p.status}`),
          el('a', { href: `/receipt?payment=${p.paymentId}`, 'aria-label': `Receipt of payment ${p.paymentId}: ${p.title}` }, 'Receipt'),
        ),
      );
    }
    box.append(list);
  } catch (err) {
    showError(error, err);
  } finally {
    document.getElementById('loading').hidden = true;
  }
}

main();
