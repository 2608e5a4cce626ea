// The Switchboard demo app: create or join a workspace, then a mesh video call with
// everyone in it. Names are always inserted as text, never as HTML.

import { Switchboard, sessions, decodeToken } from './switchboard.js';

const $ = (id) => document.getElementById(id);
const sb = new Switchboard();

const app = {
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
  invalid_token: 'This invite link is not valid.',
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
function describe(err) {
  if (err.code === 'bad_request' || err.code === 'too_large') {
    const text = String(err.message || 'That was not accepted.');
    return text.charAt(0).toUpperCase() + text.slice(1).replace(/\.?$/, '.');
  }
  return ERROR_TEXT[err.code] ?? 'Something went wrong. Please try again.';
}

function sessionEndText(code) {
  if (code === 'workspace_not_found') return 'This workspace no longer exists.';
  return 'You are no longer a member of this workspace. Join again with the invite link.';
}

function say(text, tone = 'info') {
  const status = $('status');
  status.textContent = text;
  status.dataset.tone = tone;
}

// ---------------------------------------------------------------------------------------
// Views

function show(view) {
  $('home').hidden = view !== 'home';
  $('join').hidden = view !== 'join';
  $('call').hidden = view !== 'call';
}

function showEntry() {
  show(app.invite ? 'join' : 'home');
}

function inviteUrl(token) {
  return `${location.origin}/?invite=${encodeURIComponent(token)}`;
}

async function withButton(button, work) {
  button.disabled = true;
  try {
    await work();
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------
// Entering and leaving a workspace

async function onCreate(event) {
  event.preventDefault();
  await withButton($('create-submit'), async () => {
    say('Creating your workspace…');
    try {
      await sb.create({
        name: $('create-name').value,
        pin: $('create-pin').value,
        attendeeName: $('create-attendee-name').value,
      });
    } catch (err) {
      say(describe(err), 'error');
      return;
    }
    say('');
    enterWorkspace();
  });
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
    enterWorkspace();
  });
}

function onJoinError(err, pin) {
  if (err.code === 'wrong_pin') {
    say(pin ? 'Wrong PIN.' : 'This workspace is protected by a PIN. Enter it to join.', 'error');
    $('join-pin').focus();
    return;
  }
  say(describe(err), 'error');
}

function enterWorkspace() {
  if (!sb.workspace) return;
  app.inWorkspace = true;
  show('call');
  $('workspace-name').textContent = sb.workspace.name;
  $('invite-link').value = inviteUrl(sb.workspace.invite);
  renderControls();
  syncTiles();
  startCall();
}

// Back to the forms, with `message` in #status. The session is already over (or, for a
// replaced tab, belongs to the other tab).
function exitWorkspace(message, { toHome = true } = {}) {
  app.inWorkspace = false;
  app.call?.close();
  app.call = null;
  stopMedia();
  $('tiles').replaceChildren();
  $('controls').replaceChildren();
  $('unmute-remote').hidden = true;
  if (toHome) {
    if (app.invite) history.replaceState(null, '', '/');
    app.invite = null;
    showEntry();
  } else {
    show('none');
  }
  say(message, 'notice');
}

// ---------------------------------------------------------------------------------------
// Media and the call

async function ensureMedia() {
  if (app.stream?.getTracks().some((t) => t.readyState === 'live')) return app.stream;
  try {
    app.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  } catch (err) {
    app.stream = await audioOnly(err);
  }
  return app.stream;
}

async function audioOnly(videoErr) {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    say('Your camera is not available: the others will only hear you.');
    return stream;
  } catch {
    say(`Your camera and microphone are not available (${videoErr.name}). You can still see and hear the others.`, 'error');
    return null;
  }
}

function stopMedia() {
  app.stream?.getTracks().forEach((t) => t.stop());
  app.stream = null;
}

async function startCall() {
  if (app.starting || app.call) return;
  app.starting = true;
  try {
    const stream = await ensureMedia();
    if (!app.inWorkspace) return;
    // A reload keeps the microphone and camera as they were (the server remembers them).
    const wanted = app.resume ?? { mic: sb.self?.mic !== false, cam: sb.self?.cam !== false };
    app.resume = null;
    const call = sb.call({ localStream: stream, ...wanted });
    call.addEventListener('stream', (e) => onStream(e.detail));
    call.addEventListener('peer-state', (e) => onPeerState(e.detail));
    app.call = call;
    syncTiles();
    await call.ready;
  } finally {
    app.starting = false;
    updateControls();
  }
}

function onStream({ attendeeId, stream }) {
  const video = tileOf(attendeeId)?.querySelector('video');
  if (!video || video.srcObject === stream) return;
  video.srcObject = stream;
  play(video);
}

const PEER_NOTES = {
  new: 'Connecting…',
  connecting: 'Connecting…',
  disconnected: 'Reconnecting…',
  failed: 'Connection lost, retrying…',
};

function onPeerState({ attendeeId, state }) {
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

function unmuteRemote() {
  document.querySelectorAll('.tile:not(.self) video').forEach((v) => {
    v.muted = false;
    v.play().catch(() => {});
  });
  $('unmute-remote').hidden = true;
}

// ---------------------------------------------------------------------------------------
// Tiles: one per member, self included, in join order.

function tileOf(id) {
  return [...$('tiles').children].find((t) => t.dataset.attendeeId === id) ?? null;
}

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
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
  if (sb.isOwner && !isSelf) {
    const kick = element('button', 'kick', 'Remove');
    kick.type = 'button';
    kick.addEventListener('click', () => kickMember(member.id, kick));
    tile.append(kick);
  }
  $('tiles').append(tile);
  return tile;
}

function updateTile(tile, member) {
  const isSelf = member.id === sb.attendeeId;
  tile.querySelector('.name').textContent = member.name;
  const mic = tile.querySelector('.mic');
  mic.dataset.mic = member.mic === true ? 'on' : 'off';
  mic.textContent = member.mic === true ? 'Mic on' : 'Muted';
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

function syncTiles() {
  if (!app.inWorkspace) return;
  for (const tile of [...$('tiles').children]) {
    if (!sb.members.has(tile.dataset.attendeeId)) tile.remove();
  }
  for (const member of sb.members.values()) {
    updateTile(tileOf(member.id) ?? createTile(member), member);
  }
  updateControls();
}

// ---------------------------------------------------------------------------------------
// Controls: built per membership, so that non-owners never get owner buttons.

function controlButton(id, label, onClick, className) {
  const button = element('button', className, label);
  button.id = id;
  button.type = 'button';
  button.addEventListener('click', () => withButton(button, onClick));
  return button;
}

function renderControls() {
  const buttons = [
    controlButton('toggle-mic', 'Mute', toggleMic),
    controlButton('toggle-cam', 'Camera off', toggleCam),
    controlButton('hangup', 'Hang up', hangup, 'danger'),
    controlButton('rejoin', 'Rejoin the call', rejoin),
  ];
  if (sb.isOwner) buttons.push(controlButton('destroy', 'End workspace for everyone', destroyWorkspace, 'danger'));
  else buttons.push(controlButton('leave', 'Leave workspace', leaveWorkspace));
  $('controls').replaceChildren(...buttons);
  updateControls();
}

function updateControls() {
  const micButton = $('toggle-mic');
  if (!micButton) return;
  const self = sb.self;
  const micOn = self?.mic !== false;
  const camOn = self?.cam !== false;
  micButton.textContent = micOn ? 'Mute' : 'Unmute';
  micButton.setAttribute('aria-pressed', String(!micOn));
  $('toggle-cam').textContent = camOn ? 'Camera off' : 'Camera on';
  $('toggle-cam').setAttribute('aria-pressed', String(!camOn));
  const inCall = !!app.call || app.starting;
  for (const id of ['toggle-mic', 'toggle-cam', 'hangup']) $(id).hidden = !inCall;
  $('rejoin').hidden = inCall;
}

async function toggleMic() {
  const on = sb.self?.mic === false;
  await report(app.call ? app.call.setMic(on) : sb.state({ mic: on }));
}

async function toggleCam() {
  const on = sb.self?.cam === false;
  await report(app.call ? app.call.setCam(on) : sb.state({ cam: on }));
}

// Hanging up keeps the membership: the tiles stay, media stops, "Rejoin" starts it again.
async function hangup() {
  const call = app.call;
  app.call = null;
  app.resume = { mic: sb.self?.mic !== false, cam: sb.self?.cam !== false };
  await call?.hangup();
  stopMedia();
  await report(sb.state({ mic: false, cam: false }));
  syncTiles();
}

async function rejoin() {
  await startCall();
}

async function leaveWorkspace() {
  try {
    await sb.leave();
  } catch (err) {
    say(describe(err), 'error');
    return;
  }
  exitWorkspace('You left the workspace.');
}

async function destroyWorkspace() {
  try {
    await sb.destroy();
  } catch (err) {
    say(describe(err), 'error');
    return;
  }
  exitWorkspace('You closed the workspace for everyone.');
}

async function kickMember(id, button) {
  await withButton(button, () => report(sb.kick(id)));
}

async function report(promise) {
  try {
    await promise;
  } catch (err) {
    say(describe(err), 'error');
  }
}

async function copyInvite() {
  const input = $('invite-link');
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    input.select(); // clipboard API unavailable (insecure origin): the old way
    document.execCommand('copy');
  }
  const button = $('copy-invite');
  button.textContent = 'Copied';
  setTimeout(() => (button.textContent = 'Copy'), 1500);
}

// ---------------------------------------------------------------------------------------
// Events from the server

function listen() {
  sb.addEventListener('members', syncTiles);
  sb.addEventListener('kicked', () => exitWorkspace('You were removed from this workspace by its owner.'));
  sb.addEventListener('destroyed', () => exitWorkspace('This workspace was closed by its owner.'));
  sb.addEventListener('session-ended', (e) => exitWorkspace(sessionEndText(e.detail.code)));
  sb.addEventListener('disconnected', (e) => onDisconnected(e.detail));
  sb.addEventListener('reattended', () => onReattended());
}

function onDisconnected({ code, reconnecting }) {
  if (!app.inWorkspace && !sb.token) return;
  if (code === 4001) {
    exitWorkspace('This call is now open in another tab or window. Reload this page to use it here.', { toHome: false });
  } else if (reconnecting) {
    say('Connection lost. Reconnecting…');
  }
}

function onReattended() {
  say('');
  if (!app.inWorkspace) enterWorkspace();
  else syncTiles();
}

// ---------------------------------------------------------------------------------------
// Start: come back into the workspace of this tab's stored session, if any.

function storedToken() {
  if (app.invite) {
    const wid = decodeToken(app.invite)?.wid;
    return wid ? sessions.get(wid) : null;
  }
  return sessions.last()?.token ?? null;
}

async function resume(token) {
  show('none');
  say('Reconnecting to your call…');
  try {
    await sb.reAttend(token);
  } catch (err) {
    if (['invalid_token', 'expired_token', 'workspace_not_found'].includes(err.code)) {
      showEntry();
      say(sessionEndText(err.code), 'notice');
    } else {
      say('Cannot reach the server. Retrying…'); // the SDK retries; `reattended` follows
    }
    return;
  }
  // Success: the SDK emits `reattended`, whose handler enters the workspace.
}

function boot() {
  $('create-form').addEventListener('submit', onCreate);
  $('join-form').addEventListener('submit', onJoin);
  $('copy-invite').addEventListener('click', copyInvite);
  $('unmute-remote').addEventListener('click', unmuteRemote);
  listen();
  const token = storedToken();
  if (token) resume(token);
  else showEntry();
}

boot();
