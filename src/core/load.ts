/** Pick a backend: the Wasm core (default) or the TypeScript twin. */
import type { Core } from './core.ts';
import { createTsCore } from './ts/index.ts';

export type Backend = 'wasm' | 'ts';

/** Where the Wasm core's compiled module comes from; null: build/core.wasm read from disk (Node). */
let wasmModuleLoader: (() => Promise<WebAssembly.Module>) | null = null;

/**
 * Install a loader for the Wasm core's module (the browser entry compiles build/core.wasm with
 * WebAssembly.compileStreaming); null restores the default, which reads the file with node:fs.
 */
export function setWasmModuleLoader(loader: (() => Promise<WebAssembly.Module>) | null): void {
  wasmModuleLoader = loader;
}

export async function loadCore(backend: Backend): Promise<Core> {
  if (backend === 'ts') return createTsCore();
  const { createWasmCore } = await import('./wasm.ts');
  return createWasmCore(wasmModuleLoader ? await wasmModuleLoader() : undefined);
}
