// A new concert: its title, one or more shows (start, sales window, purchase limit) and a
// layout generator (sections × rows × seats, a price per section or per row) that builds the
// `seats` of each show, with section, row, number, category and plan position, for
// `POST /api/admin/concerts`. The API checks everything; the page only builds the request.

import { api } from './api.js';
import { fromLocalInput, localInput, requireAdmin, wholeNumber } from './console.js';
import { clearError, el, money, parseMoney, showError } from './ui.js';

const showsBox = document.getElementById('shows');
const sectionsBox = document.getElementById('sections');
const preview = document.getElementById('preview');
const error = document.getElementById('error');
let serial = 0;

/** A labelled field: `[label, input]` with a fresh id. */
function field(text, attrs) {
  serial += 1;
  const id = `f${serial}`;
  return [el('label', { for: id }, text), el('input', { id, ...attrs })];
}

function removeButton(text, node, after) {
  const button = el('button', { type: 'button', class: 'remove' }, text);
  button.addEventListener('click', () => {
    node.remove();
    after();
  });
  return button;
}

function renumber(box, word) {
  [...box.children].forEach((node, i) => {
    node.querySelector('legend').textContent = `${word} ${i + 1}`;
    const remove = node.querySelector('.remove');
    remove.hidden = box.children.length === 1;
    remove.textContent = `Remove ${word.toLowerCase()} ${i + 1}`;
  });
}

function addShow() {
  const start = new Date(Date.now() + 30 * 86400_000);
  start.setHours(20, 0, 0, 0);
  const set = el('fieldset', { class: 'item' }, el('legend', {}, 'Show'));
  const grid = el('div', { class: 'fields' });
  for (const [name, text, attrs] of [
    ['startTime', 'Starts at', { type: 'datetime-local', required: true, value: localInput(start.toISOString()) }],
    ['salesStart', 'Sales open at', { type: 'datetime-local' }],
    ['salesEnd', 'Sales close at', { type: 'datetime-local' }],
    ['maxTicketsPerBuyer', 'Most tickets per buyer', { type: 'number', min: '1', max: '1000', inputmode: 'numeric' }],
  ]) {
    const [label, input] = field(text, { name, ...attrs });
    grid.append(el('div', {}, label, input));
  }
  set.append(grid, removeButton('Remove', set, () => renumber(showsBox, 'Show')));
  showsBox.append(set);
  renumber(showsBox, 'Show');
}

function addSection(values = {}) {
  const set = el('fieldset', { class: 'item' }, el('legend', {}, 'Section'));
  const grid = el('div', { class: 'fields' });
  for (const [name, text, attrs] of [
    ['name', 'Name', { maxlength: '60', value: values.name || '' }],
    ['rows', 'Rows', { type: 'number', min: '1', max: '200', inputmode: 'numeric', value: values.rows || '' }],
    ['perRow', 'Seats per row', { type: 'number', min: '1', max: '500', inputmode: 'numeric', value: values.perRow || '' }],
    ['prices', 'Price (or one per row, comma-separated)', { inputmode: 'decimal', value: values.prices || '' }],
  ]) {
    const [label, input] = field(text, { name, ...attrs });
    input.addEventListener('input', updatePreview);
    grid.append(el('div', {}, label, input));
  }
  set.append(grid, removeButton('Remove', set, () => {
    renumber(sectionsBox, 'Section');
    updatePreview();
  }));
  sectionsBox.append(set);
  renumber(sectionsBox, 'Section');
  updatePreview();
}

/** Row names from the stage back: A … Z, AA, AB … */
function rowName(index) {
  let name = '';
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) name = String.fromCharCode(65 + ((n - 1) % 26)) + name;
  return name;
}

const value = (set, name) => set.querySelector(`[name=${name}]`).value;

/** The sections as typed: `{sections}` or `{problem}` saying what to fix first. */
function readSections() {
  const sections = [];
  const names = new Set();
  for (const [i, set] of [...sectionsBox.children].entries()) {
    const which = `Section ${i + 1}`;
    const name = value(set, 'name').trim();
    const rows = wholeNumber(value(set, 'rows'));
    const perRow = wholeNumber(value(set, 'perRow'));
    const priceText = value(set, 'prices').trim();
    if (!name) return { problem: `${which}: give it a name.` };
    if (names.has(name)) return { problem: `${which}: another section is called ${name}.` };
    names.add(name);
    if (!rows || rows < 1) return { problem: `${which}: rows must be a whole number of 1 or more.` };
    if (!perRow || perRow < 1) return { problem: `${which}: seats per row must be a whole number of 1 or more.` };
    const prices = priceText.split(',').map((p) => (p.trim() === '0' ? 0 : parseMoney(p)));
    if (!priceText || prices.some((p) => p === null)) {
      return { problem: `${which}: a price is an amount such as 45.00, or a list such as 80, 60.` };
    }
    sections.push({ name, rows, perRow, prices, set });
  }
  return { sections };
}

/** The seats of the layout: rows lettered per section, sections one behind the other. */
function buildSeats(sections) {
  const widest = Math.max(...sections.map((s) => s.perRow));
  const seats = [];
  let y = 0;
  for (const section of sections) {
    const offset = (widest - section.perRow) * 5; // centred on the widest section
    for (let r = 0; r < section.rows; r += 1) {
      const row = rowName(r);
      const price = section.prices[Math.min(r, section.prices.length - 1)];
      for (let n = 1; n <= section.perRow; n += 1) {
        seats.push({
          seatNumber: `${section.name} ${row}${n}`,
          price,
          section: section.name,
          row,
          number: String(n),
          category: section.name,
          x: offset + (n - 1) * 10,
          y,
        });
      }
      y += 10;
    }
    y += 10; // an aisle between sections
  }
  return seats;
}

function updatePreview() {
  const { sections, problem } = readSections();
  if (problem) {
    preview.textContent = `Layout: ${problem}`;
    return;
  }
  const seats = buildSeats(sections);
  const total = seats.reduce((sum, s) => sum + s.price, 0);
  const parts = sections.map((s) => `${s.name} ${s.rows} × ${s.perRow}`);
  preview.textContent = `${seats.length} seats per show (${parts.join(', ')}), worth ${money(total)} when sold out.`;
}

async function submit(event) {
  event.preventDefault();
  clearError(error);
  const title = document.getElementById('title').value.trim();
  const { sections, problem } = readSections();
  const fail = (message, focus) => {
    showError(error, new Error(message));
    if (focus) focus.focus();
  };
  if (!title) return fail('Give the concert a title.', document.getElementById('title'));
  if (problem) return fail(problem, sectionsBox.querySelector('input'));
  const seats = buildSeats(sections);
  const schedules = [];
  for (const [i, set] of [...showsBox.children].entries()) {
    const startTime = fromLocalInput(value(set, 'startTime'));
    if (!startTime) return fail(`Show ${i + 1}: give it a start time.`, set.querySelector('input'));
    const schedule = { startTime, seats };
    const salesStart = fromLocalInput(value(set, 'salesStart'));
    const salesEnd = fromLocalInput(value(set, 'salesEnd'));
    const limit = wholeNumber(value(set, 'maxTicketsPerBuyer'));
    if (Number.isNaN(limit)) return fail(`Show ${i + 1}: the most tickets per buyer is a whole number.`, set.querySelector('[name=maxTicketsPerBuyer]'));
    if (salesStart) schedule.salesStart = salesStart;
    if (salesEnd) schedule.salesEnd = salesEnd;
    if (limit !== null) schedule.maxTicketsPerBuyer = limit;
    schedules.push(schedule);
  }
  const button = event.target.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const made = await api('POST', '/api/admin/concerts', { body: { title, schedules } });
    location.assign(`/admin/show?schedule=${made.schedules[0].scheduleId}&created=1`);
  } catch (err) {
    showError(error, err);
    button.disabled = false;
  }
}

async function main() {
  await requireAdmin();
  document.getElementById('add-show').addEventListener('click', () => {
    addShow();
    showsBox.lastElementChild.querySelector('input').focus();
  });
  document.getElementById('add-section').addEventListener('click', () => {
    addSection();
    sectionsBox.lastElementChild.querySelector('input').focus();
  });
  document.getElementById('form').addEventListener('submit', submit);
  addShow();
  addSection({ name: 'Stalls', rows: 8, perRow: 12, prices: '60.00' });
}

main();
