/**
 * altmap-sim in a browser (the `browser` condition of the package's exports, and the `altmap-sim/browser`
 * subpath): the public API of the Node entry, with the Wasm core's module fetched and compiled by
 * WebAssembly.compileStreaming instead of read with node:fs. The module is compiled once per page (or
 * worker) and shared by every machine created there; the TypeScript twin (backend 'ts') needs no module.
 *
 * The module's URL is `new URL('../build/core.wasm', import.meta.url)`: relative to this file, so bundlers
 * that understand the pattern (vite, webpack 5, rollup/rolldown plugins, esbuild with a plugin) copy
 * build/core.wasm into the bundle as an asset and rewrite the URL. Elsewhere, or to serve the file from
 * another place, call {@link setWasmUrl} before the first createMachine().
 *
 * @module
 */
import { setWasmModuleLoader } from './core/wasmModule.ts';

export * from './index.ts';

let wasmUrl: URL | string = new URL('../build/core.wasm', import.meta.url);
let compiled: Promise<WebAssembly.Module> | null = null;

/**
 * Fetch and compile the Wasm core (build/core.wasm). Servers that send another MIME type than
 * application/wasm still work: compileStreaming's TypeError falls back to compiling the bytes.
 *
 * @param url where the module is served; default: the asset URL beside this module, or the one given to
 *   {@link setWasmUrl}.
 * @throws Error when the server answers with an HTTP error status; `fetch`'s TypeError on a network
 *   failure; WebAssembly.CompileError when the bytes are not the core.
 */
export async function loadWasmModule(url: URL | string = wasmUrl): Promise<WebAssembly.Module> {
  if (typeof WebAssembly.compileStreaming === 'function') {
    try {
      return await WebAssembly.compileStreaming(fetch(url));
    } catch (e) {
      // compileStreaming insists on Content-Type: application/wasm; fall back to the bytes
      if (!(e instanceof TypeError)) throw e;
    }
  }
  const r = await fetch(url);
  if (!r.ok) throw new Error(`cannot load the Wasm core from ${String(url)}: HTTP ${r.status}`);
  return WebAssembly.compile(await r.arrayBuffer());
}

/**
 * Set where the Wasm core is served from (default: build/core.wasm as an asset beside this module): the
 * next createMachine() on the Wasm backend fetches and compiles it from there (a failed load is retried
 * by the next one). Throws nothing itself: a bad URL makes createMachine({ backend: 'wasm' }) reject.
 */
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
