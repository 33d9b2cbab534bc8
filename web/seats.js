// The seat picker (`/seats?concert=ID&schedule=ID`), for a buyer the line let in.
//
// The plan is drawn from the seat map: from each seat's `section`, `row`, `number` and plan
// coordinates `x`/`y` when the show has them, else from seat numbers like "A12" (row A,
// seat 12), else as a simple grid. Seats are <button>s with aria-pressed and a full
// aria-label, so the plan works from the keyboard and a screen reader. Held and sold seats
// are refreshed every few seconds. The buyer chooses up to the show's purchase limit, then
// holds them all at once (POST /api/concerts/reservations with `seatIds`).

import { api, forgetHold, saveHold, savedHold, savedPlace } from './api.js';
import { clearError, duration, el, fill, idParam, money, requireAccount, showError, when } from './ui.js';

const REFRESH_SECONDS = 3;
const concertId = idParam('concert');
const scheduleId = idParam('schedule');
const error = document.getElementById('error');
const plan = document.getElementById('plan');
const legend = document.getElementById('legend');
const summary = document.getElementById('summary');
const limitNote = document.getElementById('limit');
const holdButton = document.getElementById('hold-button');
const holdBox = document.getElementById('hold');

let account;
let token;
let limit = 4;
let hold = null;
let holdClock = null;
const chosen = new Set();
const seats = new Map(); // seatId -> {seat, button}

const STATUS_WORD = { available: 'available', held: 'held', sold: 'sold' };

/** Where a seat sits: its section, row and number, from the layout or its seat number. */
function place(seat) {
  const parsed = /^([A-Za-z]{1,3})[-\s]?(\d{1,5})$/.exec(seat.seatNumber || '');
  return {
    section: seat.section ?? null,
    row: seat.row ?? (parsed ? parsed[1].toUpperCase() : null),
    number: seat.number ?? (parsed ? parsed[2] : null),
    category: seat.category ?? null,
  };
}

// The seat number comes first: it is what the ticket and the receipt say. Where the plan puts
// the seat follows.
function label(seat) {
  const p = place(seat);
  const parts = [`Seat ${seat.seatNumber}`];
  if (p.section) parts.push(`section ${p.section}`);
  if (p.row !== null && p.number !== null) parts.push(`row ${p.row}`, `number ${p.number}`);
  parts.push(money(seat.price));
  parts.push(chosen.has(seat.seatId) ? 'chosen' : STATUS_WORD[seat.status] || seat.status);
  return parts.join(', ');
}

/** The price categories: by the layout's category, else by price. */
function categories(list) {
  const found = new Map();
  for (const seat of list) {
    const p = place(seat);
    const keyName = p.category ?? `price ${seat.price}`;
    if (!found.has(keyName)) found.set(keyName, { name: p.category, prices: new Set(), index: found.size });
    found.get(keyName).prices.add(seat.price);
  }
  return found;
}

function categoryOf(cats, seat) {
  const p = place(seat);
  return cats.get(p.category ?? `price ${seat.price}`).index % 6;
}

function updateButton(entry) {
  const { seat, button } = entry;
  const isChosen = chosen.has(seat.seatId);
  button.setAttribute('aria-pressed', isChosen ? 'true' : 'false');
  button.setAttribute('aria-label', label(seat));
  button.setAttribute('aria-disabled', seat.status === 'available' ? 'false' : 'true');
  button.classList.toggle('held', seat.status === 'held');
  button.classList.toggle('sold', seat.status === 'sold');
  button.classList.toggle('chosen', isChosen);
  button.dataset.status = seat.status;
}

function drawLegend(cats) {
  fill(legend);
  for (const cat of cats.values()) {
    const prices = [...cat.prices].sort((a, b) => a - b).map(money).join(' / ');
    legend.append(
      el('li', {}, el('span', { class: `swatch cat-${cat.index % 6}`, 'aria-hidden': 'true' }), cat.name ? `${cat.name}: ${prices}` : prices),
    );
  }
  for (const [cls, text] of [['chosen', 'Your choice'], ['held', 'Held by someone'], ['sold', 'Sold']]) {
    legend.append(el('li', {}, el('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), text));
  }
}

function seatButton(seat, cats) {
  const p = place(seat);
  const button = el(
    'button',
    { type: 'button', class: `seat cat-${categoryOf(cats, seat)}`, 'data-seat-id': seat.seatId },
    p.number !== null && p.row !== null ? String(p.number) : seat.seatNumber,
  );
  const entry = { seat, button };
  button.addEventListener('click', () => toggle(entry));
  seats.set(seat.seatId, entry);
  updateButton(entry);
  return button;
}

/** Draws the plan once; later refreshes only change the seats' states. */
function draw(list) {
  const cats = categories(list);
  drawLegend(cats);
  fill(plan);
  seats.clear();
  const positioned = list.length > 0 && list.every((s) => Number.isFinite(s.x) && Number.isFinite(s.y));
  // Sections in order of first appearance, rows likewise, seats by number within a row.
  const sections = new Map();
  for (const seat of list) {
    const p = place(seat);
    const sKey = p.section ?? '';
    if (!sections.has(sKey)) sections.set(sKey, new Map());
    const rows = sections.get(sKey);
    const rKey = p.row ?? '';
    if (!rows.has(rKey)) rows.set(rKey, []);
    rows.get(rKey).push(seat);
  }
  if (positioned) {
    // Plan coordinates: each seat placed at its x/y (set through the CSSOM, which the
    // Content-Security-Policy allows, unlike style attributes), in reading order in the DOM.
    const xs = list.map((s) => s.x);
    const ys = list.map((s) => s.y);
    const minX = Math.min(...xs);
    const minY = Math.min(...ys);
    const spanX = Math.max(...xs) - minX || 1;
    const spanY = Math.max(...ys) - minY || 1;
    const box = el('div', { class: 'positioned', role: 'group', 'aria-label': 'Seating plan' });
    // The smallest distance between two seats sets the scale: neighbours sit one seat apart.
    const distinct = (values) => [...new Set(values)].sort((a, b) => a - b);
    const gaps = (values) => values.slice(1).map((v, i) => v - values[i]).filter((d) => d > 0);
    const step = Math.min(...gaps(distinct(xs)), ...gaps(distinct(ys)), spanX, spanY);
    const scale = 2.6 / step; // rem per plan unit: a seat is 2.3rem wide, plus a gap
    const labelRoom = 1.6; // rem above each section for its name
    box.style.width = `${spanX * scale + 2.6}rem`;
    box.style.height = `${spanY * scale + 2.6 + labelRoom}rem`;
    for (const [sectionName, rows] of sections) {
      const members = [...rows.values()].flat();
      if (sectionName) {
        const name = el('span', { class: 'section-name', 'aria-hidden': 'true' }, sectionName);
        name.style.left = `${(Math.min(...members.map((s) => s.x)) - minX) * scale}rem`;
        name.style.top = `${(Math.min(...members.map((s) => s.y)) - minY) * scale}rem`;
        box.append(name);
      }
      for (const row of rows.values()) {
        row.sort((a, b) => a.x - b.x);
        for (const seat of row) {
          const button = seatButton(seat, cats);
          button.style.left = `${(seat.x - minX) * scale}rem`;
          button.style.top = `${(seat.y - minY) * scale + labelRoom}rem`;
          box.append(button);
        }
      }
    }
    plan.append(box);
    return;
  }
  for (const [sectionName, rows] of sections) {
    const group = el('div', { class: 'section', role: 'group', 'aria-label': sectionName ? `Section ${sectionName}` : 'Seats' });
    if (sectionName) group.append(el('h3', {}, `Section ${sectionName}`));
    for (const [rowName, row] of rows) {
      const numeric = (s) => Number(place(s).number ?? NaN);
      row.sort((a, b) => numeric(a) - numeric(b) || String(a.seatNumber).localeCompare(String(b.seatNumber)));
      const line = el('div', { class: rowName ? 'row' : 'row grid', role: 'group', 'aria-label': rowName ? `Row ${rowName}` : 'Seats' });
      if (rowName) line.append(el('span', { class: 'row-name', 'aria-hidden': 'true' }, rowName));
      const seatsBox = el('div', { class: 'row-seats' });
      for (const seat of row) seatsBox.append(seatButton(seat, cats));
      line.append(seatsBox);
      group.append(line);
    }
    plan.append(group);
  }
}

function updateSummary() {
  const list = [...chosen].map((id) => seats.get(id)?.seat).filter(Boolean);
  if (list.length === 0) {
    summary.textContent = 'No seat chosen yet.';
  } else {
    const total = list.reduce((sum, s) => sum + s.price, 0);
    summary.textContent = `${list.length} ${list.length === 1 ? 'seat' : 'seats'} chosen: ${list.map((s) => s.seatNumber).join(', ')}. Total ${money(total)}.`;
  }
  limitNote.textContent = `You can choose up to ${limit} ${limit === 1 ? 'seat' : 'seats'}.`;
  holdButton.disabled = list.length === 0 || hold !== null;
}

function toggle(entry) {
  clearError(error);
  if (hold) {
    showError(error, new Error('You already hold seats: pay for them or give them back first.'));
    return;
  }
  const id = entry.seat.seatId;
  if (chosen.has(id)) {
    chosen.delete(id);
  } else if (entry.seat.status !== 'available') {
    showError(error, new Error(`Seat ${entry.seat.seatNumber} is ${entry.seat.status}.`));
    return;
  } else if (chosen.size >= limit) {
    showError(error, new Error(`You can choose at most ${limit} ${limit === 1 ? 'seat' : 'seats'}.`));
    return;
  } else {
    chosen.add(id);
  }
  updateButton(entry);
  updateSummary();
}

function toQueue() {
  location.replace(`/queue?concert=${concertId}&schedule=${scheduleId}`);
}

async function refresh(first) {
  let map;
  try {
    map = await api('GET', `/api/concerts/${concertId}/schedules/${scheduleId}/seats`, { queueToken: token });
  } catch (err) {
    if ((err.status === 401 || err.status === 403) && !hold) {
      toQueue();
      return;
    }
    showError(error, err);
    return;
  }
  if (first || map.seats.length !== seats.size || map.seats.some((s) => !seats.has(s.seatId))) {
    draw(map.seats);
    return;
  }
  const taken = [];
  for (const seat of map.seats) {
    const entry = seats.get(seat.seatId);
    if (entry.seat.status === seat.status && entry.seat.price === seat.price) continue;
    entry.seat = seat;
    if (seat.status !== 'available' && chosen.has(seat.seatId)) {
      chosen.delete(seat.seatId);
      taken.push(seat.seatNumber);
    }
    updateButton(entry);
  }
  if (taken.length) {
    showError(error, new Error(`Someone else just took ${taken.join(', ')}; choose again.`));
    updateSummary();
  }
}

function showHold() {
  if (!hold) {
    holdBox.hidden = true;
    if (holdClock) clearInterval(holdClock);
    holdClock = null;
    updateSummary();
    return;
  }
  holdBox.hidden = false;
  const list = hold.seats && hold.seats.length ? hold.seats : [{ seatNumber: hold.seatNumber, price: hold.price }];
  document.getElementById('hold-seats').textContent = `${list.map((s) => s.seatNumber).join(', ')}, ${money(hold.price)} in all.`;
  document.getElementById('to-checkout').setAttribute('href', `/checkout?concert=${concertId}&schedule=${scheduleId}`);
  const left = document.getElementById('hold-left');
  const tick = () => {
    const seconds = (Date.parse(hold.expiresAt) - Date.now()) / 1000;
    if (seconds <= 0) {
      forgetHold(account.userId, scheduleId);
      hold = null;
      showHold();
      showError(error, new Error('Your hold ran out: the seats are free again. Choose again.'));
      refresh(false);
      return;
    }
    left.textContent = duration(seconds);
  };
  tick();
  if (holdClock) clearInterval(holdClock);
  holdClock = setInterval(tick, 1000);
  updateSummary();
}

async function holdSeats() {
  clearError(error);
  if (chosen.size === 0) return;
  holdButton.disabled = true;
  try {
    hold = await api('POST', '/api/concerts/reservations', {
      queueToken: token,
      body: { concertId, scheduleId, seatIds: [...chosen] },
    });
    saveHold(account.userId, scheduleId, hold);
    chosen.clear();
    showHold();
    await refresh(false);
    document.getElementById('to-checkout').focus();
  } catch (err) {
    if (err.code === 'SEAT_UNAVAILABLE' && Array.isArray(err.body.seatIds)) {
      for (const id of err.body.seatIds) chosen.delete(id);
      await refresh(false);
    }
    if (err.status === 403 && err.code === 'FORBIDDEN') {
      showError(error, new Error(`${err.message} Taking you back to the line…`));
      setTimeout(toQueue, 2500);
      return;
    }
    showError(error, err);
    updateSummary();
  }
}

async function release() {
  clearError(error);
  if (!hold) return;
  try {
    await api('DELETE', `/api/concerts/reservations/${hold.reservationId}`, { queueToken: token });
  } catch (err) {
    if (err.status !== 410) {
      showError(error, err);
      return;
    }
  }
  forgetHold(account.userId, scheduleId);
  hold = null;
  showHold();
  refresh(false);
}

async function main() {
  if (concertId === null || scheduleId === null) {
    showError(error, new Error('This link names no show.'));
    return;
  }
  account = await requireAccount();
  const saved = savedPlace(account.userId, scheduleId);
  if (!saved) {
    toQueue();
    return;
  }
  token = saved.token;
  hold = savedHold(account.userId, scheduleId);
  if (hold && Date.parse(hold.expiresAt) <= Date.now()) {
    forgetHold(account.userId, scheduleId);
    hold = null;
  }
  try {
    const concert = await api('GET', `/api/concerts/${concertId}`, { queueToken: token });
    const schedule = (concert.schedules || []).find((s) => s.scheduleId === scheduleId);
    document.getElementById('show').textContent = schedule ? `${concert.title}, ${when(schedule.startTime)}` : concert.title;
    if (schedule && schedule.maxTicketsPerBuyer) limit = schedule.maxTicketsPerBuyer;
  } catch (err) {
    if ((err.status === 401 || err.status === 403) && !hold) {
      toQueue();
      return;
    }
    showError(error, err);
  }
  holdButton.addEventListener('click', holdSeats);
  document.getElementById('release').addEventListener('click', release);
  await refresh(true);
  showHold();
  setInterval(() => refresh(false), REFRESH_SECONDS * 1000);
}

main();
