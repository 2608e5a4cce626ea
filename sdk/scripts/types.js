// Emits the SDK's TypeScript declarations (types/*.d.ts) from the JSDoc of src/*.js, with
// tsc's own compiler and tsconfig.json, as `tsc -p tsconfig.json` would, plus two steps
// that keep the SDK's internals out of them:
// - class members whose names begin with `_` are left out (tsc's `stripInternal` would
//   do that for `@internal` members, but it does not apply to declarations made from
//   JavaScript);
// - only what the entry point (index.d.ts) reaches is kept: the internal modules (outbox,
//   reconnect, ice), helpers and typedefs that only internal members used are left out.
// Fails on any type error.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** @param {readonly ts.Diagnostic[]} diagnostics */
function failOn(diagnostics) {
  if (diagnostics.length === 0) return;
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  process.exit(1);
}

/** @param {ts.ClassElement} member */
function isInternal(member) {
  const name = member.name;
  return !!name && (ts.isIdentifier(name) || ts.isPrivateIdentifier(name)) && name.text.startsWith('_');
}

/** Drops the `_` members of every class. @type {ts.TransformerFactory<ts.SourceFile | ts.Bundle>} */
const withoutInternalMembers = (context) => (file) => {
  /** @type {ts.Visitor} */
  const visit = (node) => {
    if (!ts.isClassDeclaration(node)) return ts.visitEachChild(node, visit, context);
    const members = node.members.filter((m) => !isInternal(m));
    return context.factory.updateClassDeclaration(node, node.modifiers, node.name, node.typeParameters, node.heritageClauses, members);
  };
  return ts.visitEachChild(file, visit, context);
};

// ----- keeping what the entry point reaches ----------------------------------------------

/** The names a top-level statement declares. @param {ts.Statement} st @returns {string[]} */
function declaredNames(st) {
  if (ts.isVariableStatement(st)) return st.declarationList.declarations.flatMap((d) => (ts.isIdentifier(d.name) ? [d.name.text] : []));
  const name = /** @type {{name?: ts.Node}} */ (st).name;
  return name && ts.isIdentifier(name) ? [name.text] : [];
}

/** Every identifier in a node (over-approximates what it refers to, which is safe). @param {ts.Node} node @param {Set<string>} [out] */
function identifiers(node, out = new Set()) {
  if (ts.isIdentifier(node)) out.add(node.text);
  ts.forEachChild(node, (child) => void identifiers(child, out));
  return out;
}

/** A module's imports: local name -> [module file, imported name]. @param {ts.SourceFile} sf @param {string} dir */
function importsOf(sf, dir) {
  /** @type {Map<string, [string, string]>} */
  const map = new Map();
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st) || !st.importClause?.namedBindings || !ts.isNamedImports(st.importClause.namedBindings)) continue;
    const target = resolve(dir, /** @type {ts.StringLiteral} */ (st.moduleSpecifier).text.replace(/\.js$/, '.d.ts'));
    for (const el of st.importClause.namedBindings.elements) map.set(el.name.text, [target, (el.propertyName ?? el.name).text]);
  }
  return map;
}

/**
 * The declarations that the entry point's exports need, file by file, following the
 * identifiers of each declaration to the local declarations and imports they name.
 * @param {Map<string, ts.SourceFile>} files @param {string} entry
 * @returns {Map<string, Set<string>>}
 */
function reached(files, entry) {
  /** @type {Map<string, Set<string>>} */
  const needed = new Map();
  /** @type {[string, string][]} */
  const queue = [];
  const need = (/** @type {string} */ file, /** @type {string} */ name) => {
    if (!needed.has(file)) needed.set(file, new Set());
    const names = /** @type {Set<string>} */ (needed.get(file));
    if (!names.has(name)) names.add(name), queue.push([file, name]);
  };
  const entryFile = /** @type {ts.SourceFile} */ (files.get(entry));
  for (const st of entryFile.statements) {
    if (ts.isExportDeclaration(st) && st.moduleSpecifier && st.exportClause && ts.isNamedExports(st.exportClause)) {
      const target = resolve(dirname(entry), /** @type {ts.StringLiteral} */ (st.moduleSpecifier).text.replace(/\.js$/, '.d.ts'));
      for (const el of st.exportClause.elements) need(target, (el.propertyName ?? el.name).text);
    }
    for (const name of declaredNames(st)) need(entry, name);
  }
  while (queue.length > 0) {
    const [file, name] = /** @type {[string, string]} */ (queue.shift());
    const sf = files.get(file);
    if (!sf) throw new Error(`${file} is needed for ${name} but was not emitted`);
    const imports = importsOf(sf, dirname(file));
    const local = new Set(sf.statements.flatMap(declaredNames));
    for (const st of sf.statements.filter((s) => declaredNames(s).includes(name))) {
      for (const id of identifiers(st)) {
        const imported = imports.get(id);
        if (imported) need(...imported);
        else if (local.has(id)) need(file, id);
      }
    }
  }
  return needed;
}

/** The file with only the needed declarations and the imports they use. @param {ts.SourceFile} sf @param {Set<string>} names */
function shaken(sf, names) {
  const kept = sf.statements.filter((st) => !ts.isImportDeclaration(st) && (!declaredNames(st).length || declaredNames(st).some((n) => names.has(n))));
  const used = new Set();
  kept.forEach((st) => identifiers(st, used));
  const parts = [];
  for (const st of sf.statements) {
    if (kept.includes(st)) parts.push(sf.text.slice(st.pos, st.end));
    else if (ts.isImportDeclaration(st) && st.importClause?.namedBindings && ts.isNamedImports(st.importClause.namedBindings)) {
      const elements = st.importClause.namedBindings.elements.filter((el) => used.has(el.name.text));
      if (elements.length === 0) continue;
      const typeOnly = st.importClause.isTypeOnly ? 'type ' : '';
      const list = elements.map((el) => (el.propertyName ? `${el.propertyName.text} as ${el.name.text}` : el.name.text)).join(', ');
      parts.push(`\nimport ${typeOnly}{ ${list} } from ${st.moduleSpecifier.getText(sf)};`);
    }
  }
  return parts.join('').replace(/^\n+/, '') + '\n';
}

// ----- the emit ------------------------------------------------------------------------

const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => failOn([d]) });
if (!config) process.exit(1);
failOn(config.errors);
const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
failOn(ts.getPreEmitDiagnostics(program));

/** @type {Map<string, ts.SourceFile>} */
const emitted = new Map();
const write = (/** @type {string} */ file, /** @type {string} */ text) => emitted.set(resolve(file), ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true));
failOn(program.emit(undefined, write, undefined, true, { afterDeclarations: [withoutInternalMembers] }).diagnostics);

const outDir = resolve(config.options.outDir ?? join(root, 'types'));
const needed = reached(emitted, join(outDir, 'index.d.ts'));
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
for (const [file, names] of needed) writeFileSync(file, shaken(/** @type {ts.SourceFile} */ (emitted.get(file)), names));
