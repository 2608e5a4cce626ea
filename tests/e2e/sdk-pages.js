'use strict';
// Pages that use the SDK directly, without the demo app: a page of the server's origin with `window.SB` (the SDK module) and `window.sb` (a Switchboard), for what the
// SDK does on the wire (bursts of signals, TURN credentials, expired tokens) that the demo
// app's screen does not show.

const h = require('./helpers');

// The document the SDK runs in: one the server serves (a page from anywhere else may not
// open a WebSocket to the loopback server), and the SDK's own source runs no script.
const HOST_PAGE = '/switchboard.js';

/** A labelled page (see helpers.openPage) with the SDK loaded and one Switchboard made. */
async function openSdkPage(browser, baseUrl, label) {
  const page = await h.openPage(browser, baseUrl, label);
  await page.goto(HOST_PAGE);
  await page.evaluate(async () => {
    window.SB = await import('/switchboard.js');
    window.sb = new window.SB.Switchboard();
  });
  return page;
}

/** helpers.withPages with SDK pages. */
function withSdkPages(t, browser, baseUrl, body) {
  return h.withPages(t, (label) => openSdkPage(browser, baseUrl, label), body);
}

/** The first page creates a workspace, the others attend it; resolves to their attendee ids. */
async function gather(pages) {
  const owner = await pages[0].evaluate(async () => {
    const { workspace, attendee } = await sb.create({ name: 'SDK', attendeeName: 'Owner' });
    return { invite: workspace.invite, id: attendee.id };
  });
  const ids = [owner.id];
  for (const page of pages.slice(1)) {
    const id = await page.evaluate(async ({ invite, name }) => (await sb.attend({ invite, name })).attendee.id, {
      invite: owner.invite,
      name: page.__label,
    });
    ids.push(id);
  }
  return ids;
}

/** Keeps every `negotiation` and `icecandidate` the page's Switchboard receives, in order. */
async function recordSignals(page) {
  await page.evaluate(() => {
    window.received = [];
    for (const type of ['negotiation', 'icecandidate']) {
      sb.addEventListener(type, ({ detail }) =>
        window.received.push({ type, from: detail.from, payload: detail.description ?? detail.candidate }),
      );
    }
  });
}

/** Counts the `rate_limited` alerts the page receives, in `page.__refusals`. */
function countRefusals(page) {
  page.__refusals = 0;
  page.on('websocket', (ws) =>
    ws.on('framereceived', (f) => {
      if (typeof f.payload === 'string' && f.payload.includes('"rate_limited"')) page.__refusals += 1;
    }),
  );
}

/**
 * Logs what the page's Switchboard sends and the replies it gets, in the order they happen,
 * in `window.wire`: `{request, event, data}` for a request, `{reply, ok, code}` for its
 * reply. Call it before the page's first request: it wraps the sockets made afterwards.
 */
async function recordWire(page) {
  await page.evaluate(() => {
    window.wire = [];
    window.WebSocket = class extends window.WebSocket {
      constructor(...args) {
        super(...args);
        // Listeners run in the order they were added, and the SDK sets its `onmessage`
        // after this: a reply is logged before whatever the SDK sends in response to it.
        this.addEventListener('message', ({ data }) => {
          const msg = JSON.parse(data);
          if (msg.re != null) window.wire.push({ reply: msg.re, ok: msg.event !== 'alert', code: msg.data?.code });
        });
      }

      send(text) {
        const msg = JSON.parse(text);
        window.wire.push({ request: msg.id, event: msg.event, data: msg.data });
        super.send(text);
      }
    };
  });
}

/**
 * Whether the server speaks protocol 1.1 (moderation, expired-token grace): asks it to
 * `rotate-invite` on an unbound socket, which an older server answers `unknown_event`.
 */
async function speaksProtocol11(browser, baseUrl) {
  const page = await openSdkPage(browser, baseUrl, 'probe');
  try {
    const code = await page.evaluate(() => sb.request('rotate-invite').then(() => 'ok', (err) => err.code));
    return code !== 'unknown_event';
  } finally {
    await page.context().close();
  }
}

module.exports = { countRefusals, gather, openSdkPage, recordSignals, recordWire, speaksProtocol11, withSdkPages };
