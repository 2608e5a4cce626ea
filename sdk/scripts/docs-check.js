// Fails when the API reference in docs/sdk/ is not what `npm run docs` makes of the
// current declarations: generates it into a temporary directory and compares the two,
// file by file. Run after `npm run types`.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const committed = join(root, '..', 'docs', 'sdk');

/** Every file under `dir`, as paths relative to `top`. @param {string} dir @returns {string[]} */
function files(dir, top = dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name), top) : [relative(top, join(dir, e.name))]))
    .sort();
}

const fresh = mkdtempSync(join(tmpdir(), 'switchboard-sdk-docs-'));
try {
  const typedoc = spawnSync(join(root, 'node_modules', '.bin', 'typedoc'), ['--out', fresh, '--logLevel', 'Warn'], { cwd: root, stdio: 'inherit' });
  if (typedoc.status !== 0) process.exit(typedoc.status ?? 1);
  const want = files(fresh);
  const have = files(committed);
  const stale = [
    ...want.filter((f) => !have.includes(f)).map((f) => `missing: ${f}`),
    ...have.filter((f) => !want.includes(f)).map((f) => `not generated any more: ${f}`),
    ...want.filter((f) => have.includes(f) && readFileSync(join(fresh, f), 'utf8') !== readFileSync(join(committed, f), 'utf8')).map((f) => `differs: ${f}`),
  ];
  if (stale.length > 0) {
    console.error(`docs/sdk/ is out of date with the SDK's declarations; run \`npm run docs\` in sdk/ and commit the result:\n  ${stale.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`docs/sdk/ is up to date (${want.length} files)`);
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
