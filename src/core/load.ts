/** Pick a backend: the Wasm core (default) or the TypeScript twin. */
import type { Core } from './core.ts';
import { createTsCore } from './ts/index.ts';
import { loadWasmModuleIfSet } from './wasmModule.ts';

/** The core a machine runs on: 'wasm', build/core.wasm (compiled from assembly/), or 'ts', its TypeScript twin. */
export type Backend = 'wasm' | 'ts';

/**
 * A fresh, uninitialised core of that backend. Rejects when the Wasm module cannot be had: build/core.wasm
 * missing or unreadable (Node), the browser loader's fetch failing, or bytes that do not compile.
 */
export async function loadCore(backend: Backend): Promise<Core> {
  if (backend === 'ts') return createTsCore();
  const { createWasmCore } = await import('./wasm.ts');
  // a browser's compiled module (src/browser.ts installs the loader); in Node, undefined: read from disk
  return createWasmCore(await loadWasmModuleIfSet());
}
