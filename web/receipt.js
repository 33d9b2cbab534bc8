// The receipt of one payment (`/receipt?payment=ID`), which the buyer can come back to: the
// show, the seats, the amount, and each ticket with its code and QR code (an SVG from the
// API, shown as an <img> with a data: URL, so it is an image and never part of the page).

import { api } from './api.js';
import { el, idParam, money, requireAccount, showError, when } from './ui.js';

/** The SVG text as a data: URL (base64 of its UTF-8 bytes). */
export function svgDataUrl(svg) {
  const bytes = new TextEncoder().encode(svg);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}

export function ticketCard(ticket) {
  const state = { valid: 'Valid', checkedIn: 'Checked in', refunded: 'Refunded' }[ticket.state] || ticket.state;
  return el(
    'li',
    { class: 'ticket card' },
    ticket.qrSvg ? el('img', { src: svgDataUrl(ticket.qrSvg), alt: `QR code of the ticket for seat ${ticket.seatNumber}`, width: 160, height: 160 }) : null,
    el('p', {}, el('strong', {}, `Seat ${ticket.seatNumber}`)),
    el('p', { class: 'code' }, `Code ${ticket.code}`),
    el('p', {}, state),
  );
}

async function main() {
  const error = document.getElementById('error');
  const paymentId = idParam('payment');
  const account = await requireAccount();
  const box = document.getElementById('receipt');
  try {
    if (paymentId === null) throw new Error('This link names no payment.');
    const [payments, tickets] = await Promise.all([
      api('GET', `/api/payments?userId=${account.userId}`),
      api('GET', `/api/tickets?userId=${account.userId}`),
    ]);
    const payment = (payments.payments || []).find((p) => p.paymentId === paymentId);
    if (!payment) throw new Error('No payment of yours has this number.');
    const seats = payment.seats && payment.seats.length ? payment.seats : [{ seatNumber: payment.seatNumber, price: payment.price }];
    const mine = (tickets.tickets || []).filter((t) => t.paymentId === paymentId);
    box.append(
      el(
        'section',
        { class: 'card', 'aria-labelledby': 'receipt-title' },
        el('h2', { id: 'receipt-title' }, payment.title),
        el('p', {}, `Show: ${when(payment.time)}`),
        el('p', {}, `Payment ${payment.paymentId}, paid ${when(payment.paidAt)}: ${payment.status}`),
        el('ul', { class: 'order', 'aria-label': 'Seats' }, ...seats.map((s) => el('li', {}, `Seat ${s.seatNumber}: ${money(s.price)}`))),
        el('p', {}, 'Total: ', el('strong', {}, money(payment.price))),
      ),
      el('h2', {}, 'Tickets'),
      mine.length ? el('ul', { class: 'tickets' }, ...mine.map(ticketCard)) : el('p', {}, 'No tickets.'),
    );
  } catch (err) {
    showError(error, err);
  } finally {
    document.getElementById('loading').hidden = true;
  }
}

main();
