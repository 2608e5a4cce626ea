'use strict';
// A session token that expires while the socket stays open (the page's timers stood still,
// as on a sleeping laptop, so the SDK never refreshed it): the server answers member events
// with `expired_token` and unbinds the socket; the SDK re-attends with that token, which a
// 1.1 server accepts for a grace period, and carries on.
// Run: `cd tests/e2e && node --test session.test.js`.

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');
const { gather, recordSignals, speaksProtocol11, withSdkPages } = require('./sdk-pages');

const SESSION_TTL_SECS = 4;

/** Keeps the `state` pushes the page's Switchboard receives in `window.states`. */
async function recordStates(page) {
  await page.evaluate(() => {
    window.states = [];
    sb.addEventListener('state', ({ detail }) => window.states.push(detail));
  });
}

/** Waits, on this machine's clock, until the page's session token is past its `exp`. */
async function waitPastExpiry(page) {
  const exp = await page.evaluate(() => SB.decodeToken(sb.token).exp);
  await h.eventually(() => Date.now() / 1000, (now) => now > exp + 1, {
    timeout: SESSION_TTL_SECS * 3000,
    message: `${page.__label}'s session token to expire`,
  });
  return exp;
}
const NEEDS_11 = 'the server answers unknown_event to rotate-invite: it does not speak protocol 1.1 yet';

describe('expired session token (needs server 1.1)', { concurrency: false }, () => {
  let supported = false;

  const env = h.serverAndBrowser({ config: { auth: { session_ttl_secs: SESSION_TTL_SECS } } });
  before(async () => {
    supported = await speaksProtocol11(env.browser, env.server.url);
  });

  it('re-attends when the token expired while the page slept, and keeps going', { timeout: 60_000 }, async (t) => {
    if (!supported) return t.skip(NEEDS_11);
    await withSdkPages(t, env.browser, env.server.url, async (open) => {
      const [ada, bob] = [await open('ada'), await open('bob')];
      // Bob's timers stand still from now on: his token is never refreshed.
      await bob.clock.install();
      await bob.clock.pauseAt(Date.now() + 1000);
      const [adaId, bobId] = await gather([ada, bob]);
      await recordSignals(ada);
      await recordStates(ada);
      const exp = await waitPastExpiry(bob);

      // Bob mutes: the server refuses the expired token, the SDK re-attends and sends it again.
      await bob.evaluate(async () => {
        window.reattended = new Promise((resolve) => sb.addEventListener('reattended', resolve, { once: true }));
        await sb.state({ mic: false });
        await window.reattended;
      });
      await h.eventually(
        () => ada.evaluate(() => window.states),
        (states) => states.some((s) => s.from === bobId && s.mic === false),
        { message: "Ada to see Bob's microphone off" },
      );
      const renewed = await bob.evaluate(() => ({ exp: SB.decodeToken(sb.token).exp, status: sb.status, id: sb.attendeeId }));
      assert.equal(renewed.id, bobId, 'Bob is still the same member');
      assert.equal(renewed.status, 'open');
      assert.ok(renewed.exp > exp, 'Bob holds a new session token');

      // And his signals reach Ada again.
      await bob.evaluate((to) => sb.negotiation(to, { type: 'offer', sdp: 'v=0\r\n' }), adaId);
      await h.eventually(
        () => ada.evaluate(() => window.received),
        (r) => r.some((s) => s.type === 'negotiation' && s.from === bobId),
        { message: "Ada to receive Bob's offer" },
      );
    });
  });
});
