// A two-person video call with a text chat on the switchboard-sdk package. "Create" makes
// a workspace (with a PIN, if one is typed) and shows a link to share; opening that link
// (`?invite=TOKEN`) joins it, after asking for the PIN when there is one, and the call
// starts by itself. `?server=http://host:port` picks the Switchboard server.

import { Switchboard, SwitchboardError } from 'switchboard-sdk';

// Where `cargo run` in the Switchboard repository listens.
const DEFAULT_SERVER = 'http://127.0.0.1:9090';

const params = new URLSearchParams(location.search);
const server = params.get('server') || DEFAULT_SERVER;
const $ = (id) => document.getElementById(id);

// The server's http(s) address: the SDK connects to its WebSocket endpoint (ws(s)://…/ws).
const sb = new Switchboard(server);
let call = null;
const remoteVideos = new Map(); // attendee id -> <video>
const chatPeers = new Set(); // attendee ids whose data channel is open

function setStatus(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

// A SwitchboardError carries the protocol's error code (invalid_token, workspace_full,
// timeout, ...), which says more than the message alone; other errors come from the
// browser, e.g. NotAllowedError when the camera is refused.
function showError(err) {
  console.error(err);
  if (err instanceof SwitchboardError) setStatus(`${err.code}: ${err.message}`, true);
  else setStatus(`${err.name}: ${err.message}`, true);
}

const nameOf = (attendeeId) => sb.members.get(attendeeId)?.name || 'The other person';

// Camera first, so that no workspace is made (or joined) for a user who refuses it; then
// the membership (`join` creates or attends); then the call with everyone already there.
async function enter(join) {
  $('create').disabled = $('join-submit').disabled = true;
  let localStream = null;
  try {
    setStatus('Starting the camera…');
    if (!navigator.mediaDevices) throw new Error('The camera needs a secure page: https, or http on localhost.');
    localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    $('local').srcObject = localStream;
    setStatus('Connecting…');
    const { workspace } = await join($('name').value.trim() || 'Guest');
    showInvite(workspace.invite);
    startCall(localStream);
    $('setup').hidden = true;
    $('call').hidden = false;
    setStatus('Waiting for the other person…');
  } catch (err) {
    localStream?.getTracks().forEach((track) => track.stop());
    $('create').disabled = $('join-submit').disabled = false;
    showError(err);
  }
}

// The link to share: this page with the invite, and the server when it is not the default.
function showInvite(invite) {
  const link = new URL(location.pathname, location.origin);
  if (params.has('server')) link.searchParams.set('server', server);
  link.searchParams.set('invite', invite);
  $('invite-link').href = link.href;
  $('invite-link').textContent = link.href;
  $('share').hidden = false;
}

function startCall(localStream) {
  call = sb.call({ localStream, dataChannel: true });
  call.addEventListener('stream', ({ detail }) => showRemote(detail.attendeeId, detail.stream));
  call.addEventListener('peer-state', ({ detail }) => onPeerState(detail.attendeeId, detail.state));
  call.addEventListener('channel-open', ({ detail }) => {
    chatPeers.add(detail.attendeeId);
    $('chat-send').disabled = false;
    logChat(`${nameOf(detail.attendeeId)} joined the chat`);
  });
  call.addEventListener('message', ({ detail }) => logChat(`${nameOf(detail.attendeeId)}: ${detail.data}`));
  // Kicked, workspace destroyed, session refused: the SDK closes the call itself.
  call.addEventListener('closed', () => setStatus('The call has ended.'));
  call.ready.catch(showError);
}

// `stream` fires once per remote track, with the same MediaStream each time: one <video>
// per member. Muted, because browsers only autoplay silent media before the user clicks;
// a click on the video turns its sound on.
function showRemote(attendeeId, stream) {
  let video = remoteVideos.get(attendeeId);
  if (!video) {
    video = document.createElement('video');
    Object.assign(video, { autoplay: true, playsInline: true, muted: true, title: 'Click for sound' });
    video.dataset.attendeeId = attendeeId;
    video.addEventListener('click', () => (video.muted = !video.muted));
    remoteVideos.set(attendeeId, video);
    $('remote').append(video);
  }
  if (video.srcObject !== stream) video.srcObject = stream;
}

// `closed` means the call dropped that member (they left or hung up); other states are
// the RTCPeerConnection's own, which the SDK recovers from by itself when it can.
function onPeerState(attendeeId, state) {
  if (state === 'connected') setStatus(`In a call with ${nameOf(attendeeId)}.`);
  if (state !== 'closed') return;
  remoteVideos.get(attendeeId)?.remove();
  remoteVideos.delete(attendeeId);
  chatPeers.delete(attendeeId);
  $('chat-send').disabled = chatPeers.size === 0;
  setStatus('The other person left.');
}

function logChat(text) {
  const line = document.createElement('li');
  line.textContent = text; // text, never HTML: it comes from the other person
  $('chat-log').append(line);
  line.scrollIntoView({ block: 'nearest' });
}

function sendChat(event) {
  event.preventDefault();
  const text = $('chat-input').value.trim();
  if (!text) return;
  // `send` returns the members it reached: none while no data channel is open.
  if (call.send(text).length === 0) {
    setStatus('Nobody is connected to read it yet.', true);
    return;
  }
  logChat(`You: ${text}`);
  $('chat-input').value = '';
}

// The join form takes the invite token itself or the whole link that carries it.
function inviteFrom(text) {
  try {
    return new URL(text).searchParams.get('invite') || text;
  } catch {
    return text; // not a URL: the token
  }
}

$('server').textContent = server;
$('chat-send').disabled = true;
$('chat-form').addEventListener('submit', sendChat);
$('create').addEventListener('click', () => {
  const pin = $('create-pin').value; // empty: no PIN
  enter((name) => sb.create({ name: 'Video call', attendeeName: name, pin }));
});
$('join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const invite = inviteFrom($('join-invite').value.trim());
  const pin = $('join-pin').value;
  enter((name) => sb.attend({ invite, name, pin }));
});

// Closing the tab would leave the others' connection to time out (seconds); a hangup
// tells them at once.
addEventListener('pagehide', () => call?.hangup());

// Opened from a shared link: where it leads is asked first (GET /invite-info, which the
// server answers this origin when its allowed_origins admit it). A live invite joins at
// once, or once the PIN is typed when the workspace has one; a dead one says why.
async function openLink(invite) {
  $('join-invite').value = invite;
  try {
    const info = await sb.inviteInfo(invite);
    $('joining').textContent = `Joining “${info.name}”`;
    $('joining').hidden = false;
    $('join-pin-field').hidden = !info.pin_required;
    if (!info.pin_required) $('join-form').requestSubmit();
    else setStatus('This call has a PIN: the person who invited you has it.');
  } catch (err) {
    showError(err); // the form stays, for another link
  }
}

if (params.has('invite')) openLink(params.get('invite'));
