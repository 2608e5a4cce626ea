// The owner's controls in the demo app: removing a member (and keeping them out), a new
// invite link, the workspace's PIN, and the hint to share the link. The server refuses them to anyone else anyway;
// the others simply never see them.

import { $, describe, element, report, say, sb, withButton } from './shared.js';

/** The owner's buttons on another member's tile: remove, and remove for good (ban). */
export function memberActions(member) {
  const kick = element('button', 'kick', 'Remove');
  kick.type = 'button';
  kick.title = 'Remove from the workspace (they can join again with the invite link)';
  kick.addEventListener('click', () => withButton(kick, () => report(sb.kick(member.id))));
  const ban = element('button', 'ban', 'Ban');
  ban.type = 'button';
  ban.title = 'Remove and keep out: the invite link changes, and they cannot join again for now';
  ban.addEventListener('click', () => withButton(ban, () => banMember(member)));
  const actions = element('div', 'actions');
  actions.append(kick, ban);
  return actions;
}

/** Wires the invite and PIN controls (once, at start). */
export function wireOwnerControls() {
  $('rotate-invite').addEventListener('click', () => withButton($('rotate-invite'), rotateInvite));
  $('pin-form').addEventListener('submit', setPin);
  $('remove-pin').addEventListener('click', () => withButton($('remove-pin'), removePin));
}

/** Shows the invite and PIN controls to the owner only, with the PIN's current state. */
export function showOwnerControls() {
  const owner = sb.isOwner;
  $('rotate-invite').hidden = !owner;
  $('pin-form').hidden = !owner;
  const pinned = !!sb.workspace?.protected;
  $('pin-state').textContent = pinned ? 'Newcomers need a PIN.' : 'No PIN: the invite link is enough.';
  $('remove-pin').hidden = !pinned;
  showShareHint(owner, pinned);
}

// Inviting is the owner's to do: only they are told to pass the link on (and the PIN).
function showShareHint(owner, pinned) {
  const hint = $('share-hint');
  hint.hidden = !owner;
  hint.textContent = pinned
    ? 'Send this link, and the PIN, to the people you want in the call.'
    : 'Send this link to the people you want in the call: anyone who has it can join.';
}

// Runs an owner request; says `done` when it worked, the reason when it did not.
async function act(request, done) {
  try {
    await request();
  } catch (err) {
    say(describe(err), 'error');
    return false;
  }
  say(done);
  return true;
}

async function banMember(member) {
  if (!confirm(`Remove ${member.name} and keep them out? The invite link changes for everyone.`)) return;
  await act(
    () => sb.kick(member.id, { ban: true }),
    `${member.name} was removed and cannot join again for now. The invite link has changed: share the new one.`,
  );
}

async function rotateInvite() {
  await act(() => sb.rotateInvite(), 'New invite link: the old one no longer works.');
}

async function setPin(event) {
  event.preventDefault();
  const input = $('pin-input');
  await withButton($('set-pin'), async () => {
    if (await act(() => sb.setPin(input.value), 'PIN set: newcomers need it to join.')) input.value = '';
  });
}

async function removePin() {
  await act(() => sb.setPin(null), 'PIN removed: the invite link is enough to join.');
}
