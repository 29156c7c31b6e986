/**
 * Where the Wasm core's compiled module comes from. By default (no loader) src/core/wasm.ts reads
 * build/core.wasm with node:fs; the browser entry (src/browser.ts) installs a loader that fetches and
 * compiles it.
 *
 * Kept apart from load.ts so that the declarations the Node entry reaches never name `WebAssembly`, a
 * global TypeScript declares only in the DOM library (not in ES2022, nor in @types/node 20).
 */
let loader: (() => Promise<WebAssembly.Module>) | null = null;

/** Install a loader for the Wasm core's module; null restores the default (node:fs). */
export function setWasmModuleLoader(next: (() => Promise<WebAssembly.Module>) | null): void {
  loader = next;
}

/** The module from the installed loader, or undefined: the Wasm core then reads build/core.wasm itself. */
export async function loadWasmModuleIfSet(): Promise<WebAssembly.Module | undefined> {
  return loader ? loader() : undefined;
}
