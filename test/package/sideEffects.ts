/**
 * What a module does when it is loaded, as far as anything outside it can tell: the packaging test's guard
 * for package.json's "sideEffects" list (a bundler may drop a module that is not on it whenever none of its
 * exports is used, so a module whose loading changes anything elsewhere must be listed).
 *
 * A top-level statement (or a variable's initialiser, or the body of a module function that one of them
 * calls, transitively) has an effect outside the module when it
 *   - imports a module for its effects alone (`import './x.js'`), or awaits at the top level;
 *   - calls or constructs something imported (other than node:path's and node:url's functions), or a global
 *     other than the pure built-ins below;
 *   - assigns to (or deletes, increments) something imported or global.
 * Building the module's own tables by calling its own functions is not an effect. The check is syntactic
 * and errs towards reporting: a false report only costs a "sideEffects" entry.
 */
import ts from 'typescript';

const PURE_GLOBALS = new Set([
  'Object', 'Array', 'Math', 'Number', 'String', 'Boolean', 'BigInt', 'Symbol', 'JSON', 'Map', 'Set', 'WeakMap',
  'WeakSet', 'Error', 'TypeError', 'RangeError', 'SyntaxError', 'URL', 'RegExp', 'Date', 'ArrayBuffer', 'DataView',
  'Uint8Array', 'Uint16Array', 'Uint32Array', 'Int8Array', 'Int16Array', 'Int32Array', 'Float32Array',
  'Float64Array', 'BigUint64Array', 'BigInt64Array', 'parseInt', 'parseFloat', 'isFinite', 'isNaN', 'Reflect',
]);
/** Modules whose exports are pure functions of their arguments: calling them at load time changes nothing. */
const PURE_MODULES = new Set(['node:path', 'path', 'node:url', 'url']);

function bindingNames(name: ts.BindingName, out: Set<string>): void {
  if (ts.isIdentifier(name)) out.add(name.text);
  else for (const e of name.elements) if (!ts.isOmittedExpression(e)) bindingNames(e.name, out);
}

/** The identifier an expression hangs off: `a` for a.b.c(), a[0](), a().b. */
function root(e: ts.Expression): ts.Identifier | null {
  for (;;) {
    if (ts.isIdentifier(e)) return e;
    if (ts.isPropertyAccessExpression(e) || ts.isElementAccessExpression(e) || ts.isCallExpression(e) || ts.isNonNullExpression(e)) e = e.expression;
    else if (ts.isParenthesizedExpression(e)) e = e.expression;
    else return null;
  }
}

/** The statements of `text` that reach outside the module when it loads, as "line: text". */
export function moduleEffects(fileName: string, text: string): string[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true);
  const imported = new Set<string>();
  const declared = new Set<string>();
  const functions = new Map<string, ts.Node>();
  const collect = (n: ts.Node): void => {
    if (ts.isVariableDeclaration(n) || ts.isParameter(n) || ts.isBindingElement(n)) bindingNames(n.name, declared);
    else if ((ts.isFunctionDeclaration(n) || ts.isClassDeclaration(n) || ts.isFunctionExpression(n) || ts.isClassExpression(n)) && n.name) declared.add(n.name.text);
    else if (ts.isCatchClause(n) && n.variableDeclaration) bindingNames(n.variableDeclaration.name, declared);
    ts.forEachChild(n, collect);
  };
  collect(sf);
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) && st.importClause) {
      // bindings of a pure module count as the module's own
      const into = PURE_MODULES.has((st.moduleSpecifier as ts.StringLiteral).text) ? declared : imported;
      const c = st.importClause;
      if (c.name) into.add(c.name.text);
      const b = c.namedBindings;
      if (b && ts.isNamespaceImport(b)) into.add(b.name.text);
      else if (b) for (const el of b.elements) into.add(el.name.text);
    } else if (ts.isFunctionDeclaration(st) && st.name && st.body) functions.set(st.name.text, st.body);
    else if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) {
        if (ts.isIdentifier(d.name) && d.initializer && (ts.isArrowFunction(d.initializer) || ts.isFunctionExpression(d.initializer))) functions.set(d.name.text, d.initializer.body);
      }
    }
  }
  const outside = (id: ts.Identifier | null): boolean => !!id && (imported.has(id.text) || (!declared.has(id.text) && !functions.has(id.text) && !PURE_GLOBALS.has(id.text)));

  const visited = new Set<ts.Node>();
  /** Does running `n` reach outside the module? */
  const reaches = (n: ts.Node): boolean => {
    let hit = false;
    const visit = (x: ts.Node): void => {
      if (hit) return;
      if (ts.isAwaitExpression(x)) hit = true;
      else if (ts.isCallExpression(x) || ts.isNewExpression(x) || ts.isTaggedTemplateExpression(x)) {
        const callee = ts.isTaggedTemplateExpression(x) ? x.tag : x.expression;
        const id = root(callee);
        if (outside(id)) hit = true;
        else if (id && ts.isIdentifier(callee) && functions.has(id.text)) {
          const body = functions.get(id.text)!;
          if (!visited.has(body)) {
            visited.add(body);
            if (reaches(body)) hit = true;
          }
        }
      } else if (ts.isBinaryExpression(x) && x.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && x.operatorToken.kind <= ts.SyntaxKind.LastAssignment) {
        if (outside(root(x.left))) hit = true;
      } else if ((ts.isPrefixUnaryExpression(x) || ts.isPostfixUnaryExpression(x)) && (x.operator === ts.SyntaxKind.PlusPlusToken || x.operator === ts.SyntaxKind.MinusMinusToken)) {
        if (outside(root(x.operand))) hit = true;
      } else if (ts.isDeleteExpression(x)) {
        if (outside(root(x.expression))) hit = true;
      }
      ts.forEachChild(x, visit);
    };
    visit(n);
    return hit;
  };

  const found: string[] = [];
  const report = (st: ts.Node) => found.push(`${sf.getLineAndCharacterOfPosition(st.getStart()).line + 1}: ${st.getText().replace(/\s+/g, ' ').slice(0, 80)}`);
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st)) {
      if (!st.importClause) report(st);
    } else if (ts.isFunctionDeclaration(st) || ts.isExportDeclaration(st) || ts.isEmptyStatement(st)) {
      continue;
    } else if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) {
        if (d.initializer && !ts.isArrowFunction(d.initializer) && !ts.isFunctionExpression(d.initializer) && reaches(d.initializer)) report(d);
      }
    } else if (ts.isClassDeclaration(st)) {
      // static fields and blocks run at load time
      for (const m of st.members) if ((ts.isClassStaticBlockDeclaration(m) || (ts.isPropertyDeclaration(m) && m.modifiers?.some((k) => k.kind === ts.SyntaxKind.StaticKeyword))) && reaches(m)) report(m);
    } else if (reaches(st)) report(st);
  }
  return found;
}
