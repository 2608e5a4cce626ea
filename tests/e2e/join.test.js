'use strict';
// The demo app's join page: before the form is filled it shows the workspace's name and
// whether a PIN is needed, and it says at once when an invite leads nowhere (rotated away,
// expired, not an invite, the workspace ended). Run: `cd tests/e2e && node --test join.test.js`.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const h = require('./helpers');

// This suite's server signs with a secret the test knows, to make an expired invite
// without waiting for one to expire.
const SECRET = 'e2e-join-page-secret-0123456789abcdef0123456789';
const PIN = '4711';

const tokenOf = (link) => new URL(link).searchParams.get('invite');
const claimsOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));

/** A link with an invite to `wid` signed as the server signs, that expired an hour ago. */
function expiredLink(baseUrl, wid) {
  const part = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims = { typ: 'invite', wid, ver: 0, iat: now - 7200, exp: now - 3600 };
  const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  const signature = crypto.createHmac('sha256', SECRET).update(signed).digest('base64url');
  return `${baseUrl}/?invite=${signed}.${signature}`;
}

/** What the join page shows of `link` before anything is typed, once its form is up. */
async function joinPage(page, link) {
  await page.goto(link);
  await page.locator('#join-form').waitFor({ state: 'visible', timeout: h.UI_TIMEOUT });
  return {
    name: await page.locator('#join-workspace-name').textContent(),
    nameMarkup: await page.locator('#join-workspace-name').innerHTML(),
    pinField: await page.locator('#join-pin').isVisible(),
    pinNote: await page.locator('#join-pin-note').textContent(),
  };
}

describe('the join page', { concurrency: false }, () => {
  const env = h.serverAndBrowser({ env: { MAGICK_TOKEN: SECRET } });

  const scenario = (t, body) => h.withPages(t, (label) => h.openPage(env.browser, env.server.url, label), body);

  it('shows the workspace and whether it needs a PIN before the form is filled', { timeout: 60_000 }, async (t) => {
    await scenario(t, async (open) => {
      const [ada, bob, cleo] = [await open('ada'), await open('bob'), await open('cleo')];
      const locked = await h.createWorkspace(ada, { name: '<b>Standup</b>', pin: PIN, attendeeName: 'Ada' });
      const shown = await joinPage(bob, locked);
      assert.equal(shown.name, '<b>Standup</b>', 'the name, as text');
      assert.ok(!shown.nameMarkup.includes('<b>'), 'never as markup');
      assert.ok(shown.pinField, 'the PIN field is offered');
      assert.match(shown.pinNote, /asks for a PIN/);
      await bob.locator('#join-name').fill('Bob');
      await bob.locator('#join-pin').fill(PIN);
      await bob.locator('#join-submit').click();
      await h.waitInCall(bob);

      const dan = await open('dan');
      const unlocked = await h.createWorkspace(dan, { name: 'Open door', attendeeName: 'Dan' });
      const free = await joinPage(cleo, unlocked);
      assert.equal(free.name, 'Open door');
      assert.equal(free.pinField, false, 'no PIN field where none is needed');
      assert.match(free.pinNote, /No PIN needed/);
      await h.joinWorkspace(cleo, unlocked, { name: 'Cleo' });
      await h.waitForTiles(dan, ['Dan', 'Cleo']);
    });
  });

  it('says at once that a rotated, expired or bogus invite, or an ended workspace, leads nowhere', { timeout: 60_000 }, async (t) => {
    await scenario(t, async (open) => {
      const [ada, bob] = [await open('ada'), await open('bob')];
      const first = await h.createWorkspace(ada, { name: 'Short-lived', attendeeName: 'Ada' });
      await ada.locator('#rotate-invite').click();
      const current = await h.eventually(
        () => ada.locator('#invite-link').inputValue(),
        (v) => v !== first,
        { message: "Ada's page to show the new invite link" },
      );

      const notices = [
        await h.openDeadInvite(bob, first, /not valid|replaced/i),
        await h.openDeadInvite(bob, expiredLink(env.server.url, claimsOf(tokenOf(first)).wid), /expired/i),
        await h.openDeadInvite(bob, `${env.server.url}/?invite=not-an-invite`, /not valid/i),
      ];

      await ada.locator('#destroy').click();
      await ada.locator('#confirm-ok').click();
      await ada.locator('section#home').waitFor({ state: 'visible', timeout: h.UI_TIMEOUT });
      notices.push(await h.openDeadInvite(bob, current, /no longer exists/i));
      t.diagnostic(`Bob was told: ${notices.join(' | ')}`);
    });
  });
});
