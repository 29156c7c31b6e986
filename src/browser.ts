/**
 * altmap-sim in a browser (the `browser` condition of the package's exports): the public API of
 * src/index.ts, with the Wasm core's module fetched and compiled by WebAssembly.compileStreaming
 * instead of read with node:fs. The module is compiled once per page (or worker) and shared by every
 * machine created there; the TypeScript twin (backend 'ts') needs no module at all.
 *
 * Bundlers that understand `new URL(file, import.meta.url)` (vite, webpack 5, rollup plugins) copy
 * build/core.wasm next to the bundle; elsewhere call setWasmUrl() (or loadWasmModule(url)) first.
 */
import { setWasmModuleLoader } from './core/load.ts';

export * from './index.ts';

let wasmUrl: URL | string = new URL('../build/core.wasm', import.meta.url);
let compiled: Promise<WebAssembly.Module> | null = null;

/** Fetch and compile the Wasm core; servers that send another MIME type than application/wasm still work. */
export async function loadWasmModule(url: URL | string = wasmUrl): Promise<WebAssembly.Module> {
  const response = fetch(url);
  if (typeof WebAssembly.compileStreaming === 'function') {
    try {
      return await WebAssembly.compileStreaming(response);
    } catch (e) {
      // compileStreaming insists on Content-Type: application/wasm; fall back to the bytes
      if (!(e instanceof TypeError)) throw e;
    }
  }
  const r = await fetch(url);
  if (!r.ok) throw new Error(`cannot load the Wasm core from ${String(url)}: HTTP ${r.status}`);
  return WebAssembly.compile(await r.arrayBuffer());
}

/** Where the Wasm core is served from (default: build/core.wasm beside the bundle). */
export function setWasmUrl(url: URL | string): void {
  wasmUrl = url;
  compiled = null;
}

setWasmModuleLoader(() => {
  if (!compiled) {
    compiled = loadWasmModule(wasmUrl);
    compiled.catch(() => (compiled = null));
  }
  return compiled;
});
