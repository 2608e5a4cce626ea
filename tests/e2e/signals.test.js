'use strict';
// The SDK's signals against a server whose request burst is lower than a newcomer's
// burst of offers and ICE candidates: nothing may be lost, nothing may overtake.
// Run: `cd tests/e2e && node --test signals.test.js`.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');
const { countRefusals, gather, recordSignals, withSdkPages } = require('./sdk-pages');

// A newcomer on a machine with several network interfaces: 40 candidates per peer.
const CANDIDATES = 40;
// Far below what the newcomer sends at once (4 offers and 160 candidates).
const LIMITS = { requests_per_second: 50, request_burst: 20 };

function candidate(i) {
  return {
    candidate: `candidate:${i} 1 udp ${2122260223 - i} 192.0.2.${i + 1} ${50000 + i} typ host`,
    sdpMid: '0',
    sdpMLineIndex: 0,
  };
}

/**
 * Has the page's Switchboard send, all at once as RTCPeerConnections gathering for each
 * member would, an offer to each member, then their candidates interleaved. Resolves to
 * the error codes of the signals that failed in the end, and how long it all took.
 */
function sendBurst(page, memberIds) {
  const candidates = Array.from({ length: CANDIDATES }, (_, i) => candidate(i));
  return page.evaluate(
    async ({ to, list }) => {
      const start = performance.now();
      const sends = to.map((id) => sb.negotiation(id, { type: 'offer', sdp: `v=0\r\no=- ${id} 1 IN IP4 0.0.0.0\r\n` }));
      for (const c of list) to.forEach((id) => sends.push(sb.iceCandidate(id, c)));
      const results = await Promise.allSettled(sends);
      const failures = results.filter((r) => r.status === 'rejected').map((r) => r.reason.code);
      return { failures, ms: Math.round(performance.now() - start) };
    },
    { to: memberIds, list: candidates },
  );
}

/** What each member must receive from the newcomer: the offer, then every candidate in order. */
function expectedSignals(from) {
  return [
    { type: 'negotiation', from, payload: 'offer' },
    ...Array.from({ length: CANDIDATES }, (_, i) => ({ type: 'icecandidate', from, payload: candidate(i).candidate })),
  ];
}

async function receivedSignals(page, count) {
  const got = await h.eventually(
    () => page.evaluate(() => window.received),
    (r) => r.length >= count,
    { message: `${page.__label} to receive the offer and ${CANDIDATES} candidates` },
  );
  return got.map(({ type, from, payload }) => ({ type, from, payload: payload.type ?? payload.candidate }));
}

describe('signals under a low request burst', { concurrency: false }, () => {
  let server;
  let browser;

  before(async () => {
    server = await h.startServer({ config: { limits: LIMITS } });
    browser = await h.launchBrowser();
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
  });

  it('delivers every offer and candidate of a newcomer, in order, to every member', { timeout: 90_000 }, async (t) => {
    await withSdkPages(t, browser, server.url, async (open) => {
      const members = [await open('owner'), await open('bob'), await open('cleo'), await open('dan')];
      const newcomer = await open('newcomer');
      countRefusals(newcomer);
      const ids = await gather([...members, newcomer]);
      const [memberIds, newcomerId] = [ids.slice(0, 4), ids[4]];
      for (const page of members) await recordSignals(page);

      const { failures, ms } = await sendBurst(newcomer, memberIds);
      t.diagnostic(`the server refused ${newcomer.__refusals} signals of the burst; all were accepted within ${ms} ms`);
      assert.ok(newcomer.__refusals > 0, "the burst went over the server's request_burst (the test reproduces it)");
      assert.deepEqual(failures, [], 'every signal was accepted in the end');

      const expected = expectedSignals(newcomerId);
      for (const page of members) {
        const seen = await receivedSignals(page, expected.length);
        assert.deepEqual(seen, expected, `${page.__label} got the offer, then every candidate in order`);
      }
    });
  });
});
