'use strict';
// The admin console (/admin) in headless Chromium against a server with ADMIN_TOKEN set:
// the token prompt, the node's figures, finding a workspace and moderating it (kick, ban,
// new invite, destroy) as its members see it, and draining the node. Members are SDK pages
// (sdk-pages.js). Run: `cd tests/e2e && node --test admin.test.js`.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');
const { openSdkPage } = require('./sdk-pages');

const ADMIN_TOKEN = 'e2e-admin-token-6f1d0c9b2a';

// ---------------------------------------------------------------------------------------
// Members: SDK pages that keep what their Switchboard hears about its own membership

/** Keeps the page's `kicked`, `destroyed` and `disconnected` (with its close code) events in window.seen. */
async function recordFate(page) {
  await page.evaluate(() => {
    window.seen = [];
    for (const type of ['kicked', 'destroyed', 'disconnected']) {
      sb.addEventListener(type, ({ detail }) => window.seen.push({ type, code: detail?.code }));
    }
  });
}

/** Waits until the page's Switchboard has had an event `type` (with close `code`, when given). */
async function waitForFate(page, type, code) {
  return h.eventually(
    () => page.evaluate(() => window.seen),
    (seen) => seen.some((e) => e.type === type && (code === undefined || e.code === code)),
    { message: `${page.__label} to get ${type}${code ? ` ${code}` : ''}` },
  );
}

/** `owner` creates a workspace named `name`; each of `others` attends it. Resolves to its invite. */
async function gatherIn(name, owner, ...others) {
  const invite = await owner.evaluate(async (name) => {
    const { workspace } = await sb.create({ name, attendeeName: 'Olga' });
    return workspace.invite;
  }, name);
  for (const page of others) await attend(page, invite);
  for (const page of [owner, ...others]) await recordFate(page);
  return invite;
}

/** Attends with `invite` under the page's label; resolves to 'ok' or the refusal's code. */
function attend(page, invite) {
  return page.evaluate(
    ({ invite, name }) => sb.attend({ invite, name }).then(() => 'ok', (err) => err.code),
    { invite, name: page.__label },
  );
}

// ---------------------------------------------------------------------------------------
// The console, as the operator uses it

async function signIn(admin, token) {
  await admin.locator('#token').fill(token);
  await admin.locator('#login-form button[type=submit]').click();
}

const figure = (admin, name) => admin.locator(`[data-figure="${name}"]`).innerText({ timeout: 1000 });

/** The names the workspace list shows, once they are `names` (in any order). */
async function waitForList(admin, names) {
  const want = JSON.stringify([...names].sort());
  return h.eventually(
    () => admin.locator('#workspaces li.workspace .name').allInnerTexts(),
    (shown) => JSON.stringify([...shown].sort()) === want,
    { message: `the list to show ${want}` },
  );
}

const workspaceRow = (admin, name) =>
  admin.locator('#workspaces li.workspace').filter({ has: admin.locator('.name', { hasText: name }) });

/** The member rows of an expanded workspace row: [{name, role, presence, protocol, kick}]. */
function members(row) {
  return row.locator('tr.member').evaluateAll((trs) =>
    trs.map((tr) => ({
      name: tr.querySelector('.name').textContent,
      role: tr.querySelector('.role').textContent,
      presence: tr.querySelector('.presence').textContent,
      protocol: tr.querySelector('.protocol').textContent,
      kick: !!tr.querySelector('button.kick'),
    })),
  );
}

async function waitForMembers(row, names) {
  return h.eventually(
    () => members(row),
    (ms) => JSON.stringify(ms.map((m) => m.name)) === JSON.stringify(names),
    { message: `the member rows to be ${names.join(', ')}` },
  );
}

async function waitForNotice(admin, re) {
  return h.eventually(
    () => admin.locator('#notice').innerText({ timeout: 1000 }),
    (text) => re.test(text),
    { message: `#notice to match ${re}` },
  );
}

// ---------------------------------------------------------------------------------------

describe('admin console', { concurrency: false }, () => {
  const env = h.serverAndBrowser({ env: { ADMIN_TOKEN } });

  // The console page is `admin`, every other page is a member's SDK page.
  const scenario = (t, body, url = env.server.url) =>
    h.withPages(
      t,
      (label) => (label === 'admin' ? h.openPage(env.browser, url, label) : openSdkPage(env.browser, url, label)),
      body,
    );

  it('is a 404, page and API, without ADMIN_TOKEN', async () => {
    const plain = await h.startServer({ env: { ADMIN_TOKEN: '' } });
    try {
      const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };
      for (const path of ['/admin', '/admin/console.js', '/admin/api/stats']) {
        const res = await fetch(`${plain.url}${path}`, { headers: auth });
        assert.equal(res.status, 404, `${path} without ADMIN_TOKEN`);
      }
    } finally {
      await plain.stop();
    }
  });

  it('refuses a wrong token, then shows the figures; the token stays out of the URL', { timeout: 60_000 }, async (t) => {
    await scenario(t, async (open) => {
      const [olga, max, admin] = [await open('Olga'), await open('Max'), await open('admin')];
      await gatherIn('Front desk', olga, max);
      await admin.goto('/admin');

      await signIn(admin, 'not-the-token');
      await waitForNotice(admin, /wrong token/i);
      assert.equal(await admin.locator('#token').isVisible(), true, 'the prompt is shown again');
      assert.equal(await admin.locator('#console').isVisible(), false);

      await signIn(admin, ADMIN_TOKEN);
      await h.eventually(() => figure(admin, 'workspaces'), (v) => v === '1', { message: 'workspaces 1' });
      await h.eventually(() => figure(admin, 'connections'), (v) => Number(v) >= 2, { message: 'connections >= 2' });
      assert.equal(await figure(admin, 'members-online'), '2');
      assert.ok(!admin.url().includes(ADMIN_TOKEN), 'the token is not in the URL');

      // A relayed message shows in the relay rate (messages/s between two refreshes).
      const maxId = await max.evaluate(() => sb.attendeeId);
      await olga.evaluate((to) => sb.negotiation(to, { type: 'offer', sdp: 'v=0\r\n' }), maxId);
      await h.eventually(() => figure(admin, 'relay-rate'), (v) => Number(v) > 0, { message: 'a relay rate above 0' });

      await admin.locator('#forget').click();
      await admin.locator('#token').waitFor({ state: 'visible', timeout: h.UI_TIMEOUT });
      await admin.reload();
      await admin.locator('#token').waitFor({ state: 'visible', timeout: h.UI_TIMEOUT });
      assert.equal(await admin.locator('#console').isVisible(), false, 'a forgotten token is not used again');
    });
  });

  it('finds a workspace, kicks and bans members, rotates its invite and destroys it', { timeout: 90_000 }, async (t) => {
    await scenario(t, async (open) => {
      const [olga, max, kim, lea, admin] = [
        await open('Olga'),
        await open('Max'),
        await open('Kim'),
        await open('Lea'),
        await open('admin'),
      ];
      const invite = await gatherIn('Board room', olga, max);
      await gatherIn('Kitchen', kim);
      await admin.goto('/admin');
      await signIn(admin, ADMIN_TOKEN);
      await waitForList(admin, ['Board room', 'Front desk', 'Kitchen']);

      await admin.locator('#search').fill('BOARD');
      await waitForList(admin, ['Board room']);

      const row = workspaceRow(admin, 'Board room');
      await row.locator('button.toggle').click();
      const shown = await waitForMembers(row, ['Olga', 'Max']);
      assert.deepEqual(shown, [
        { name: 'Olga', role: 'owner', presence: 'online', protocol: 'native', kick: false },
        { name: 'Max', role: 'attendee', presence: 'online', protocol: 'native', kick: true },
      ]);

      // Kick: Max's socket is closed 4003, his row goes.
      await row.locator('tr.member', { hasText: 'Max' }).locator('button.kick').click();
      await waitForFate(max, 'kicked');
      await waitForFate(max, 'disconnected', 4003);
      await waitForMembers(row, ['Olga']);

      // A new invite: the console shows it, the old one no longer attends, the new one does.
      await row.locator('button.rotate').click();
      const fresh = await h.eventually(
        () => row.locator('.invite code').innerText({ timeout: 1000 }),
        (text) => text.length > 0 && text !== invite,
        { message: 'the new invite to show' },
      );
      assert.equal(await attend(lea, invite), 'invalid_token', 'the old invite is refused');
      assert.equal(await attend(lea, fresh), 'ok', 'the new invite attends');
      await recordFate(lea);
      await admin.locator('#search-form button[type=submit]').click(); // refreshes the open row
      await waitForMembers(row, ['Olga', 'Lea']);

      // Kick + ban: Lea is kicked and cannot come back, even with the invite of now.
      await row.locator('tr.member', { hasText: 'Lea' }).locator('button.ban').click();
      await waitForFate(lea, 'disconnected', 4003);
      await waitForMembers(row, ['Olga']);
      // The ban rotated the invite: Olga's page gets the new one pushed.
      const latest = await h.eventually(
        () => olga.evaluate(() => sb.workspace.invite),
        (v) => v !== fresh,
        { message: "Olga's page to get the invite the ban made" },
      );
      const again = await openSdkPage(env.browser, env.server.url, 'Lea');
      try {
        assert.equal(await attend(again, latest), 'forbidden', 'a banned member cannot attend again');
      } finally {
        await again.context().close();
      }

      // Destroy, after the console's own confirmation step.
      await row.locator('button.destroy').click();
      assert.match(await row.locator('.confirm-step .question').innerText(), /Destroy “Board room”/);
      await row.locator('.confirm-step button.confirm').click();
      await waitForFate(olga, 'destroyed');
      await row.waitFor({ state: 'detached', timeout: h.UI_TIMEOUT });
      await waitForNotice(admin, /destroyed/i);
      await admin.locator('#search-form button[type=submit]').click();
      await admin.locator('#empty').waitFor({ state: 'visible', timeout: h.UI_TIMEOUT });
    });
  });

  it('drains the node after confirming: members are closed with 1012, the banner shows', { timeout: 60_000 }, async (t) => {
    const node = await h.startServer({ env: { ADMIN_TOKEN } });
    try {
      await scenario(
        t,
        async (open) => {
          const [olga, admin] = [await open('Olga'), await open('admin')];
          await gatherIn('Last call', olga);
          await admin.goto('/admin');
          await signIn(admin, ADMIN_TOKEN);
          await h.eventually(() => figure(admin, 'connections'), (v) => Number(v) >= 1, { message: 'connections >= 1' });

          await admin.locator('#drain-area button.drain').click();
          await admin.locator('#drain-area button.cancel').click(); // thought better of it
          assert.equal(await admin.locator('#draining').isVisible(), false, 'nothing drained on cancel');
          await admin.locator('#drain-area button.drain').click();
          await admin.locator('#drain-area button.confirm').click();
          await admin.locator('#draining').waitFor({ state: 'visible', timeout: h.UI_TIMEOUT });
          await waitForFate(olga, 'disconnected', 1012);
        },
        node.url,
      );
    } finally {
      await node.stop();
    }
  });
});
