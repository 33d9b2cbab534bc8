// The waiting room of one show (`/queue?concert=ID&schedule=ID`): joins the line once, keeps
// the queue token in sessionStorage (a reload keeps the place, and joining again answers the
// same token), and polls the status at the pace the server asks for (`pollAfterSeconds`,
// else 2 s), give or take 20%, so thousands of open tabs do not ask together. When the
// buyer is let in it moves on to the seat picker by itself.

import { api, forgetPlace, savePlace, savedPlace } from './api.js';
import { duration, el, fill, findShow, idParam, jittered, requireAccount, roughly, showError, clearError, when } from './ui.js';

const concertId = idParam('concert');
const scheduleId = idParam('schedule');
const state = document.getElementById('state');
const detail = document.getElementById('detail');
const countdown = document.getElementById('countdown');
const progressBox = document.getElementById('progress-box');
const progress = document.getElementById('progress');
const error = document.getElementById('error');
const rejoin = document.getElementById('rejoin');

let account;
let place;
let timer;
let clock;
let opensAt = null;

function say(title, text) {
  if (state.textContent !== title) state.textContent = title;
  if (detail.textContent !== text) detail.textContent = text;
}

function showCountdown(at) {
  opensAt = at;
  countdown.hidden = false;
  if (clock) return;
  const tick = () => {
    const left = (Date.parse(opensAt) - Date.now()) / 1000;
    countdown.textContent = left > 0 ? `Sales open in ${duration(left)}` : 'Sales are opening…';
  };
  tick();
  clock = setInterval(tick, 1000);
}

function hideCountdown() {
  countdown.hidden = true;
  if (clock) clearInterval(clock);
  clock = null;
}

function schedulePoll(seconds) {
  clearTimeout(timer);
  timer = setTimeout(poll, jittered(seconds));
}

async function join() {
  clearError(error);
  rejoin.hidden = true;
  try {
    const issued = await api('POST', '/api/waiting-queues', { body: { concertId, concertScheduleId: scheduleId } });
    place = { token: issued.token, concertId, firstPosition: null };
    savePlace(account.userId, scheduleId, place);
    return true;
  } catch (err) {
    hideCountdown();
    if (err.code === 'SOLD_OUT') {
      say('Sold out', err.message);
    } else if (err.code === 'SALES_CLOSED') {
      say('Sales are closed', err.message);
    } else if (err.code === 'SALES_NOT_OPEN') {
      say('Not open yet', err.message);
      const show = await findShow(concertId, scheduleId).catch(() => null);
      if (show && show.schedule.salesStart) showCountdown(show.schedule.salesStart);
      // The line forms a while before the opening: try again now and then.
      timer = setTimeout(() => start(), jittered(15));
      return false;
    } else {
      say('You are not in the line', '');
      showError(error, err);
    }
    rejoin.hidden = false;
    return false;
  }
}

function showProgress(position) {
  if (!place.firstPosition || position > place.firstPosition) {
    place.firstPosition = position;
    savePlace(account.userId, scheduleId, place);
  }
  const first = place.firstPosition;
  progressBox.hidden = false;
  // Empty when the buyer joined, full when they are let in.
  progress.max = first;
  progress.value = Math.max(0, first - position);
  progress.textContent = `${first - position} of ${first} buyers ahead of you are through`;
}

async function poll() {
  let status;
  try {
    status = await api('GET', '/api/waiting-queues', { queueToken: place.token });
  } catch (err) {
    if (err.status === 401 || err.status === 403) {
      // The place was lost (idle too long) or the token is not this buyer's: join again.
      forgetPlace(account.userId, scheduleId);
      if (await join()) schedulePoll(0.5);
      return;
    }
    showError(error, err);
    schedulePoll(5);
    return;
  }
  clearError(error);
  const next = status.pollAfterSeconds;
  switch (status.status) {
    case 'active':
      say('It is your turn', 'Taking you to the seats…');
      hideCountdown();
      location.replace(`/seats?concert=${concertId}&schedule=${scheduleId}`);
      return;
    case 'scheduled':
      say('You are in the pre-queue', `When sales open at ${when(status.opensAt)}, everyone in the pre-queue gets a place in a random order, ahead of later arrivals.`);
      showCountdown(status.opensAt);
      progressBox.hidden = true;
      break;
    case 'waiting': {
      hideCountdown();
      const position = status.position ?? status.remainingPosition;
      const ahead = Math.max(0, position - 1);
      say(
        `You are number ${position} in line`,
        `${ahead === 0 ? 'You are next.' : `${ahead} ${ahead === 1 ? 'buyer is' : 'buyers are'} ahead of you.`} Estimated wait: ${roughly(status.estimatedWaitSeconds || 0)}.`,
      );
      showProgress(position);
      break;
    }
    case 'soldOut':
      hideCountdown();
      say(
        'Every seat is sold or held',
        `You keep your place (number ${status.position}). ${status.openHolds || 0} holds are still open: seats may come back when one runs out.`,
      );
      break;
    case 'closed':
      hideCountdown();
      progressBox.hidden = true;
      say('Sold out', 'Every seat was sold, and the line closed. Join again if seats come back.');
      forgetPlace(account.userId, scheduleId);
      rejoin.hidden = false;
      return;
    case 'ended':
      hideCountdown();
      progressBox.hidden = true;
      say('Your turn has ended', 'Your time to buy is over. Join the line again to buy more.');
      forgetPlace(account.userId, scheduleId);
      rejoin.hidden = false;
      return;
    default:
      say('Waiting…', '');
  }
  schedulePoll(next);
}

async function start() {
  clearTimeout(timer);
  place = savedPlace(account.userId, scheduleId);
  if (!place && !(await join())) return;
  await poll();
}

async function main() {
  if (concertId === null || scheduleId === null) {
    say('Which show?', '');
    fill(detail, 'This link names no show. ', el('a', { href: '/' }, 'Pick one on the What\'s on page.'));
    return;
  }
  account = await requireAccount();
  findShow(concertId, scheduleId)
    .then((show) => {
      if (show) document.getElementById('show').textContent = `${show.concert.title}, ${when(show.schedule.startTime)}`;
    })
    .catch(() => {});
  rejoin.addEventListener('click', () => {
    forgetPlace(account.userId, scheduleId);
    start();
  });
  start();
}

main();
