// A tiny page that uses the package as a bundler resolves it (the `browser` condition): one machine on
// the Wasm core, one 16G map=dev namespace. The packaging test reads body[data-done] and #out.
import { createMachine } from 'altmap-sim';

const out = document.getElementById('out');
(async () => {
  const m = await createMachine();
  const ns = m.createNamespace({ size: '16G', mode: 'fsdax', map: 'dev' });
  return { backend: m.backend, size: ns.size, free: ns.altmap.free };
})().then(
  (r) => {
    out.textContent = JSON.stringify(r);
    document.body.dataset.done = 'ok';
  },
  (e) => {
    out.textContent = String(e && e.stack ? e.stack : e);
    document.body.dataset.done = 'error';
  },
);
