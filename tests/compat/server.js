'use strict';
// The servers under test: the real Switchboard binary (built by cargo, on free ports, with
// an in-memory store and the [compat.*] settings of the test's choosing) and, as oracles,
// the original Node servers from npm, each in a child process of its own so that a crash of
// the original is seen as its exit instead of taking the test run down with it.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const { freePort } = require('../free-port');
const os = require('node:os');
const path = require('node:path');
const { cargoBinary } = require('../cargo-binary.js');

const REPO = path.resolve(__dirname, '..', '..');
const START_TIMEOUT = 30_000;

// The settings every test server gets; `startServer({config})` adds to them per section.
function baseConfig() {
  return {
    server: { port: 0, public_dir: path.join(REPO, 'public') },
    storage: { backend: 'memory' },
    ice: { stun_urls: ['stun:127.0.0.1:9'] },
  };
}

// Sections of plain values ('compat.signal_fire' is a valid table name); JSON's strings,
// numbers, booleans and arrays are valid TOML.
function toToml(config) {
  return Object.entries(config)
    .map(([section, keys]) => {
      const lines = Object.entries(keys).map(([key, value]) => `${key} = ${JSON.stringify(value)}`);
      return [`[${section}]`, ...lines, ''].join('\n');
    })
    .join('\n');
}

function mergeConfig(base, extra) {
  const merged = { ...base };
  for (const [section, keys] of Object.entries(extra)) merged[section] = { ...merged[section], ...keys };
  return merged;
}

/**
 * Starts the switchboard binary (built by cargo where cargo says, see ../cargo-binary.js)
 * with an in-memory store on a free port and resolves to `{ url, port, wsUrl(path), stop,
 * kill, logs, exited }` once it logs `listening on http://127.0.0.1:PORT`. `config` adds
 * settings ({section: {key: value}}), `env` environment variables (BOOTSTRAP_SECRET).
 * `exited` is null while the process runs, else {code, signal}.
 */
async function startServer({ config: extra = {}, env = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-compat-'));
  const file = path.join(dir, 'config.toml');
  const config = mergeConfig(baseConfig(), extra);
  fs.writeFileSync(file, toToml(config));
  // The compat listeners' ports are the test's; the main listener is the one on another port.
  const ownPorts = new Set(
    Object.values(config)
      .map((section) => section.port)
      .filter((p) => typeof p === 'number' && p !== 0),
  );

  // The environment overrides config.toml: none of the caller's settings leak in.
  const childEnv = { ...process.env };
  for (const name of ['PORT', 'HOST', 'ENABLE_HTTPS', 'DEVELOPMENT', 'BOOTSTRAP_SECRET', 'SECRET', 'REDIS_URL']) delete childEnv[name];
  Object.assign(childEnv, {
    MAGICK_TOKEN: 'compat-magick-token-0123456789abcdef0123456789abcdef',
    RUST_LOG: 'info',
    NO_COLOR: '1',
    ...env,
  });
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  const child = spawn(cargoBinary(), ['--config', file], {
    cwd: dir, // keeps a developer's .env out of the test
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = [];
  const handle = { logs, exited: null };
  handle.exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      handle.exited = { code, signal };
      resolve(handle.exited);
    });
  });
  let url;
  try {
    url = await listeningUrl(child, logs, ownPorts);
  } catch (err) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  handle.url = url;
  handle.port = Number(new URL(url).port);
  handle.wsUrl = (p, port = handle.port) => `ws://127.0.0.1:${port}${p}`;
  handle.stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  /** Sends `signal` (SIGKILL: a crash) and resolves to {code, signal} once it has exited. */
  handle.kill = async (signal = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return handle.exit;
  };
  return handle;
}

/**
 * Starts `n` nodes of one cluster on the Redis at `redisUrl` (docs/cluster.md): each with
 * `[storage] backend = "redis"`, `[cluster] redis_url`, `node_id = "node-<i>"` and
 * `heartbeat_secs = 1`, plus the caller's `config` and `env` (the same for every node, so
 * they share MAGICK_TOKEN). Resolves to the handles, in node order, each with `nodeId`;
 * if one fails to start, the others are stopped.
 */
async function startCluster(n, redisUrl, { config = {}, env = {} } = {}) {
  const started = await Promise.allSettled(
    Array.from({ length: n }, (_, i) =>
      startServer({
        config: {
          ...config,
          storage: { ...config.storage, backend: 'redis' },
          cluster: { redis_url: redisUrl, node_id: `node-${i}`, heartbeat_secs: 1, ...config.cluster },
        },
        env,
      }).then((node) => Object.assign(node, { nodeId: `node-${i}` })),
    ),
  );
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(started.filter((s) => s.status === 'fulfilled').map((s) => s.value.stop()));
    throw failed.reason;
  }
  return started.map((s) => s.value);
}

/** Collects the child's output lines in `logs`; resolves to the URL it logs it listens on. */
function listeningUrl(child, logs, ownPorts = new Set()) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`server did not log its address within ${START_TIMEOUT} ms:\n${logs.join('\n')}`));
    }, START_TIMEOUT);
    const onLine = (line) => {
      logs.push(line);
      // eslint-disable-next-line no-control-regex
      const m = line.replace(/\x1b\[[0-9;]*m/g, '').match(/listening on (http:\/\/127\.0\.0\.1:(\d+))/);
      if (m && !ownPorts.has(Number(m[2]))) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    for (const stream of [child.stdout, child.stderr]) readLines(stream, onLine);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited (code ${code}, signal ${signal}) before listening:\n${logs.join('\n')}`));
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function readLines(stream, onLine) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
}

/**
 * Starts one of the oracles in oracles/ (`signal-fire`, `webrtc-bootstrap`, or the Peero
 * stand-in) with `args` as JSON; resolves to the same shape as startServer once the child
 * prints `listening on http://127.0.0.1:PORT`.
 */
async function startOracle(name, args = {}) {
  const handle = await startScript(path.join(__dirname, 'oracles', `${name}.js`), { args, cwd: __dirname });
  handle.oracle = name;
  return handle;
}

/**
 * Runs the Node script `file` (with `args` as JSON, in `cwd`) in a child process of its
 * own, so that its crash is seen as its exit; resolves to `{ url, port, wsUrl, stop, logs,
 * exited }` once it prints `listening on http://127.0.0.1:PORT`. Other test suites start
 * their oracles with it too.
 */
async function startScript(file, { args = {}, cwd = path.dirname(file) } = {}) {
  const child = spawn(process.execPath, [file, JSON.stringify(args)], {
    cwd,
    env: { ...process.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = [];
  const handle = { logs, exited: null };
  handle.exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      handle.exited = { code, signal };
      resolve(handle.exited);
    });
  });
  try {
    handle.url = await listeningUrl(child, logs);
  } catch (err) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw err;
  }
  handle.port = Number(new URL(handle.url).port);
  handle.wsUrl = (p, port = handle.port) => `ws://127.0.0.1:${port}${p}`;
  handle.stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  };
  return handle;
}

module.exports = { startServer, startCluster, startOracle, startScript, freePort };
