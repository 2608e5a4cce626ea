'use strict';
// End-to-end tests of the demo video-call app (public/index.html) against the real server,
// in headless Chromium with fake camera and microphone. Run: `cd tests/e2e && node --test`.

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./helpers');
const { openSdkPage } = require('./sdk-pages');

const PIN = '4711';

describe('Switchboard demo app', { concurrency: false }, () => {
  before(() => h.resetArtifacts());
  const env = h.serverAndBrowser();

  /**
   * Runs `body` with a fresh set of pages; on failure, screenshots every page and prints
   * its log before rethrowing; always closes the pages' contexts.
   */
  async function scenario(t, body) {
    const pages = [];
    const open = async (label) => {
      const page = await h.openPage(env.browser, env.server.url, label);
      pages.push(page);
      return page;
    };
    try {
      await body(open);
    } catch (err) {
      await h.dumpPages(t.name, pages);
      throw err;
    } finally {
      for (const page of pages) await page.context().close().catch(() => {});
    }
  }

  /**
   * Owner Ada creates a PIN-protected workspace; Bob and Cleo join it through the invite
   * link with name and PIN. Resolves once every page shows the three tiles, and, with
   * `media`, once every page decodes video from both others.
   */
  async function threeWayCall(open, { media = true, workspace = 'Standup' } = {}) {
    const names = ['Ada', 'Bob', 'Cleo'];
    const [ada, bob, cleo] = [await open('ada'), await open('bob'), await open('cleo')];

    const invite = await h.createWorkspace(ada, { name: workspace, pin: PIN, attendeeName: 'Ada' });
    const link = new URL(invite);
    assert.equal(link.origin, new URL(env.server.url).origin, `the invite link ${invite} points at the server`);
    assert.equal(link.pathname, '/', 'the invite link opens the app');
    assert.ok(link.searchParams.get('invite'), 'the invite link carries the invite token');
    assert.ok(await ada.locator('#copy-invite').isVisible(), 'the owner can copy the invite link');
    await h.waitInCall(ada);

    await h.joinWorkspace(bob, invite, { name: 'Bob', pin: PIN });
    await h.joinWorkspace(cleo, invite, { name: 'Cleo', pin: PIN });

    const ids = await h.waitForTiles(ada, names);
    assert.equal(new Set(Object.values(ids)).size, 3, 'three distinct attendee ids');
    for (const page of [bob, cleo]) {
      assert.deepEqual(await h.waitForTiles(page, names), ids, `${page.__label} shows the same attendees`);
    }

    if (media) {
      const pages = { Ada: ada, Bob: bob, Cleo: cleo };
      await Promise.all(
        names.map((me) =>
          h.waitForMediaFrom(
            pages[me],
            names.filter((n) => n !== me).map((n) => ids[n]),
          ),
        ),
      );
    }
    return { ada, bob, cleo, ids, invite };
  }

  it('connects three attendees of a PIN-protected workspace with video', { timeout: 120_000 }, async (t) => {
    await scenario(t, async (open) => {
      const { ada, ids } = await threeWayCall(open);

      // Every tile shows its own name; the own tile plays the local camera.
      for (const tile of await h.tileMedia(ada)) {
        assert.equal(tile.id, ids[tile.name], `tile ${tile.id} is named ${tile.name}`);
        assert.ok(tile.hasVideo, `${tile.name}'s tile has a video element`);
      }
      // Remote videos have a picture (the fake camera's frames reached the <video>).
      await h.eventually(
        () => h.tileMedia(ada),
        (ts) => ts.every((x) => x.videoWidth > 0),
        { timeout: h.MEDIA_TIMEOUT, message: "every video on Ada's page to have a picture" },
      );

      const file = path.join(h.ARTIFACTS, 'three-way-call.png');
      await ada.screenshot({ path: file, fullPage: true });
      const png = fs.readFileSync(file);
      assert.ok(png.length > 1000, `the screenshot is not empty (${png.length} bytes)`);
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
    });
  });

  it('shows a muted microphone on the other pages', { timeout: 60_000 }, async (t) => {
    await scenario(t, async (open) => {
      const { ada, bob, cleo, ids } = await threeWayCall(open, { media: false, workspace: 'Mic check' });
      for (const page of [ada, cleo]) await h.waitForMic(page, ids.Bob, 'on');

      await bob.locator('#toggle-mic').click();
      for (const page of [ada, cleo]) await h.waitForMic(page, ids.Bob, 'off');

      await bob.locator('#toggle-mic').click();
      for (const page of [ada, cleo]) await h.waitForMic(page, ids.Bob, 'on');
    });
  });

  it('shows no microphone state for a member who never announced one', { timeout: 60_000 }, async (t) => {
    // Sam attends through the SDK alone: no call, so no `state` until Sam sends one.
    const makePage = (label) => (label === 'sam' ? openSdkPage : h.openPage)(env.browser, env.server.url, label);
    await h.withPages(t, makePage, async (open) => {
      const [ada, sam] = [await open('ada'), await open('sam')];
      const link = await h.createWorkspace(ada, { name: 'Quiet', attendeeName: 'Ada' });
      const invite = new URL(link).searchParams.get('invite');
      await sam.evaluate((token) => sb.attend({ invite: token, name: 'Sam' }), invite);
      const ids = await h.waitForTiles(ada, ['Ada', 'Sam']);

      const mic = ada.locator(`div.tile[data-attendee-id="${ids.Sam}"] span.mic`);
      assert.equal(await mic.getAttribute('data-mic'), null, 'no mic state on the tile');
      assert.equal(await mic.textContent(), '', 'not "Muted", nothing');
      assert.equal(await mic.isVisible(), false, 'no empty badge either');

      await sam.evaluate(() => sb.state({ mic: false }));
      await h.waitForMic(ada, ids.Sam, 'off');
      assert.equal(await mic.textContent(), 'Muted');
      await sam.evaluate(() => sb.state({ mic: true }));
      await h.waitForMic(ada, ids.Sam, 'on');
    });
  });

  it('brings a reloaded attendee back into the call', { timeout: 150_000 }, async (t) => {
    await scenario(t, async (open) => {
      const { ada, bob, cleo, ids } = await threeWayCall(open, { workspace: 'Reload' });

      await bob.reload();
      await h.waitInCall(bob);
      // Same membership: the same attendee ids, Bob's own included.
      assert.deepEqual(await h.waitForTiles(bob, ['Ada', 'Bob', 'Cleo']), ids, 'Bob re-attends as himself');
      for (const page of [ada, cleo]) {
        assert.deepEqual(await h.waitForTiles(page, ['Ada', 'Bob', 'Cleo']), ids, `${page.__label} still shows Bob`);
      }

      await Promise.all([
        h.waitForMediaFrom(bob, [ids.Ada, ids.Cleo]),
        h.waitForMediaFrom(ada, [ids.Bob, ids.Cleo]),
        h.waitForMediaFrom(cleo, [ids.Ada, ids.Bob]),
      ]);
    });
  });

  it('lets the owner kick an attendee', { timeout: 60_000 }, async (t) => {
    await scenario(t, async (open) => {
      const { ada, bob, cleo, ids } = await threeWayCall(open, { media: false, workspace: 'Kick' });
      // Only the owner has kick buttons, and only on the others' tiles.
      assert.equal(await bob.locator('button.kick:visible').count(), 0, 'Bob has no kick button');
      assert.equal(await bob.locator('#destroy').isVisible(), false, 'Bob has no destroy button');
      assert.equal(
        await ada.locator(`div.tile[data-attendee-id="${ids.Ada}"] button.kick:visible`).count(),
        0,
        'no kick button on the own tile',
      );

      await ada.locator(`div.tile[data-attendee-id="${ids.Cleo}"] button.kick`).click();

      await cleo.locator('section#call').waitFor({ state: 'hidden', timeout: h.UI_TIMEOUT });
      const notice = await h.waitForStatus(cleo, /kick|remov/i);
      t.diagnostic(`Cleo's notice: ${notice}`);

      await h.waitForTiles(ada, ['Ada', 'Bob']);
      await h.waitForTiles(bob, ['Ada', 'Bob']);
    });
  });

  it('sends everyone out when the owner destroys the workspace', { timeout: 60_000 }, async (t) => {
    await scenario(t, async (open) => {
      const { ada, bob, cleo } = await threeWayCall(open, { media: false, workspace: 'Destroy' });

      await ada.locator('#destroy').click();
      await ada.locator('#confirm-ok').click();

      for (const page of [bob, cleo]) {
        await page.locator('section#call').waitFor({ state: 'hidden', timeout: h.UI_TIMEOUT });
        const notice = await h.waitForStatus(page, /destroy|ended|closed|deleted|removed|gone|no longer|exist/i);
        t.diagnostic(`${page.__label}'s notice: ${notice}`);
      }
    });
  });

  it('refuses a wrong PIN in plain words', { timeout: 60_000 }, async (t) => {
    await scenario(t, async (open) => {
      const ada = await open('ada');
      const mallory = await open('mallory');
      const invite = await h.createWorkspace(ada, { name: 'Locked', pin: PIN, attendeeName: 'Ada' });
      await h.waitInCall(ada);

      await h.submitJoin(mallory, invite, { name: 'Mallory', pin: '0000' });
      const notice = await h.waitForStatus(mallory, /pin/i);
      t.diagnostic(`Mallory's notice: ${notice}`);
      assert.doesNotMatch(notice, /^\s*wrong_pin\s*$/, 'a sentence, not the bare error code');

      assert.equal(await mallory.locator('section#call').isVisible(), false, 'Mallory is not in a call');
      assert.equal(await mallory.locator('div.tile').count(), 0, 'Mallory sees no tiles');
      assert.ok(await mallory.locator('#join-form').isVisible(), 'the join form stays for another try');
      await h.waitForTiles(ada, ['Ada']);
    });
  });
});
