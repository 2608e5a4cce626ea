'use strict';
// The server under test: the real Switchboard binary, built by cargo, on a free port with
// an in-memory store and settings of the test's choosing.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { cargoBinary } = require('../cargo-binary.js');

const REPO = path.resolve(__dirname, '..', '..');
// The app under test; another directory only to try the harness against a stand-in.
const PUBLIC_DIR = process.env.SWITCHBOARD_PUBLIC_DIR || path.join(REPO, 'public');
const SERVER_START_TIMEOUT = 30_000;

// The settings every test server gets; `startServer({config})` adds to them per section.
function baseConfig() {
  return {
    server: { port: 0, public_dir: path.resolve(PUBLIC_DIR) },
    storage: { backend: 'memory' },
    ice: { stun_urls: ['stun:127.0.0.1:9'] },
    limits: { creates_per_minute: 1000 },
  };
}

// Sections of plain values; JSON's strings, numbers, booleans and arrays are valid TOML.
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
 * with an in-memory store on a free port and resolves to `{ url, stop, logs, exited }` once
 * it logs `listening on http://127.0.0.1:PORT`. `config` adds settings ({section: {key:
 * value}}), `env` environment variables (secrets such as TURN_SECRET). `exited` resolves
 * to `{code, signal}` when the process ends (for a server that stops by itself, as after a
 * drain).
 */
async function startServer({ config: extra = {}, env = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-e2e-'));
  const config = path.join(dir, 'config.toml');
  fs.writeFileSync(config, toToml(mergeConfig(baseConfig(), extra)));

  const child = spawn(cargoBinary(), ['--config', config], {
    cwd: dir, // keeps a developer's .env out of the test
    env: {
      ...process.env,
      MAGICK_TOKEN: 'e2e-magick-token-0123456789abcdef0123456789abcdef',
      RUST_LOG: 'info',
      NO_COLOR: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const logs = [];
  const url = await listeningUrl(child, logs);

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { url, stop, logs, exited };
}

/** Collects the child's output lines in `logs`; resolves to the URL it logs it listens on. */
function listeningUrl(child, logs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`server did not log its address within ${SERVER_START_TIMEOUT} ms:\n${logs.join('\n')}`));
    }, SERVER_START_TIMEOUT);
    const onLine = (line) => {
      logs.push(line);
      // eslint-disable-next-line no-control-regex
      const m = line.replace(/\x1b\[[0-9;]*m/g, '').match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
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

module.exports = { startServer };
