'use strict';
// Harness for the end-to-end tests: the real Switchboard binary on a free port, Debian's
// Chromium driven by playwright-core, and a few user-level helpers for the demo app
// (public/index.html). Everything here relies only on the app's DOM contract.

const fs = require('node:fs');
const path = require('node:path');
const { before, after } = require('node:test');
const { chromium } = require('playwright-core');
const { startServer } = require('./server');

const ARTIFACTS = path.join(__dirname, 'artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// Timeouts, in milliseconds.
const UI_TIMEOUT = 10_000; // a page reacting to a click or a pushed event
const MEDIA_TIMEOUT = 30_000; // ICE connectivity and the first decoded frames

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

// ---------------------------------------------------------------------------------------
// Polling

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * expect-style polling: calls `probe` until `check(value)` is true or the timeout passes.
 * On timeout, throws with `message` and the last value seen (or the last error thrown).
 */
async function eventually(probe, check, { timeout = UI_TIMEOUT, interval = 200, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  let lastError;
  for (;;) {
    try {
      last = await probe();
      lastError = undefined;
      if (check(last)) return last;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const seen = lastError ? `last error: ${lastError.message}` : `last value: ${JSON.stringify(last, null, 2)}`;
      throw new Error(`timed out after ${timeout} ms waiting for ${message}; ${seen}`);
    }
    await sleep(interval);
  }
}

// ---------------------------------------------------------------------------------------
// The browser

async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (scripts/test does it)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/**
 * For a `describe` block: the server (`startServer(options)`) and Chromium, started before
 * its tests and stopped after them. Returns `{server, browser}`, filled in by then.
 */
function serverAndBrowser(options) {
  const env = { server: null, browser: null };
  before(async () => {
    env.server = await startServer(options);
    env.browser = await launchBrowser();
  });
  after(async () => {
    if (env.browser) await env.browser.close();
    if (env.server) await env.server.stop();
  });
  return env;
}

// Runs in every page before the app: records each RTCPeerConnection in window.__pcs, with
// the time it was made (`__createdAt`, ms since the epoch).
function recordPeerConnections() {
  const Native = window.RTCPeerConnection;
  if (!Native || Native.__recorded) return;
  window.__pcs = [];
  class RecordedPeerConnection extends Native {
    constructor(...args) {
      super(...args);
      this.__createdAt = Date.now();
      window.__pcs.push(this);
    }
  }
  RecordedPeerConnection.__recorded = true;
  window.RTCPeerConnection = RecordedPeerConnection;
  if (window.webkitRTCPeerConnection) window.webkitRTCPeerConnection = RecordedPeerConnection;
}

/**
 * A new page in its own browser context (its own sessionStorage), labelled for diagnostics.
 * Console messages and page errors are kept in `page.__log`; dialogs (confirm) are accepted.
 */
async function openPage(browser, baseUrl, label) {
  const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 800 } });
  await context.addInitScript(recordPeerConnections);
  const page = await context.newPage();
  page.__label = label;
  page.__log = [];
  page.on('console', (msg) => page.__log.push(`[console.${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (err) => page.__log.push(`[pageerror] ${err.message}`));
  page.on('response', (res) => {
    if (res.status() >= 400) page.__log.push(`[http ${res.status()}] ${res.request().method()} ${res.url()}`);
  });
  // Signaling frames, without the chatty ones (ICE candidates, SDP bodies cut short).
  const frame = (dir) => (f) => {
    if (typeof f.payload !== 'string' || f.payload.includes('"icecandidate"')) return;
    page.__log.push(`[ws ${dir}] ${f.payload.slice(0, 200)}`);
  };
  page.on('websocket', (ws) => {
    ws.on('framereceived', frame('<'));
    ws.on('framesent', frame('>'));
    ws.on('close', () => page.__log.push('[ws closed]'));
  });
  page.on('dialog', (dialog) => {
    page.__log.push(`[dialog ${dialog.type()}] ${dialog.message()}`);
    dialog.accept().catch(() => {});
  });
  return page;
}

/**
 * Runs `body(open)`, where `open(label)` resolves to a fresh page made by `makePage(label)`;
 * on failure, screenshots and logs of every page are printed before the error is rethrown;
 * the pages' contexts are always closed.
 */
async function withPages(t, makePage, body) {
  const pages = [];
  const open = async (label) => {
    const page = await makePage(label);
    pages.push(page);
    return page;
  };
  try {
    await body(open);
  } catch (err) {
    await dumpPages(t.name, pages);
    throw err;
  } finally {
    for (const page of pages) await page.context().close().catch(() => {});
  }
}

/** Empties artifacts/ of an earlier run. */
function resetArtifacts() {
  fs.rmSync(ARTIFACTS, { recursive: true, force: true });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
}

/** Saves a screenshot of every page and prints their logs; used when a test fails. */
async function dumpPages(testName, pages) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const slug = testName.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
  for (const page of pages) {
    if (!page || page.isClosed()) continue;
    const file = path.join(ARTIFACTS, `failed-${slug}-${page.__label}.png`);
    try {
      await page.screenshot({ path: file, fullPage: true });
      console.error(`# screenshot of ${page.__label}: ${file}`);
    } catch (err) {
      console.error(`# no screenshot of ${page.__label}: ${err.message}`);
    }
    let status = '';
    try {
      status = await page.locator('#status').innerText({ timeout: 1000 });
    } catch {
      /* no #status */
    }
    console.error(`# ${page.__label} at ${page.url()}, #status: ${JSON.stringify(status)}`);
    for (const line of page.__log.slice(-40)) console.error(`#   ${line}`);
  }
}

// ---------------------------------------------------------------------------------------
// The demo app, as a user drives it

/** Creates a workspace through the create form and resolves to its invite link. */
async function createWorkspace(page, { name, pin = '', attendeeName }) {
  await page.goto('/');
  await page.locator('#create-name').fill(name);
  if (pin) await page.locator('#create-pin').fill(pin);
  await page.locator('#create-attendee-name').fill(attendeeName);
  await page.locator('#create-submit').click();
  const invite = page.locator('#invite-link');
  await invite.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  const link = await eventually(() => invite.inputValue(), (v) => /[?&]invite=[^&]+/.test(v), {
    message: '#invite-link to hold an invite link',
  });
  return link;
}

/** Opens an invite link and fills the join form (name, and the PIN when given). */
async function submitJoin(page, inviteLink, { name, pin }) {
  await page.goto(inviteLink);
  await page.locator('#join-form').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  await page.locator('#join-name').fill(name);
  if (pin !== undefined) await page.locator('#join-pin').fill(pin);
  await page.locator('#join-submit').click();
}

/**
 * Opens an invite link that leads nowhere: the join page says so at once (#status matches
 * `re`), with no form to fill and nothing sent to join. Resolves to the notice.
 */
async function openDeadInvite(page, inviteLink, re) {
  const before = page.__log.length; // the log spans every page the tab showed
  await page.goto(inviteLink);
  await page.locator('#join-dead').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  const notice = await waitForStatus(page, re);
  if (await page.locator('#join-form').isVisible()) throw new Error(`${page.__label} offers a form for a dead invite`);
  if (page.__log.slice(before).some((line) => line.includes('"event":"attend"'))) throw new Error(`${page.__label} tried to attend`);
  return notice;
}

/** Joins through the invite link and waits for the call view. */
async function joinWorkspace(page, inviteLink, { name, pin }) {
  await submitJoin(page, inviteLink, { name, pin });
  await waitInCall(page);
}

async function waitInCall(page) {
  await page.locator('section#call').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
}

// The name a tile shows, without the marker of the own tile ("Ada (you)" is Ada).
const tileName = (text) => text.trim().replace(/\s*\((you|me)\)$/i, '');

/** The tiles as the user sees them: [{id, name, label, mic}], in page order. */
async function tiles(page) {
  const raw = await page.$$eval('div.tile[data-attendee-id]', (els) =>
    els.map((el) => ({
      id: el.getAttribute('data-attendee-id'),
      label: (el.querySelector('span.name')?.textContent || '').trim(),
      mic: el.querySelector('span.mic')?.getAttribute('data-mic') ?? null,
    })),
  );
  return raw.map((t) => ({ ...t, name: tileName(t.label) }));
}

/** Waits until the page shows exactly one tile per name in `names`; resolves to {name: id}. */
async function waitForTiles(page, names, timeout = UI_TIMEOUT) {
  const want = [...names].sort();
  const seen = await eventually(
    () => tiles(page),
    (ts) => JSON.stringify(ts.map((t) => t.name).sort()) === JSON.stringify(want) && ts.every((t) => t.id),
    { timeout, message: `${page.__label} to show tiles for ${want.join(', ')}` },
  );
  return Object.fromEntries(seen.map((t) => [t.name, t.id]));
}

/**
 * For every tile, what its video shows: the peer connection that carries its video track
 * (found among window.__pcs by the receiver's track), its connectionState, and the frames
 * decoded for that track. The own tile has no receiving peer connection (pc: null).
 */
async function tileMedia(page) {
  return page.evaluate(async () => {
    const pcs = window.__pcs || [];
    const out = [];
    for (const el of document.querySelectorAll('div.tile[data-attendee-id]')) {
      const video = el.querySelector('video');
      const stream = video && video.srcObject;
      const track = stream && stream.getVideoTracks ? stream.getVideoTracks()[0] : null;
      const entry = {
        id: el.getAttribute('data-attendee-id'),
        label: (el.querySelector('span.name')?.textContent || '').trim(),
        hasVideo: !!video,
        track: track ? track.readyState : null,
        videoWidth: video ? video.videoWidth : 0,
        pc: null,
        state: null,
        framesDecoded: 0,
      };
      if (track) {
        for (const [i, pc] of pcs.entries()) {
          const receiver = pc.getReceivers().find((r) => r.track && r.track.id === track.id);
          if (!receiver) continue;
          entry.pc = i;
          entry.state = pc.connectionState;
          if (pc.connectionState !== 'closed') {
            const stats = await receiver.getStats();
            stats.forEach((r) => {
              if (r.type === 'inbound-rtp' && (r.kind || r.mediaType) === 'video') {
                entry.framesDecoded += r.framesDecoded || 0;
              }
            });
          }
          break;
        }
      }
      out.push(entry);
    }
    return out;
  }).then((ts) => ts.map((t) => ({ ...t, name: tileName(t.label) })));
}

/** Every RTCPeerConnection the page made: [{state, framesDecoded}] (video, inbound). */
async function peerConnections(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const pc of window.__pcs || []) {
      let framesDecoded = 0;
      if (pc.connectionState !== 'closed') {
        const stats = await pc.getStats();
        stats.forEach((r) => {
          if (r.type === 'inbound-rtp' && (r.kind || r.mediaType) === 'video') framesDecoded += r.framesDecoded || 0;
        });
      }
      out.push({ state: pc.connectionState, framesDecoded });
    }
    return out;
  });
}

/**
 * Waits until `page` receives video from each attendee in `peerIds`: the tile's video
 * comes from an RTCPeerConnection in state `connected` whose decoded-frame count for that
 * track is above zero and still rising (so a stale connection to a peer that went away
 * does not count), and the page has at least that many connected, decoding connections.
 */
async function waitForMediaFrom(page, peerIds, timeout = MEDIA_TIMEOUT) {
  const previous = new Map(); // `${attendee id}/${pc index}` -> framesDecoded at the last probe
  await eventually(
    async () => ({ tiles: await tileMedia(page), pcs: await peerConnections(page) }),
    ({ tiles: ts, pcs }) => {
      const flowing = peerIds.filter((id) => {
        const t = ts.find((x) => x.id === id);
        if (!t || t.pc === null) return false;
        const key = `${id}/${t.pc}`;
        const before = previous.get(key);
        previous.set(key, t.framesDecoded);
        return t.state === 'connected' && t.framesDecoded > 0 && before !== undefined && t.framesDecoded > before;
      });
      const live = pcs.filter((p) => p.state === 'connected' && p.framesDecoded > 0).length;
      return flowing.length === peerIds.length && live >= peerIds.length;
    },
    { timeout, interval: 500, message: `${page.__label} to decode video from ${peerIds.join(', ')}` },
  );
}

/** The data-mic of `attendeeId`'s tile on `page` becomes `value` ("on" / "off"). */
async function waitForMic(page, attendeeId, value) {
  await eventually(
    () => page.locator(`div.tile[data-attendee-id="${attendeeId}"] span.mic`).getAttribute('data-mic', { timeout: 1000 }),
    (v) => v === value,
    { message: `${page.__label} to show ${attendeeId}'s mic ${value}` },
  );
}

/** #status text, once it is not empty and matches `re`. */
async function waitForStatus(page, re, timeout = UI_TIMEOUT) {
  return eventually(
    () => page.locator('#status').innerText({ timeout: 1000 }),
    (text) => text.trim() !== '' && re.test(text),
    { timeout, message: `${page.__label}'s #status to match ${re}` },
  );
}

module.exports = {
  ARTIFACTS,
  MEDIA_TIMEOUT,
  UI_TIMEOUT,
  createWorkspace,
  dumpPages,
  eventually,
  joinWorkspace,
  launchBrowser,
  openDeadInvite,
  openPage,
  peerConnections,
  resetArtifacts,
  serverAndBrowser,
  startServer,
  submitJoin,
  tileMedia,
  tiles,
  waitForMediaFrom,
  waitForMic,
  waitForStatus,
  waitForTiles,
  waitInCall,
  withPages,
};
