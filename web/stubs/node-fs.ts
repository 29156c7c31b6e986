/**
 * node:fs/promises in the browser build: src/core/wasm.ts reads build/core.wasm with it in Node only;
 * the browser entry (src/browser.ts) always hands the core a compiled module, so this never runs.
 */
export async function readFile(): Promise<never> {
  throw new Error('node:fs is not available in a browser: load the Wasm core through the browser entry (altmap-sim/src/browser.ts)');
}
