'use strict';
// The SDK as an npm package, the way an app gets it: `npm pack` in sdk/ (its prepack
// emits the types), the example app examples/vite-call installed with that tarball in a
// scratch directory outside the repository and built with Vite, and the built app, served
// from an origin of its own, makes a two-person call (video both ways, chat both ways over
// the data channel) in headless Chromium against the real server.
// Run: `cd tests/e2e && node --test package.test.js`.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const h = require('./helpers');

const REPO = path.resolve(__dirname, '..', '..');
const SDK_DIR = path.join(REPO, 'sdk');
const EXAMPLE_DIR = path.join(REPO, 'examples', 'vite-call');
const PACKAGE = 'switchboard-sdk';
// Installs fetch from the npm registry: generous.
const NPM_TIMEOUT = 10 * 60_000;
const QUIET = ['--no-audit', '--no-fund'];

// ---------------------------------------------------------------------------------------
// npm

/** Runs `npm ...args` in `cwd`; resolves to its stdout, or fails with all it printed. */
function npm(args, cwd) {
  const env = { ...process.env, npm_config_update_notifier: 'false' };
  delete env.NODE_TEST_CONTEXT; // npm's own node processes are no test runner's children
  return new Promise((resolve, reject) => {
    execFile('npm', args, { cwd, env, timeout: NPM_TIMEOUT, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const what = `npm ${args.join(' ')} in ${cwd}`;
      if (!err) resolve(stdout);
      else reject(new Error(`${what} failed (${err.message.split('\n')[0]}):\n${stdout}\n${stderr}`));
    });
  });
}

/** The SDK's tarball, packed into `dir` by `npm pack` (whose prepack builds the types). */
async function packSdk(dir) {
  const manifest = JSON.parse(fs.readFileSync(path.join(SDK_DIR, 'package.json'), 'utf8'));
  // Its devDependencies (the TypeScript compiler) are what prepack runs.
  if (manifest.devDependencies && !fs.existsSync(path.join(SDK_DIR, 'node_modules'))) {
    const locked = fs.existsSync(path.join(SDK_DIR, 'package-lock.json'));
    // Without a lock file, nothing is written into sdk/ but node_modules (ignored by git).
    await npm(locked ? ['ci', ...QUIET] : ['install', ...QUIET, '--no-package-lock'], SDK_DIR);
  }
  await npm(['pack', '--pack-destination', dir], SDK_DIR);
  const tarballs = fs.readdirSync(dir).filter((f) => f.endsWith('.tgz'));
  assert.equal(tarballs.length, 1, `npm pack made one tarball: ${tarballs.join(', ')}`);
  return { tarball: path.join(dir, tarballs[0]), version: manifest.version };
}

/** A copy of the example app in `dir`, without what an earlier local run left there. */
function copyExample(dir) {
  const local = new Set(['node_modules', 'dist']);
  fs.cpSync(EXAMPLE_DIR, dir, {
    recursive: true,
    filter: (src) => !local.has(path.relative(EXAMPLE_DIR, src).split(path.sep)[0]),
  });
}

// ---------------------------------------------------------------------------------------
// The built app's own origin: a static server of dist/ on another port than Switchboard's.

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

function startStaticServer(root) {
  const server = http.createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url, 'http://page').pathname);
    const file = path.join(root, pathname === '/' ? 'index.html' : pathname);
    const inside = file.startsWith(root + path.sep);
    if (req.method !== 'GET' || !inside || !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    const type = TYPES[path.extname(file)] || 'application/octet-stream';
    res.writeHead(200, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}`;
      resolve({ url, stop: () => new Promise((done) => server.close(done)) });
    });
  });
}

// ---------------------------------------------------------------------------------------
// The example app, as a user sees it

/** Waits until the page plays exactly one remote video with a picture and moving time. */
async function waitForRemoteVideo(page) {
  let before = null;
  return h.eventually(
    () =>
      page.$$eval('#remote video', (videos) =>
        videos.map((v) => ({ width: v.videoWidth, height: v.videoHeight, time: v.currentTime })),
      ),
    (videos) => {
      const [v] = videos;
      const advancing = videos.length === 1 && before !== null && v.time > before;
      before = videos.length === 1 ? v.time : null;
      return advancing && v.width > 0 && v.height > 0;
    },
    { timeout: h.MEDIA_TIMEOUT, interval: 500, message: `${page.__label} to play the other person's video` },
  );
}

/** Types `text` into the chat and sends it, once the page has someone to send it to. */
/** Counts the WebSockets the page opens, in `.opened`, from now on. */
function countWebSockets(page) {
  const count = { opened: 0 };
  page.on('websocket', () => (count.opened += 1));
  return count;
}

async function chat(page, text) {
  await page.locator('#chat-send:enabled').waitFor({ timeout: h.MEDIA_TIMEOUT });
  await page.locator('#chat-input').fill(text);
  await page.locator('#chat-send').click();
}

/** Waits until the page's chat log has the line `line`. */
async function waitForChatLine(page, line) {
  await h.eventually(
    () => page.locator('#chat-log li').allInnerTexts(),
    (lines) => lines.includes(line),
    { message: `${page.__label}'s chat log to show ${JSON.stringify(line)}` },
  );
}

// ---------------------------------------------------------------------------------------

describe('switchboard-sdk as an npm package, in the Vite example app', { concurrency: false }, () => {
  let scratch;
  let pageServer;
  let server;
  let browser;

  before(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-package-'));
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
    if (pageServer) await pageServer.stop();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('packs, installs from the tarball and builds', { timeout: 3 * NPM_TIMEOUT }, async () => {
    const { tarball, version } = await packSdk(scratch);
    const app = path.join(scratch, 'vite-call');
    copyExample(app);
    await npm(['install', ...QUIET, tarball], app); // replaces the `file:../../sdk` dependency

    // The tarball's copy, not a link back to sdk/ (as the example's own `file:` install is).
    const installed = path.join(app, 'node_modules', PACKAGE);
    assert.ok(!fs.lstatSync(installed).isSymbolicLink(), `${installed} is a copy, not a link`);
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
    assert.equal(manifest.version, version);
    for (const file of ['src/index.js', 'types/index.d.ts']) {
      assert.ok(fs.existsSync(path.join(installed, file)), `the package has ${file}`);
    }
    const dependency = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8')).dependencies[PACKAGE];
    assert.match(dependency, /\.tgz$/, 'the app depends on the tarball');

    await npm(['run', 'build'], app);
    assert.ok(fs.existsSync(path.join(app, 'dist', 'index.html')), 'vite build wrote dist/index.html');
  });

  // The built app on its own origin, the server, and the browser, started by the first
  // test that needs them.
  async function serveApp() {
    if (browser) return;
    const dist = path.join(scratch, 'vite-call', 'dist');
    assert.ok(fs.existsSync(dist), 'the app was built (the first test)');
    pageServer = await startStaticServer(dist);
    // The app's origin is the one the server lets in, as in a deployment that lists it.
    server = await h.startServer({ config: { server: { allowed_origins: [pageServer.url] } } });
    assert.notEqual(new URL(pageServer.url).origin, new URL(server.url).origin, 'the app has its own origin');
    browser = await h.launchBrowser();
  }

  // Alice opens the app on the server and creates a call (with `pin`, if given); resolves
  // to the invite link the page shows.
  async function createCall(page, { pin } = {}) {
    await page.goto(`/?server=${encodeURIComponent(server.url)}`);
    await page.locator('#name').fill('Alice');
    if (pin) await page.locator('#create-pin').fill(pin);
    await page.locator('#create').click();
    const linkEl = page.locator('#invite-link');
    await linkEl.waitFor({ state: 'visible', timeout: h.UI_TIMEOUT });
    return new URL(await linkEl.getAttribute('href'));
  }

  const withAppPages = (t, body) => h.withPages(t, (label) => h.openPage(browser, pageServer.url, label), body);

  it('makes a two-person call with video and chat', { timeout: 5 * h.MEDIA_TIMEOUT }, async (t) => {
    await serveApp();
    await withAppPages(t, async (open) => {
      const alice = await open('alice');
      const link = await createCall(alice);
      assert.equal(link.origin, new URL(pageServer.url).origin, 'the invite link opens the app');
      assert.equal(link.searchParams.get('server'), server.url, 'the invite link keeps the server');
      assert.ok(link.searchParams.get('invite'), 'the invite link carries the invite token');

      // Opening the link joins at once, with the name the form holds by default.
      const guest = await open('guest');
      await guest.goto(link.href);

      await Promise.all([waitForRemoteVideo(alice), waitForRemoteVideo(guest)]);
      await h.waitForStatus(alice, /^In a call with Guest\.$/);
      await h.waitForStatus(guest, /^In a call with Alice\.$/);

      await chat(alice, 'Hello from Alice');
      await waitForChatLine(guest, 'Alice: Hello from Alice');
      await waitForChatLine(alice, 'You: Hello from Alice');
      await chat(guest, 'Hi Alice!');
      await waitForChatLine(alice, 'Guest: Hi Alice!');

      // The guest closes the tab: the app hangs up as the page goes, so Alice's page drops
      // the video at once (not when the connection times out, after some 12 s).
      await guest.context().close();
      await h.eventually(() => alice.locator('#remote video').count(), (n) => n === 0, {
        message: "alice's page to drop the guest's video",
      });
      await h.waitForStatus(alice, /^The other person left\.$/);

      const errors = alice.__log.filter((line) => line.startsWith('[pageerror]'));
      assert.deepEqual(errors, [], 'no uncaught error in the page');
    });
  });

  it('asks for the PIN a link leads to, before joining with it', { timeout: 5 * h.MEDIA_TIMEOUT }, async (t) => {
    await serveApp();
    await withAppPages(t, async (open) => {
      const alice = await open('alice');
      const link = await createCall(alice, { pin: '4711' });

      const guest = await open('guest');
      const sockets = countWebSockets(guest);
      await guest.goto(link.href);
      await guest.locator('#join-pin').waitFor({ state: 'visible', timeout: h.UI_TIMEOUT });
      assert.equal(await guest.locator('#joining').textContent(), 'Joining “Video call”');
      assert.equal(sockets.opened, 0, 'nothing joined before the PIN');
      await guest.locator('#join-pin').fill('4711');
      await guest.locator('#join-submit').click();
      await Promise.all([waitForRemoteVideo(alice), waitForRemoteVideo(guest)]);
      await h.waitForStatus(guest, /^In a call with Alice\.$/);
    });
  });

  it("shows the server's error code for an invite that leads nowhere", { timeout: 3 * h.UI_TIMEOUT }, async (t) => {
    await serveApp();
    await withAppPages(t, async (open) => {
      const page = await open('stranger');
      const sockets = countWebSockets(page);
      await page.goto(`/?server=${encodeURIComponent(server.url)}&invite=not-a-token`);
      await h.waitForStatus(page, /^invalid_token: ./);
      assert.ok(await page.locator('#join-submit').isEnabled(), 'the join form can be tried again');
      assert.ok(await page.locator('#call').isHidden(), 'no call');
      // The invite look-up (another origin's GET /invite-info) told, before any attend.
      assert.equal(sockets.opened, 0, 'no WebSocket was opened');
    });
  });
});
