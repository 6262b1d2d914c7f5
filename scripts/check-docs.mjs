// `npm run docs`, after TypeDoc (which fails on any warning, an undocumented export or field
// among them): checks what TypeDoc does not. Every exported function and method has a `@param`
// for each parameter, `@returns` unless it returns nothing, `@throws` and a man page (`@see`);
// the main entry points have an `@example`. Prints each problem and fails if there is one.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ts = require('typescript');
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

// The entry points a user starts from: each shows how it is called.
const NEEDS_EXAMPLE = new Set([
  'spawn', 'run', 'daemon', 'waitpid', 'waitAsync', 'decodeWaitStatus', 'fork', 'execve', 'execvp',
  'posixSpawn', 'posixSpawnp', 'onSignal', 'kill', 'processInfo', 'startReaper', 'setChildSubreaper',
  'runSync', 'pipeline', 'openpty', 'prlimit', 'availableContainments', 'tcsetattr', 'pipe',
]);

const program = ts.createProgram([path.join(root, 'lib/index.ts')], {
  strict: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.Node16,
  moduleResolution: ts.ModuleResolutionKind.Node16,
  lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts'],
  types: ['node'],
});
const checker = program.getTypeChecker();
const entry = checker.getSymbolAtLocation(program.getSourceFile(path.join(root, 'lib/index.ts')));
const problems = [];

function tagsOf(node) {
  return ts.getJSDocTags(node).filter((tag) => ts.getJSDocCommentsAndTags(node).some((doc) => ts.isJSDoc(doc) && doc.tags?.includes(tag)));
}

function isInternal(node) {
  return tagsOf(node).some((tag) => tag.tagName.text === 'internal');
}

function checkCallable(name, node, isExported) {
  if (isInternal(node)) return;
  const tags = tagsOf(node);
  const has = (tagName) => tags.some((tag) => tag.tagName.text === tagName);
  const params = new Set(tags.filter(ts.isJSDocParameterTag).map((tag) => tag.name.getText()));
  for (const parameter of node.parameters ?? []) {
    const parameterName = parameter.name.getText();
    if (ts.isIdentifier(parameter.name) && !params.has(parameterName)) problems.push(`${name}: no @param for ${parameterName}`);
  }
  const signature = checker.getSignatureFromDeclaration(node);
  const returns = signature ? checker.typeToString(checker.getReturnTypeOfSignature(signature)) : 'void';
  if (!ts.isConstructorDeclaration(node) && !['void', 'Promise<void>', 'never'].includes(returns) && !has('returns')) problems.push(`${name}: no @returns (${returns})`);
  if (isExported) {
    if (!has('throws')) problems.push(`${name}: no @throws`);
    if (!has('see')) problems.push(`${name}: no @see (the man page)`);
    if (NEEDS_EXAMPLE.has(name) && !has('example')) problems.push(`${name}: no @example`);
  }
}

for (const exported of checker.getExportsOfModule(entry)) {
  const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
  for (const declaration of symbol.declarations ?? []) {
    if (ts.isFunctionDeclaration(declaration)) {
      checkCallable(exported.name, declaration, true);
    } else if (ts.isClassDeclaration(declaration)) {
      for (const member of declaration.members) {
        const isPrivate = ts.getCombinedModifierFlags(member) & ts.ModifierFlags.Private || (member.name && ts.isPrivateIdentifier(member.name));
        if (isPrivate) continue;
        if (ts.isMethodDeclaration(member) || ts.isConstructorDeclaration(member)) {
          checkCallable(`${exported.name}.${member.name ? member.name.getText() : 'constructor'}`, member, false);
        }
      }
    }
  }
}

if (problems.length > 0) {
  console.error(`API reference: ${problems.length} problems\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.error('API reference: every export has its @param, @returns, @throws and @see, and the entry points their @example');
