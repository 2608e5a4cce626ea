'use strict';
// Where cargo puts a binary of this workspace, as cargo itself reports it, so that every
// Node suite (tests/e2e, tests/compat, tests/entrance) and bench/run find the binary
// wherever it goes: under CARGO_TARGET_DIR, absolute or relative (cargo reads a relative
// one against the directory it runs in, here this process's), under a cargo config's
// `build.target-dir`, or under target/. The one place that knows; nothing builds the
// path by hand.
//
// As a command: `node tests/cargo-binary.js [--release] NAME...` builds each binary and
// prints its path, one a line.

const { spawnSync } = require('node:child_process');
const path = require('node:path');

const MANIFEST = path.resolve(__dirname, '..', 'Cargo.toml');
const built = new Map();

/**
 * Builds the binary `bin` of the package of the same name (every binary here is named
 * after its package), with `--release` when `release`, and returns the absolute path
 * cargo reports for it; with SWITCHBOARD_SKIP_BUILD set, returns where cargo would put
 * it without building. Each binary is built once per process.
 */
function cargoBinary({ bin = 'switchboard', release = false } = {}) {
  const key = `${bin}:${release}`;
  if (!built.has(key)) {
    built.set(key, process.env.SWITCHBOARD_SKIP_BUILD ? unbuilt(bin, release) : build(bin, release));
  }
  return built.get(key);
}

function cargo(args) {
  const res = spawnSync('cargo', [...args, '--manifest-path', MANIFEST], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (res.error) throw res.error;
  if (res.status !== 0) throw new Error(`cargo ${args.join(' ')} failed (status ${res.status})`);
  return res.stdout;
}

function build(bin, release) {
  const args = ['build', '--quiet', '--package', bin, '--bin', bin, '--message-format=json-render-diagnostics'];
  if (release) args.push('--release');
  for (const line of cargo(args).split('\n')) {
    if (!line.startsWith('{')) continue;
    const message = JSON.parse(line);
    const target = message.target || {};
    if (message.reason === 'compiler-artifact' && target.name === bin && target.kind.includes('bin') && message.executable) {
      return message.executable;
    }
  }
  throw new Error(`cargo built no binary named ${bin}`);
}

function unbuilt(bin, release) {
  const { target_directory: dir } = JSON.parse(cargo(['metadata', '--format-version', '1', '--no-deps']));
  return path.join(dir, release ? 'release' : 'debug', bin);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const release = args.includes('--release');
  for (const bin of args.filter((a) => a !== '--release')) console.log(cargoBinary({ bin, release }));
}

module.exports = { cargoBinary };
