// Checkout (`/checkout?concert=ID&schedule=ID`): the held seats, the balance, a top-up when
// it is short (PATCH /api/users/{id}/balance), and the payment (POST /api/payments, with the
// queue token of the session that made the hold). Both carry an Idempotency-Key, kept for a
// retry of the same payment, so a double click or a lost answer never moves money twice.

import { api, forgetHold, randomKey, savedHold, savedPlace } from './api.js';
import { clearError, duration, el, fill, idParam, money, parseMoney, requireAccount, showError, when } from './ui.js';

const concertId = idParam('concert');
const scheduleId = idParam('schedule');
const error = document.getElementById('error');
const payError = document.getElementById('pay-error');
const topupError = document.getElementById('topup-error');
const payButton = document.getElementById('pay');
const topup = document.getElementById('topup');

let account;
let hold;
let token;
let balance = null;

async function loadBalance() {
  try {
    balance = (await api('GET', `/api/users/${account.userId}/balance`)).balance;
  } catch (err) {
    showError(error, err);
    return;
  }
  document.getElementById('balance').textContent = money(balance);
  const short = hold.price - balance;
  if (short > 0) {
    topup.hidden = false;
    document.getElementById('short').textContent = `Your balance is ${money(short)} short of the total. Add money to pay.`;
    const amount = document.getElementById('amount');
    if (!amount.value) amount.value = (short / 100).toFixed(2);
    payButton.disabled = true;
    document.getElementById('pay-hint').hidden = false;
  } else {
    topup.hidden = true;
    payButton.disabled = false;
    document.getElementById('pay-hint').hidden = true;
  }
}

async function topUp(event) {
  event.preventDefault();
  clearError(topupError);
  const amount = parseMoney(document.getElementById('amount').value);
  if (amount === null) {
    showError(topupError, new Error('Enter an amount above 0, such as 25.00.'));
    document.getElementById('amount').focus();
    return;
  }
  const button = topup.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await api('PATCH', `/api/users/${account.userId}/balance`, { body: { amount }, idempotencyKey: randomKey() });
    document.getElementById('amount').value = '';
    await loadBalance();
    if (!payButton.disabled) payButton.focus();
  } catch (err) {
    showError(topupError, err);
  } finally {
    button.disabled = false;
  }
}

async function pay() {
  clearError(payError);
  payButton.disabled = true;
  const keyName = `boxoffice.pay.${hold.reservationId}`;
  let key = sessionStorage.getItem(keyName);
  if (!key) {
    key = randomKey();
    sessionStorage.setItem(keyName, key);
  }
  try {
    const payment = await api('POST', '/api/payments', {
      queueToken: token,
      idempotencyKey: key,
      body: { userId: account.userId, reservationId: hold.reservationId },
    });
    forgetHold(account.userId, scheduleId);
    sessionStorage.removeItem(keyName);
    location.assign(`/receipt?payment=${payment.paymentId}`);
  } catch (err) {
    showError(payError, err);
    if (err.code === 'INSUFFICIENT_BALANCE') await loadBalance();
    else if (err.code === 'HOLD_EXPIRED') forgetHold(account.userId, scheduleId);
    else payButton.disabled = false;
  }
}

async function main() {
  account = await requireAccount();
  const place = scheduleId === null ? null : savedPlace(account.userId, scheduleId);
  hold = scheduleId === null ? null : savedHold(account.userId, scheduleId);
  if (!place || !hold) {
    fill(error, 'You hold no seats for this show. ', el('a', { href: '/' }, 'Pick a show'));
    error.hidden = false;
    payButton.hidden = true;
    return;
  }
  token = place.token;
  const list = hold.seats && hold.seats.length ? hold.seats : [{ seatNumber: hold.seatNumber, price: hold.price }];
  const order = document.getElementById('order');
  for (const seat of list) order.append(el('li', {}, `Seat ${seat.seatNumber}: ${money(seat.price)}`));
  document.getElementById('total').textContent = money(hold.price);
  api('GET', `/api/concerts/${concertId}`, { queueToken: token })
    .then((concert) => {
      const schedule = (concert.schedules || []).find((s) => s.scheduleId === scheduleId);
      document.getElementById('show').textContent = schedule ? `${concert.title}, ${when(schedule.startTime)}` : concert.title;
    })
    .catch(() => {});
  const left = document.getElementById('left');
  const tick = () => {
    const seconds = (Date.parse(hold.expiresAt) - Date.now()) / 1000;
    if (seconds <= 0) {
      left.textContent = 'ran out';
      payButton.disabled = true;
      showError(payError, new Error('Your hold ran out: the seats are free again.'));
      forgetHold(account.userId, scheduleId);
      return false;
    }
    left.textContent = duration(seconds);
    return true;
  };
  tick();
  const clock = setInterval(() => {
    if (!tick()) clearInterval(clock);
  }, 1000);
  topup.addEventListener('submit', topUp);
  payButton.addEventListener('click', pay);
  await loadBalance();
}

main();
