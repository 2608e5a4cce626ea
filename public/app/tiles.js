// The demo app's tiles: one per member, self included, in join order, each with its video,
// name, microphone state (when known) and connection note.

import { $, app, element, sb } from './shared.js';
import { memberActions } from './owner.js';

const PEER_NOTES = {
  new: 'Connecting…',
  connecting: 'Connecting…',
  disconnected: 'Reconnecting…',
  failed: 'Connection lost, retrying…',
};

function tileOf(id) {
  return [...$('tiles').children].find((t) => t.dataset.attendeeId === id) ?? null;
}

function createTile(member) {
  const isSelf = member.id === sb.attendeeId;
  const tile = element('div', isSelf ? 'tile self' : 'tile');
  tile.dataset.attendeeId = member.id;
  const video = element('video');
  video.autoplay = true;
  video.playsInline = true;
  video.muted = isSelf; // never hear yourself
  const label = element('div', 'label');
  label.append(element('span', 'name'));
  if (isSelf) label.append(element('span', 'you', 'you'));
  label.append(element('span', 'mic'), element('span', 'note'));
  tile.append(video, label);
  if (sb.isOwner && !isSelf) tile.append(memberActions(member));
  $('tiles').append(tile);
  return tile;
}

function updateTile(tile, member) {
  const isSelf = member.id === sb.attendeeId;
  tile.querySelector('.name').textContent = member.name;
  showMic(tile.querySelector('.mic'), member.mic);
  tile.classList.toggle('offline', !member.online);
  if (!member.online) tile.querySelector('.note').textContent = 'Offline';
  if (isSelf) {
    const video = tile.querySelector('video');
    const stream = app.call ? app.stream : null;
    if (video.srcObject !== stream) {
      video.srcObject = stream;
      if (stream) play(video);
    }
  }
}

// A member who never said (mic null: another app, or before their call started) is not
// shown as muted: nothing is shown.
function showMic(mic, on) {
  if (typeof on !== 'boolean') {
    delete mic.dataset.mic;
    mic.textContent = '';
    return;
  }
  mic.dataset.mic = on ? 'on' : 'off';
  mic.textContent = on ? 'Mic on' : 'Muted';
}

/** Makes the tiles match `sb.members`. */
export function syncTiles() {
  if (!app.inWorkspace) return;
  for (const tile of [...$('tiles').children]) {
    if (!sb.members.has(tile.dataset.attendeeId)) tile.remove();
  }
  for (const member of sb.members.values()) {
    updateTile(tileOf(member.id) ?? createTile(member), member);
  }
}

/** A member's media arrived (the call's `stream` event). */
export function onStream({ attendeeId, stream }) {
  const video = tileOf(attendeeId)?.querySelector('video');
  if (!video || video.srcObject === stream) return;
  video.srcObject = stream;
  play(video);
}

/** The connection to a member changed (the call's `peer-state` event). */
export function onPeerState({ attendeeId, state }) {
  const tile = tileOf(attendeeId);
  if (!tile) return;
  tile.dataset.peerState = state;
  tile.querySelector('.note').textContent = PEER_NOTES[state] ?? '';
  if (state === 'closed') tile.querySelector('video').srcObject = null;
}

// Browsers may refuse to autoplay sound before the user touched the page (after a reload):
// play muted then, and offer a button to turn the sound on.
function play(video) {
  video.play()?.catch((err) => {
    if (err.name !== 'NotAllowedError' || video.muted) return;
    video.muted = true;
    video.play().catch(() => {});
    $('unmute-remote').hidden = false;
  });
}

export function unmuteRemote() {
  document.querySelectorAll('.tile:not(.self) video').forEach((v) => {
    v.muted = false;
    v.play().catch(() => {});
  });
  $('unmute-remote').hidden = true;
}
