'use strict';
// The owner's side of the demo app: the hint to share the invite link (the owner's alone),
// ending the workspace only once confirmed in the page, and no PIN left in any field after
// the workspace ended. Run: `cd tests/e2e && node --test owner.test.js`.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const PIN = '4711';

describe("the owner's side", { concurrency: false }, () => {
  const env = h.serverAndBrowser();

  const scenario = (t, body) => h.withPages(t, (label) => h.openPage(env.browser, env.server.url, label), body);

  /** Ada creates a workspace with a PIN, and Bob joins it with the PIN. */
  async function adaAndBob(open, workspace) {
    const [ada, bob] = [await open('ada'), await open('bob')];
    const link = await h.createWorkspace(ada, { name: workspace, pin: PIN, attendeeName: 'Ada' });
    await h.joinWorkspace(bob, link, { name: 'Bob', pin: PIN });
    await h.waitForTiles(ada, ['Ada', 'Bob']);
    return { ada, bob, link };
  }

  /** Ada's #destroy opens the confirmation, which asks about everyone. */
  async function askToEnd(ada) {
    await ada.locator('#destroy').click();
    await ada.locator('#confirm-dialog').waitFor({ state: 'visible', timeout: h.UI_TIMEOUT });
    assert.match(await ada.locator('#confirm-message').textContent(), /everyone/i);
  }

  it('tells the owner alone to share the invite link', { timeout: 60_000 }, async (t) => {
    await scenario(t, async (open) => {
      const { ada, bob } = await adaAndBob(open, 'Hint');
      assert.ok(await ada.locator('#share-hint').isVisible(), 'the owner sees the hint');
      const hint = await ada.locator('#share-hint').textContent();
      assert.match(hint, /link/i);
      assert.match(hint, /PIN/, 'a protected workspace: the PIN goes with the link');
      assert.equal(await bob.locator('#share-hint').isVisible(), false, 'Bob sees no hint');
      assert.ok(await bob.locator('#invite-link').isVisible(), 'though Bob sees the link');
    });
  });

  it('keeps the workspace when the owner cancels the end, by button or Escape', { timeout: 60_000 }, async (t) => {
    await scenario(t, async (open) => {
      const { ada, bob, link } = await adaAndBob(open, 'Second thoughts');
      await askToEnd(ada);
      await ada.locator('#confirm-cancel').click();
      await ada.locator('#confirm-dialog').waitFor({ state: 'hidden', timeout: h.UI_TIMEOUT });
      await askToEnd(ada);
      await ada.keyboard.press('Escape');
      await ada.locator('#confirm-dialog').waitFor({ state: 'hidden', timeout: h.UI_TIMEOUT });

      // Still open for business: a newcomer gets in, and every page shows them.
      const cleo = await open('cleo');
      await h.joinWorkspace(cleo, link, { name: 'Cleo', pin: PIN });
      for (const page of [ada, bob, cleo]) await h.waitForTiles(page, ['Ada', 'Bob', 'Cleo']);
      assert.ok(!ada.__log.some((line) => line.includes('"event":"destroy"')), 'no destroy was sent');
      assert.ok(await ada.locator('#destroy').isEnabled(), 'the button works again');
    });
  });

  it('ends the workspace once confirmed, leaving no PIN in any field', { timeout: 60_000 }, async (t) => {
    await scenario(t, async (open) => {
      const { ada, bob } = await adaAndBob(open, 'The end');
      await ada.locator('#pin-input').fill('9753'); // typed, never set
      await askToEnd(ada);
      await ada.locator('#confirm-ok').click();

      await ada.locator('section#home').waitFor({ state: 'visible', timeout: h.UI_TIMEOUT });
      t.diagnostic(`Ada's notice: ${await h.waitForStatus(ada, /closed|ended/i)}`);
      await bob.locator('section#call').waitFor({ state: 'hidden', timeout: h.UI_TIMEOUT });
      t.diagnostic(`Bob's notice: ${await h.waitForStatus(bob, /closed|no longer/i)}`);

      for (const id of ['create-pin', 'pin-input']) {
        assert.equal(await ada.locator(`#${id}`).inputValue(), '', `Ada's #${id} is empty`);
      }
      assert.equal(await bob.locator('#join-pin').inputValue(), '', "Bob's #join-pin is empty");
    });
  });
});
