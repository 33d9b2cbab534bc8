// Sign in: email and password, then back to the page that asked (`?next=`).

import { ApiError, forgetAll, signIn } from './api.js';
import { accountBar, clearError, safeNext, showError } from './ui.js';

const next = safeNext(new URLSearchParams(location.search).get('next'));
const other = document.getElementById('other');
other.setAttribute('href', `/sign-up?next=${encodeURIComponent(next)}`);
accountBar();

const form = document.getElementById('form');
const error = document.getElementById('error');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearError(error);
  const email = document.getElementById('email').value.trim();
  const password = document.getElementById('password').value;
  if (!email || !password) {
    showError(error, new Error('Enter your email and password.'));
    document.getElementById(email ? 'password' : 'email').focus();
    return;
  }
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await signIn(email, password);
    forgetAll();
    location.assign(next);
  } catch (err) {
    showError(error, err instanceof ApiError ? err : new Error(String(err)));
    button.disabled = false;
    document.getElementById('password').focus();
  }
});
