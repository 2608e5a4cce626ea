// The Switchboard demo app: create or join a workspace, then a mesh video call with
// everyone in it. Its parts are in ./app/; names are always inserted as text, never as HTML.

import { decodeToken, sessions } from './sdk/index.js';
import { $, app, describe, element, report, say, sb, sessionEndText, withButton } from './app/shared.js';
import { askConfirm, dismissConfirm } from './app/confirm.js';
import { openJoinPage, wireJoin } from './app/join.js';
import { showOwnerControls, wireOwnerControls } from './app/owner.js';
import { onPeerState, onStream, syncTiles, unmuteRemote } from './app/tiles.js';

// ---------------------------------------------------------------------------------------
// Views

function show(view) {
  $('home').hidden = view !== 'home';
  $('join').hidden = view !== 'join';
  $('call').hidden = view !== 'call';
}

function showEntry() {
  show(app.invite ? 'join' : 'home');
  if (app.invite) openJoinPage();
}

// A PIN has done its work once the workspace is entered, and must not wait in a form
// for the next person at this screen once it ended.
function forgetPins() {
  for (const id of ['create-pin', 'join-pin', 'pin-input']) $(id).value = '';
}

function inviteUrl(token) {
  return `${location.origin}/?invite=${encodeURIComponent(token)}`;
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

function enterWorkspace() {
  if (!sb.workspace) return;
  app.inWorkspace = true;
  forgetPins();
  show('call');
  $('workspace-name').textContent = sb.workspace.name;
  showWorkspace();
  renderControls();
  render();
  startCall();
}

// The invite link and the owner's controls, as the workspace is now (on every member's
// page: a rotated invite is pushed to all).
function showWorkspace() {
  $('invite-link').value = inviteUrl(sb.workspace.invite);
  showOwnerControls();
}

// Back to the forms, with `message` in #status. The session is already over (or, for a
// replaced tab, belongs to the other tab).
function exitWorkspace(message, { toHome = true } = {}) {
  app.inWorkspace = false;
  dismissConfirm();
  forgetPins();
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
    render();
    await call.ready;
  } finally {
    app.starting = false;
    updateControls();
  }
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

// The tiles and the controls, after anything that changes what they show.
function render() {
  syncTiles();
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
  render();
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
  const message = 'End this workspace for everyone? Everyone in it is sent out, and its invite link stops working.';
  if (!(await askConfirm(message, 'End for everyone')) || !app.inWorkspace) return;
  try {
    await sb.destroy();
  } catch (err) {
    say(describe(err), 'error');
    return;
  }
  exitWorkspace('You closed the workspace for everyone.');
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
  sb.addEventListener('members', render);
  sb.addEventListener('workspace', () => app.inWorkspace && showWorkspace());
  sb.addEventListener('invite-rotated', () => {
    if (app.inWorkspace) say('The invite link has changed: the old one no longer works.');
  });
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
  else render();
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
  wireJoin(enterWorkspace);
  $('copy-invite').addEventListener('click', copyInvite);
  $('unmute-remote').addEventListener('click', unmuteRemote);
  wireOwnerControls();
  listen();
  const token = storedToken();
  if (token) resume(token);
  else showEntry();
}

boot();
