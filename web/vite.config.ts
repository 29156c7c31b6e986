/**
 * The in-browser demo: a static page over the library's browser entry (package.json exports →
 * "browser": src/browser.ts) and the same Wasm core, copied into the build as an asset.
 *   npm run demo        vite's dev server on http://localhost:5173/
 *   npm run build:web   build/web/: any static server can serve it (relative URLs, no server code)
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const repo = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root,
  base: './',
  publicDir: false,
  resolve: {
    // src/core/wasm.ts reads the module with node:fs only when none is passed in, which the browser entry always does
    alias: [{ find: /^node:fs\/promises$/, replacement: fileURLToPath(new URL('./stubs/node-fs.ts', import.meta.url)) }],
  },
  build: {
    outDir: fileURLToPath(new URL('../build/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1024,
  },
  worker: { format: 'es' },
  server: { host: '127.0.0.1', port: 5173, fs: { allow: [repo] } },
  preview: { host: '127.0.0.1', port: 4173 },
});
