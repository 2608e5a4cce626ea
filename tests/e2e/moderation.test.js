'use strict';
// The owner's moderation in the demo app (protocol 1.1): banning a member, a new invite
// link, setting and removing the PIN. Skipped against a server that answers
// `unknown_event` to `rotate-invite`. Run: `cd tests/e2e && node --test moderation.test.js`.

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');
const { speaksProtocol11 } = require('./sdk-pages');

const NEEDS_11 = 'the server answers unknown_event to rotate-invite: it does not speak protocol 1.1 yet';

/** The invite link a page shows, once it holds one other than `previous`. */
async function shownLink(page, previous = null) {
  return h.eventually(
    () => page.locator('#invite-link').inputValue(),
    (v) => /[?&]invite=[^&]+/.test(v) && v !== previous,
    { message: `${page.__label}'s #invite-link to show ${previous ? 'a new' : 'an'} invite link` },
  );
}

/** Joining with `link` (and `pin`) is refused: #status matches `re`, the join form stays. */
async function refusedJoin(page, link, { name, pin }, re) {
  await h.submitJoin(page, link, { name, pin });
  const notice = await h.waitForStatus(page, re);
  assert.equal(await page.locator('section#call').isVisible(), false, `${page.__label} is not in the call`);
  return notice;
}

describe('moderation (needs server 1.1)', { concurrency: false }, () => {
  let supported = false;

  const env = h.serverAndBrowser();
  before(async () => {
    supported = await speaksProtocol11(env.browser, env.server.url);
  });

  const scenario = (t, body) => h.withPages(t, (label) => h.openPage(env.browser, env.server.url, label), body);

  /** Ada creates a workspace (no PIN) and Bob joins it through the invite link. */
  async function adaAndBob(open, workspace) {
    const [ada, bob] = [await open('ada'), await open('bob')];
    const link = await h.createWorkspace(ada, { name: workspace, attendeeName: 'Ada' });
    await h.waitInCall(ada);
    await h.joinWorkspace(bob, link, { name: 'Bob' });
    const ids = await h.waitForTiles(ada, ['Ada', 'Bob']);
    return { ada, bob, ids, link };
  }

  it('bans a member: neither the old link nor the new one lets them back', { timeout: 60_000 }, async (t) => {
    if (!supported) return t.skip(NEEDS_11);
    await scenario(t, async (open) => {
      const { ada, bob, ids, link } = await adaAndBob(open, 'Ban');
      assert.equal(await bob.locator('button.ban:visible').count(), 0, 'Bob has no ban buttons');

      await ada.locator(`div.tile[data-attendee-id="${ids.Bob}"] button.ban`).click(); // confirm() is accepted
      await bob.locator('section#call').waitFor({ state: 'hidden', timeout: h.UI_TIMEOUT });
      t.diagnostic(`Bob's notice: ${await h.waitForStatus(bob, /removed/i)}`);
      await h.waitForTiles(ada, ['Ada']);
      const newLink = await shownLink(ada, link);

      const old = await h.openDeadInvite(bob, link, /not valid|replaced|new one/i);
      t.diagnostic(`Bob with the old link: ${old}`);
      const banned = await h.openDeadInvite(bob, newLink, /cannot join|removed/i);
      t.diagnostic(`Bob with the new link: ${banned}`);
      await h.waitForTiles(ada, ['Ada']);
    });
  });

  it('rotates the invite link: every page shows the new one, the old one is refused', { timeout: 60_000 }, async (t) => {
    if (!supported) return t.skip(NEEDS_11);
    await scenario(t, async (open) => {
      const { ada, bob, link } = await adaAndBob(open, 'Rotate');
      const cleo = await open('cleo');
      assert.equal(await bob.locator('#rotate-invite').isVisible(), false, 'only the owner can rotate the link');

      await ada.locator('#rotate-invite').click();
      const newLink = await shownLink(ada, link);
      // Bob's page shows the invite he joined with (minted then, so not `link` itself)
      // until the new one arrives.
      await h.eventually(() => bob.locator('#invite-link').inputValue(), (v) => v === newLink, {
        message: "Bob's page to show the new link too",
      });

      await h.openDeadInvite(cleo, link, /not valid|replaced|new one/i);
      await h.joinWorkspace(cleo, newLink, { name: 'Cleo' });
      await h.waitForTiles(ada, ['Ada', 'Bob', 'Cleo']);
    });
  });

  it('sets a PIN that newcomers need, and removes it', { timeout: 60_000 }, async (t) => {
    if (!supported) return t.skip(NEEDS_11);
    await scenario(t, async (open) => {
      const { ada, bob, link } = await adaAndBob(open, 'PIN later');
      const [cleo, dan] = [await open('cleo'), await open('dan')];
      assert.equal(await bob.locator('#pin-form').isVisible(), false, 'only the owner can set the PIN');

      await ada.locator('#pin-input').fill('2468');
      await ada.locator('#set-pin').click();
      await h.waitForStatus(ada, /PIN set/i);

      await refusedJoin(cleo, link, { name: 'Cleo' }, /PIN/i);
      await refusedJoin(cleo, link, { name: 'Cleo', pin: '1357' }, /wrong PIN/i);
      await h.joinWorkspace(cleo, link, { name: 'Cleo', pin: '2468' });

      await ada.locator('#remove-pin').click();
      await h.waitForStatus(ada, /PIN removed/i);
      await h.joinWorkspace(dan, link, { name: 'Dan' });
      await h.waitForTiles(ada, ['Ada', 'Bob', 'Cleo', 'Dan']);
    });
  });
});
