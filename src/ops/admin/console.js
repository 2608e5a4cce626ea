// The admin console of one Switchboard node: its figures, its workspaces and what the
// operator can do to them (kick, ban, new invite, destroy) and to the node (drain), over
// the admin API (/admin/api, docs/operations.md). A dependency-free module on a static
// page: everything the server sends is written with textContent, never parsed as markup,
// because workspace and member names are whatever their users typed.

const TOKEN_KEY = 'switchboard-admin-token';
const REFRESH_MS = 2000;
const SEARCH_DELAY_MS = 250;

const $ = (id) => document.getElementById(id);

// ----- the token: kept in this tab only, sent only in a header (never in a URL) ---------

const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  forget: () => sessionStorage.removeItem(TOKEN_KEY),
};

// ----- the API ----------------------------------------------------------------------------

// An answer other than 2xx (`status` 0: no answer), with the API's error code.
const apiError = (status, code, message) => Object.assign(new Error(message), { status, code });

/** One admin API call; resolves to the answer's JSON, rejects with an apiError. */
async function api(method, path, body) {
  // A header carries visible ASCII only (fetch would throw): no such token can be right.
  if (!/^[\x21-\x7e]+$/.test(token.get() ?? '')) throw apiError(401, 'invalid_token', 'Not a token.');
  const init = { method, cache: 'no-store', headers: { Authorization: `Bearer ${token.get()}` } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(`/admin/api${path}`, init);
  } catch {
    throw apiError(0, 'unreachable', 'The server cannot be reached.');
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) throw apiError(res.status, data?.code ?? `http_${res.status}`, data?.message ?? res.statusText);
  return data;
}

const workspacePath = (id) => `/workspaces/${encodeURIComponent(id)}`;

// ----- the page's building blocks ---------------------------------------------------------

/** An element with properties set (text through textContent only) and children appended. */
function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** A button that runs `action` on click, disabled until it settles (no double kicks). */
function button(label, className, action) {
  const b = el('button', { type: 'button', className, textContent: label });
  b.addEventListener('click', () => {
    b.disabled = true;
    Promise.resolve().then(action).finally(() => (b.disabled = false));
  });
  return b;
}

// A button that asks first, in the page (a browser may suppress confirm() dialogs): clicking
// it shows `question` with "Yes, <label>" and "Cancel" in its place.
function confirmed(label, className, question, action) {
  const box = el('span', { className: 'confirm-step' });
  const reset = () => box.replaceChildren(start);
  const ask = () =>
    box.replaceChildren(
      el('span', { className: 'question', textContent: question }),
      button(`Yes, ${label.toLowerCase()}`, 'confirm', async () => {
        reset();
        await action();
      }),
      button('Cancel', 'cancel', reset),
    );
  const start = button(label, className, ask);
  box.append(start);
  return box;
}

/** The message line at the top: an error, or (`info`) the outcome of an action. */
function notify(text, kind = 'error') {
  const box = $('notice');
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = !text;
}

/** Shows a failed call; a refused token sends the operator back to the prompt. */
function report(err) {
  if (err.status === 401) {
    signOut('Wrong token: enter the admin token again.');
  } else if (err.status === 429) {
    notify(`Too many requests to the admin API; wait a little. (${err.message})`);
  } else {
    notify(err.message || err.code);
  }
}

/** Runs an API call; resolves to its answer, or to undefined once its failure is shown. */
const attempt = (call) => call().catch(report);

// ----- signing in and out -----------------------------------------------------------------

async function signIn() {
  const stats = await attempt(() => api('GET', '/stats'));
  if (!stats) return;
  notify('');
  showView(true);
  showStats(stats);
  startRefresh();
  await loadList();
}

/** Back to the prompt, with `message`; nothing of the signed-in view is left behind. */
function signOut(message, kind = 'error') {
  token.forget();
  stopRefresh();
  previous = null;
  expanded.clear();
  $('workspaces').replaceChildren();
  showView(false);
  notify(message, kind);
  $('token').value = '';
  $('token').focus();
}

function showView(signedIn) {
  $('login').hidden = signedIn;
  $('console').hidden = !signedIn;
  $('forget').hidden = !signedIn;
}

// ----- the figures, every REFRESH_MS -------------------------------------------------------

// The last sample of the counts since start, and when it was taken: rates are the
// difference between two samples over the time between them.
let previous = null;
// Bumped on every start and stop, so that a refresh in flight at sign-out ends there.
let refreshRun = 0;
let refreshTimer = null;

function startRefresh() {
  stopRefresh();
  const run = refreshRun;
  const tick = async () => {
    try {
      const stats = await api('GET', '/stats');
      if (run === refreshRun) showStats(stats);
    } catch (err) {
      if (run === refreshRun) staleStats(err);
    }
    if (run === refreshRun) refreshTimer = setTimeout(tick, REFRESH_MS);
  };
  refreshTimer = setTimeout(tick, REFRESH_MS);
}

function stopRefresh() {
  refreshRun += 1;
  clearTimeout(refreshTimer);
}

function showStats(stats, at = performance.now()) {
  const seconds = previous ? (at - previous.at) / 1000 : 0;
  const rate = (key) => rateBetween(previous?.[key], stats[key], seconds);
  setFigure('connections', stats.connections);
  setFigure('workspaces', stats.workspaces);
  setFigure('members-online', stats.members_online);
  setFigure('members-offline', stats.members_offline);
  setFigure('relay-rate', rate('relayed_messages'));
  setFigure('alerts', stats.alerts);
  setFigure('alert-rate', rate('alerts'));
  showDraining(stats.draining);
  $('stats-error').hidden = true;
  previous = { ...stats, at };
}

/** Per second between two samples; unknown at the first one and after a restart (it fell). */
function rateBetween(before, now, seconds) {
  if (before === undefined || seconds <= 0 || now < before) return '—';
  return ((now - before) / seconds).toFixed(1);
}

function setFigure(name, value) {
  document.querySelector(`[data-figure="${name}"]`).textContent = String(value);
}

// The figures stay as they were, marked as old; a refused token still means the prompt.
function staleStats(err) {
  if (err.status === 401) return report(err);
  const line = $('stats-error');
  line.textContent = `Figures not updated: ${err.message}`;
  line.hidden = false;
}

function showDraining(draining) {
  $('draining').hidden = !draining;
  $('drain-area').hidden = draining;
}

// ----- the workspace list -----------------------------------------------------------------

// The ids of the rows open to their members; they stay open when the list is reloaded.
const expanded = new Set();
// Bumped by every search, so that the answer to an older one is not shown over a newer one.
let listRun = 0;

async function loadList() {
  const run = ++listRun;
  const q = $('search').value.trim();
  const data = await attempt(() => api('GET', `/workspaces?q=${encodeURIComponent(q)}`));
  if (!data || run !== listRun) return;
  const rows = data.workspaces.map(workspaceRow);
  $('workspaces').replaceChildren(...rows);
  $('empty').hidden = rows.length > 0;
  await Promise.all(rows.filter((row) => expanded.has(row.dataset.id)).map(loadMembers));
}

function workspaceRow(w) {
  const toggle = el(
    'button',
    { type: 'button', className: 'toggle' },
    el('span', { className: 'name', textContent: w.name }),
    el('span', { className: 'id', textContent: w.id }),
    el('span', { className: 'counts', textContent: counts(w.members, w.online) }),
    el('span', { className: 'created', textContent: new Date(w.created_at).toLocaleString() }),
  );
  const detail = el('div', { className: 'detail', hidden: true }, el('div', { className: 'members-view' }));
  detail.append(workspaceActions(w));
  const row = el('li', { className: 'workspace' }, toggle, detail);
  row.dataset.id = w.id;
  toggle.addEventListener('click', () => setExpanded(row, !expanded.has(w.id)));
  toggle.setAttribute('aria-expanded', 'false');
  if (expanded.has(w.id)) setExpanded(row, true, { load: false });
  return row;
}

const counts = (members, online) => `${online} of ${members} online`;

function setExpanded(row, open, { load = true } = {}) {
  if (open) expanded.add(row.dataset.id);
  else expanded.delete(row.dataset.id);
  row.querySelector('.toggle').setAttribute('aria-expanded', String(open));
  row.querySelector('.detail').hidden = !open;
  if (open && load) loadMembers(row);
}

function removeRow(row) {
  expanded.delete(row.dataset.id);
  row.remove();
  $('empty').hidden = $('workspaces').children.length > 0;
}

// ----- one workspace: its members and the operator's actions --------------------------------

async function loadMembers(row) {
  try {
    showMembers(row, await api('GET', workspacePath(row.dataset.id)));
  } catch (err) {
    if (err.code === 'workspace_not_found') removeRow(row);
    report(err);
  }
}

function showMembers(row, detail) {
  row.querySelector('.counts').textContent = counts(detail.members.length, detail.online);
  const created = new Date(detail.created_at).toLocaleString();
  const facts = `${detail.pin_protected ? 'PIN-protected' : 'No PIN'} · created ${created}`;
  const head = el('tr', {}, ...['Name', 'Role', 'Presence', 'Protocol', ''].map((t) => el('th', { textContent: t })));
  const table = el(
    'table',
    { className: 'members' },
    el('thead', {}, head),
    el('tbody', {}, ...detail.members.map((m) => memberRow(row, m))),
  );
  row.querySelector('.members-view').replaceChildren(el('p', { className: 'facts', textContent: facts }), table);
}

function memberRow(row, m) {
  const tr = el(
    'tr',
    { className: 'member' },
    el('td', { className: 'name', textContent: m.name }),
    el('td', { className: 'role', textContent: m.role }),
    el('td', { className: 'presence', textContent: m.online ? 'online' : 'offline' }),
    el('td', { className: 'protocol', textContent: m.protocol ?? '—' }),
    el('td', { className: 'actions' }, ...memberActions(row, m)),
  );
  tr.dataset.id = m.id;
  return tr;
}

// The owner cannot be kicked: the workspace is destroyed instead.
function memberActions(row, m) {
  if (m.role === 'owner') return [];
  const kickButton = (label, className, ban) => button(label, className, () => kick(row, m, ban));
  return [kickButton('Kick', 'kick', false), kickButton('Kick + ban', 'ban', true)];
}

async function kick(row, member, ban) {
  const body = { attendee_id: member.id, ban };
  const done = await attempt(() => api('POST', `${workspacePath(row.dataset.id)}/kick`, body));
  if (!done) return;
  notify(`${member.name} was kicked${ban ? ' and banned' : ''}.`, 'info');
  await loadMembers(row);
}

function workspaceActions(w) {
  const invite = el('p', { className: 'invite', hidden: true });
  const rotate = button('Rotate invite', 'rotate', () => rotateInvite(w, invite));
  const question = `Destroy “${w.name}” for everyone in it?`;
  const destroy = confirmed('Destroy', 'destroy', question, () => destroyWorkspace(w));
  return el('div', { className: 'workspace-actions' }, rotate, destroy, invite);
}

// Every invite handed out so far stops working; the new one is shown to pass on.
async function rotateInvite(w, line) {
  const data = await attempt(() => api('POST', `${workspacePath(w.id)}/rotate-invite`));
  if (!data) return;
  line.replaceChildren('New invite: ', el('code', { textContent: data.invite }));
  line.hidden = false;
}

async function destroyWorkspace(w) {
  const done = await attempt(() => api('DELETE', workspacePath(w.id)));
  if (!done) return;
  const row = [...$('workspaces').children].find((r) => r.dataset.id === w.id);
  if (row) removeRow(row);
  notify(`Workspace “${w.name}” was destroyed.`, 'info');
}

// ----- the node -----------------------------------------------------------------------------

async function drain() {
  const data = await attempt(() => api('POST', '/drain'));
  if (data) showDraining(data.draining);
}

function drainControl() {
  const question = 'Close every connection (1012, clients reconnect elsewhere) and stop this node once they are gone?';
  return confirmed('Drain this node', 'drain', question, drain);
}

// ----- wiring -------------------------------------------------------------------------------

function wire() {
  let searchTimer = null;
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    token.set($('token').value.trim());
    signIn();
  });
  $('forget').addEventListener('click', () => signOut('Token forgotten.', 'info'));
  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    clearTimeout(searchTimer);
    loadList();
  });
  // A search as one types, once the typing pauses.
  $('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(loadList, SEARCH_DELAY_MS);
  });
  $('drain-area').append(drainControl());
}

wire();
if (token.get()) signIn();
else signOut('', 'info');
