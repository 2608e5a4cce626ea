'use strict';
// The SDK's call helper as an app drives it, without the demo app: the server given by its
// http address, the data channel (also with options that leave the defaults `undefined`),
// a call replaced by a newer one, two calls started at the same moment, a membership
// another tab took over, and a call that ends with the member's own `leave()`.
// Run: `cd tests/e2e && node --test sdk-call.test.js`.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');
const { gather, withSdkPages } = require('./sdk-pages');

/**
 * Starts a call with camera and microphone on the page as `window[name]`, recording its peer states, data-channel
 * messages and whether it closed, in `window.seen[name]`.
 */
async function startCall(page, name, options = {}) {
  await page.evaluate(
    async ({ name, options }) => {
      window.seen ??= {};
      const seen = (window.seen[name] = { states: {}, messages: [], closed: false });
      // The fake camera and microphone of the harness's Chromium, as an app's call has.
      const localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      const call = (window[name] = sb.call({ localStream, ...options }));
      call.addEventListener('peer-state', ({ detail }) => (seen.states[detail.attendeeId] = detail.state));
      call.addEventListener('message', ({ detail }) => seen.messages.push(detail));
      call.addEventListener('closed', () => (seen.closed = true));
    },
    { name, options },
  );
}

/** Waits until the page's call `name` has a connected peer connection to `attendeeId`. */
function connectedTo(page, name, attendeeId) {
  return h.eventually(
    () => page.evaluate(({ name, attendeeId }) => window.seen[name].states[attendeeId], { name, attendeeId }),
    (state) => state === 'connected',
    { timeout: h.MEDIA_TIMEOUT, message: `${page.__label}'s ${name} connected to ${attendeeId}` },
  );
}

/** Sends `text` over the call's data channel until a member got it; resolves to their ids. */
function sendWhenOpen(page, name, text) {
  return h.eventually(
    () => page.evaluate(({ name, text }) => window[name].send(text), { name, text }),
    (ids) => ids.length > 0,
    { timeout: h.MEDIA_TIMEOUT, message: `${page.__label}'s data channel to open` },
  );
}

describe('the SDK call helper', { concurrency: false }, () => {
  const env = h.serverAndBrowser();

  it('takes the server by its http address, and carries data-channel messages both ways', { timeout: 90_000 }, async (t) => {
    await withSdkPages(t, env.browser, env.server.url, async (open) => {
      const [ada, bob] = [await open('ada'), await open('bob')];
      const url = await ada.evaluate(() => {
        window.sb = new SB.Switchboard(location.origin);
        return window.sb.url;
      });
      assert.equal(url, `${env.server.url.replace(/^http/, 'ws')}/ws`);
      const [adaId, bobId] = await gather([ada, bob]);
      await startCall(ada, 'call', { dataChannel: true });
      // Options an app may spread from its own settings, with holes: the defaults stand.
      await startCall(bob, 'call', { dataChannel: { label: undefined, id: undefined, ordered: true } });
      assert.deepEqual(await sendWhenOpen(ada, 'call', 'hello bob'), [bobId]);
      assert.deepEqual(await sendWhenOpen(bob, 'call', 'hello ada'), [adaId]);
      const got = (page) => page.evaluate(() => window.seen.call.messages);
      await h.eventually(() => got(bob), (m) => m.length === 1, { message: 'bob to get the message' });
      assert.deepEqual(await got(bob), [{ attendeeId: adaId, data: 'hello bob' }]);
      await h.eventually(() => got(ada), (m) => m.length === 1, { message: 'ada to get the message' });
      assert.deepEqual(await got(ada), [{ attendeeId: bobId, data: 'hello ada' }]);
    });
  });

  it('keeps the signals for a newer call when an earlier one closes', { timeout: 90_000 }, async (t) => {
    await withSdkPages(t, env.browser, env.server.url, async (open) => {
      const [bob, ada] = [await open('bob'), await open('ada')];
      // Bob, alone in the workspace, replaces his call: nobody to offer to yet.
      await gather([bob]);
      await startCall(bob, 'first');
      await startCall(bob, 'second');
      await bob.evaluate(() => window.first.close());
      // Ada comes in and offers to Bob: only the second call can answer.
      const invite = await bob.evaluate(() => sb.workspace.invite);
      const adaId = await ada.evaluate(async (invite) => (await sb.attend({ invite, name: 'ada' })).attendee.id, invite);
      await startCall(ada, 'call');
      await connectedTo(bob, 'second', adaId);
    });
  });

  // Both start at once: their offers cross, and the polite side rolls its own back. In
  // about one such crossing in four, Chromium then never gathers a candidate on that
  // connection; the impolite side replaces it (after 5 s), and both connect.
  it('connects two members who start their calls at the same moment', { timeout: 240_000 }, async (t) => {
    const ROUNDS = 8;
    await withSdkPages(t, env.browser, env.server.url, async (open) => {
      for (let round = 0; round < ROUNDS; round += 1) {
        const [ada, bob] = [await open(`ada${round}`), await open(`bob${round}`)];
        const [adaId, bobId] = await gather([ada, bob]);
        // One after the other, with nothing awaited between: Bob's call starts before
        // Ada's offer reaches him.
        await startCall(ada, 'call');
        await startCall(bob, 'call');
        await Promise.all([connectedTo(ada, 'call', bobId), connectedTo(bob, 'call', adaId)]);
        for (const page of [ada, bob]) await page.context().close();
      }
    });
  });

  it('lets go of a membership another tab took over: the call closes, nothing takes it back', { timeout: 90_000 }, async (t) => {
    await withSdkPages(t, env.browser, env.server.url, async (open) => {
      const [ada, bob] = [await open('ada'), await open('bob')];
      const [adaId, bobId] = await gather([ada, bob]);
      await startCall(ada, 'call');
      await startCall(bob, 'call');
      await connectedTo(bob, 'call', adaId);
      // A second tab of Bob's, with a copy of his session (as a duplicated tab has).
      const token = await bob.evaluate(() => sb.token);
      const tab = await open('bob-tab');
      await tab.evaluate((token) => sb.reAttend(token), token);
      await h.eventually(
        () => bob.evaluate(() => ({ status: sb.status, token: sb.token, closed: window.seen.call.closed })),
        (s) => s.status === 'idle' && s.token === null && s.closed,
        { message: "bob's first tab to let go of the membership and close its call" },
      );
      // The stored session stays, and the new tab keeps the membership.
      assert.equal(await bob.evaluate(() => SB.sessions.last()?.token), token);
      const members = await ada.evaluate(() => sb.attendees());
      assert.deepEqual(members.filter((m) => m.id === bobId).map((m) => m.online), [true]);
      assert.equal(await tab.evaluate(() => sb.status), 'open');
    });
  });

  it('closes the call when the member leaves', { timeout: 90_000 }, async (t) => {
    await withSdkPages(t, env.browser, env.server.url, async (open) => {
      const [ada, bob] = [await open('ada'), await open('bob')];
      const [adaId] = await gather([ada, bob]);
      await startCall(ada, 'call');
      await startCall(bob, 'call');
      await connectedTo(bob, 'call', adaId);
      await bob.evaluate(() => sb.leave());
      const after = await bob.evaluate(() => ({ ...window.seen.call, peers: window.call.peers.size }));
      assert.equal(after.closed, true, 'the call closed');
      assert.equal(after.peers, 0, 'no peer connection is left');
      assert.equal(after.states[adaId], 'closed');
    });
  });
});
