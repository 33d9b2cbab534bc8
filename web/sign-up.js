// Sign up: makes the account (POST /api/accounts), then signs in with it.

import { api, forgetAll, signIn } from './api.js';
import { accountBar, clearError, safeNext, showError } from './ui.js';

const next = safeNext(new URLSearchParams(location.search).get('next'));
document.getElementById('other').setAttribute('href', `/sign-in?next=${encodeURIComponent(next)}`);
accountBar();

const form = document.getElementById('form');
const error = document.getElementById('error');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearError(error);
  const name = document.getElementById('name').value.trim();
  const email = document.getElementById('email').value.trim();
  const password = document.getElementById('password').value;
  if (!name || !email || !password) {
    showError(error, new Error('Enter your name, email and a password.'));
    return;
  }
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await api('POST', '/api/accounts', { body: { name, email, password } });
    await signIn(email, password);
    forgetAll();
    location.assign(next);
  } catch (err) {
    showError(error, err);
    button.disabled = false;
  }
});
