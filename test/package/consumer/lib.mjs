// The library under plain node, as an installed dependency: `node lib.mjs` in the consumer project.
// Prints one JSON line; the packaging test checks it.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { createMachine, KernelError, KERNELS, planCapacity } from 'altmap-sim';

const entry = fileURLToPath(import.meta.resolve('altmap-sim'));
const out = { node: process.version, entry };
for (const backend of ['wasm', 'ts']) {
  const m = await createMachine({ backend });
  assert.equal(m.backend, backend);
  const ns = m.createNamespace({ size: '16G', mode: 'fsdax', map: 'dev' });
  assert.equal(ns.size, 16909336576, `${backend}: namespace size`);
  assert.equal(ns.altmap.free, 66046, `${backend}: altmap free`);
  // more than the region holds: a KernelError with its code (the package's own class, not a copy)
  assert.throws(() => m.createNamespace({ size: '64T', mode: 'fsdax', map: 'dev' }), (e) => e instanceof KernelError && e.code === 'ENOSPC');
  out[backend] = { size: ns.size, dev: ns.dev };
}
assert.ok(KERNELS.includes('v6'));
assert.ok((await planCapacity({ size: '64G', kernel: 'v6' })).rows.length > 0);
console.log(JSON.stringify(out));
