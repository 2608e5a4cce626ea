// The join page: where the invite leads, asked of the server before the form is filled
// (`sb.inviteInfo`, GET /invite-info: the workspace's name, whether it asks for a PIN, or why the link
// leads nowhere), then joining with it. Names are inserted as text, never as HTML.

import { $, app, describe, say, sb, withButton } from './shared.js';

// The codes with which an invite leads nowhere, at the look-up or at `attend`: expired,
// rotated away or garbage, the workspace gone, or this address banned from it.
const DEAD = ['invalid_token', 'expired_token', 'workspace_not_found', 'forbidden'];

let joined = () => {};

/** Wires the join form (once, at start); `onJoined` runs once attended. */
export function wireJoin(onJoined) {
  joined = onJoined;
  $('join-form').addEventListener('submit', onJoin);
}

/** Shows the join page of `app.invite`: the form once the server said where it leads. */
export async function openJoinPage() {
  const invite = app.invite;
  $('join-form').hidden = true;
  $('join-dead').hidden = true;
  const info = await lookUp(invite);
  if (invite !== app.invite || app.inWorkspace) return; // the page moved on meanwhile
  if (DEAD.includes(info.code)) showDead(info);
  else showForm(info);
}

// The invite's look-up: where it leads, or why not (`{code, message}`). A failure that
// says nothing about the invite (no answer, a proxy's page) has a code not in DEAD.
async function lookUp(invite) {
  try {
    return await sb.inviteInfo(invite);
  } catch (err) {
    return { code: err.code, message: err.message };
  }
}

// A live invite shows its workspace's name and whether the PIN is asked for; when the
// look-up failed otherwise (rate limited, server busy), the form is the plain one.
function showForm(info) {
  const known = typeof info.pin_required === 'boolean';
  $('join-workspace').hidden = !known;
  $('join-workspace-name').textContent = known ? info.name : '';
  showPin(known ? info.pin_required : null);
  $('join-form').hidden = false;
}

const PIN_NOTES = new Map([
  [true, 'This workspace asks for a PIN: the person who invited you has it.'],
  [false, 'No PIN needed: the link is enough.'],
  [null, 'Enter the PIN only if the workspace has one.'],
]);

/** `needed`: true, false, or null when unknown (the field shows, for those who have one). */
function showPin(needed) {
  $('join-pin-field').hidden = needed === false;
  $('join-pin-note').textContent = PIN_NOTES.get(needed);
}

function showDead(err) {
  $('join-form').hidden = true;
  $('join-dead').hidden = false;
  say(err.code === 'forbidden' ? 'You cannot join this workspace: its owner removed you.' : describe(err), 'error');
}

async function onJoin(event) {
  event.preventDefault();
  const pin = $('join-pin').value;
  await withButton($('join-submit'), async () => {
    say('Joining…');
    try {
      await sb.attend({ invite: app.invite, pin, name: $('join-name').value });
    } catch (err) {
      onJoinError(err, pin);
      return;
    }
    say('');
    joined();
  });
}

// The invite may have died since the page opened, or the owner set a PIN meanwhile.
function onJoinError(err, pin) {
  if (DEAD.includes(err.code)) {
    showDead(err);
  } else if (err.code === 'wrong_pin') {
    showPin(true);
    say(pin ? 'Wrong PIN.' : 'This workspace is protected by a PIN. Enter it to join.', 'error');
    $('join-pin').focus();
  } else {
    say(describe(err), 'error');
  }
}
