// What the demo app's parts share: this tab's Switchboard, the app's state, plain words
// for the protocol's error codes, and small DOM helpers. Names are always inserted as
// text, never as HTML.

import { Switchboard, decodeToken, sessions } from '../sdk/index.js';

// A link ending in `#session=<session token>` (`switchboard import-json` prints one per
// member) signs this tab in as that member: the token becomes the tab's stored session,
// which the app re-attends with at start, and leaves the address bar at once, so that it
// is neither bookmarked nor shared with the page's address.
function takeSessionFromLink() {
  const token = new URLSearchParams(location.hash.slice(1)).get('session');
  if (!token) return;
  const wid = decodeToken(token)?.wid;
  if (wid) sessions.set(wid, token);
  history.replaceState(null, '', location.pathname + location.search);
}
takeSessionFromLink();

export const $ = (id) => document.getElementById(id);
export const sb = new Switchboard();

export const app = {
  invite: new URLSearchParams(location.search).get('invite'),
  inWorkspace: false,
  call: null,
  stream: null,
  starting: false,
  // Mic and camera as they were at hang-up, for "Rejoin".
  resume: null,
};

// ---------------------------------------------------------------------------------------
// Plain words for the protocol's error codes.

const ERROR_TEXT = {
  wrong_pin: 'Wrong PIN.',
  workspace_full: 'This workspace is full.',
  workspace_not_found: 'This workspace no longer exists.',
  invalid_token: 'This invite link is not valid (it may have been replaced). Ask for a new one.',
  expired_token: 'This invite link has expired. Ask for a new one.',
  rate_limited: 'Too many attempts. Please wait a few minutes and try again.',
  forbidden: 'Only the owner of this workspace can do that.',
  unknown_attendee: 'That person is no longer in this workspace.',
  not_attending: 'You are no longer in this workspace.',
  unavailable: 'The server cannot reach a service it needs. Please try again.',
  internal: 'Something went wrong on the server. Please try again.',
  timeout: 'The server did not answer. Please try again.',
  disconnected: 'Cannot reach the server. Check your connection and try again.',
};

// The server's own message names the field for shape errors (a short PIN, a long name).
export function describe(err) {
  if (err.code === 'bad_request' || err.code === 'too_large') {
    const text = String(err.message || 'That was not accepted.');
    return text.charAt(0).toUpperCase() + text.slice(1).replace(/\.?$/, '.');
  }
  return ERROR_TEXT[err.code] ?? 'Something went wrong. Please try again.';
}

export function sessionEndText(code) {
  if (code === 'workspace_not_found') return 'This workspace no longer exists.';
  return 'You are no longer a member of this workspace. Join again with the invite link.';
}

export function say(text, tone = 'info') {
  const status = $('status');
  status.textContent = text;
  status.dataset.tone = tone;
}

/** Awaits `promise`; a failure is told in #status. */
export async function report(promise) {
  try {
    await promise;
  } catch (err) {
    say(describe(err), 'error');
  }
}

// ---------------------------------------------------------------------------------------
// DOM helpers

export function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

/** Runs `work` with `button` disabled, so that a double click does not do it twice. */
export async function withButton(button, work) {
  button.disabled = true;
  try {
    await work();
  } finally {
    button.disabled = false;
  }
}
