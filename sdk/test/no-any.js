// Fails when the generated declarations (types/*.d.ts) let `any` into the public API:
// an `any` written out, or a declaration without a type, which TypeScript reads as `any`
// (a parameter, property or method emitted without one). Members whose names begin with
// `_` are internal and skipped (scripts/types.js leaves them out anyway).

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'types');

/** @param {ts.Node} node */
function isInternal(node) {
  const name = /** @type {{name?: ts.Node}} */ (node).name;
  return !!name && ts.isIdentifier(name) && name.text.startsWith('_');
}

/** Whether a declaration that TypeScript would type `any` lacks its type. @param {ts.Node} node */
function untyped(node) {
  if (ts.isParameter(node) || ts.isPropertyDeclaration(node) || ts.isPropertySignature(node) || ts.isVariableDeclaration(node)) return !node.type;
  if (ts.isMethodDeclaration(node) || ts.isMethodSignature(node) || ts.isFunctionDeclaration(node) || ts.isGetAccessorDeclaration(node)) return !node.type;
  return false;
}

/** @param {ts.SourceFile} sf @returns {string[]} */
function problems(sf) {
  const found = [];
  /** @param {ts.Node} node */
  const visit = (node) => {
    if (isInternal(node) && (ts.isClassElement(node) || ts.isTypeElement(node))) return;
    const where = () => `${sf.fileName}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`;
    if (node.kind === ts.SyntaxKind.AnyKeyword) found.push(`${where()}: any`);
    else if (untyped(node)) found.push(`${where()}: no type (any): ${node.getText(sf).split('\n')[0]}`);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

const files = readdirSync(dir).filter((f) => f.endsWith('.d.ts'));
if (files.length === 0) {
  console.error(`no declarations in ${dir}: run \`npm run types\` first`);
  process.exit(1);
}
const found = files.flatMap((f) => problems(ts.createSourceFile(join('types', f), readFileSync(join(dir, f), 'utf8'), ts.ScriptTarget.Latest, true)));
if (found.length > 0) {
  console.error(`\`any\` in the public API (${found.length}):\n${found.join('\n')}`);
  process.exit(1);
}
console.log(`no any: ${files.length} declaration files checked`);
