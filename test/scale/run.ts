/**
 * One scale run in a fresh process: boot a machine with a large Persistent Memory range, create
 * one map=dev namespace over all of it (devm_memremap_pages with an altmap), read and walk a few
 * pages, destroy it, and print one JSON line with the times and the peak resident memory.
 *   tsx test/scale/run.ts --backend wasm --pmem 48T [--kernel v4.5]
 */
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { createMachine, type KernelName } from '../../src/index.ts';
import { parseSize } from '../../src/nvdimm/units.ts';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    pmem: { type: 'string', default: '48T' },
    kernel: { type: 'string', default: 'v4.5' },
    walks: { type: 'string', default: '1000' },
    paging: { type: 'string', default: '4' },
  },
});
const GiB = 1n << 30n;
const pmem = parseSize(values.pmem!, '--pmem');
const pmemStart = 65n * GiB;
const m = await createMachine({
  backend: values.backend as 'wasm' | 'ts',
  kernel: values.kernel as KernelName,
  paging: Number(values.paging) as 4 | 5,
  e820: [
    { start: 0x100000n, size: 64n * GiB, type: 'System RAM' },
    { start: pmemStart, size: pmem, type: 'Persistent Memory' },
  ],
});
const before = m.snapshot();
let t = performance.now();
const ns = m.createNamespace({});
const createMs = performance.now() - t;
const altmap = ns.altmap as Record<string, number>;

// random walks over the device's vmemmap, each checked against the altmap's block arithmetic
const firstPfn = Number(pmemStart >> 12n);
const nrPfns = Number(pmem >> 12n);
let seed = 12345;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
let bad = 0;
t = performance.now();
const walks = Number(values.walks);
for (let i = 0; i < walks; i++) {
  const pfn = firstPfn + Math.floor(rnd() * nrPfns);
  const w = m.walk(m.pfnToPage(pfn));
  const section = Math.floor((pfn - firstPfn) / 32768);
  const expected = BigInt(altmap.basePfn + 512 + 512 * section) << 12n;
  if (!w || w.pageSize !== 2 << 20 || w.phys - ((w.phys >> 21n) << 21n) !== (BigInt(pfn % 32768) * 64n) % (2n << 20n) || (w.phys >> 21n) << 21n !== expected) bad++;
}
const walkMs = performance.now() - t;
const page = m.page(firstPfn + nrPfns - 1);
t = performance.now();
m.destroyNamespace(ns.dev as string);
const destroyMs = performance.now() - t;
const after = m.snapshot();
console.log(
  JSON.stringify({
    backend: values.backend,
    pmem: values.pmem,
    size: ns.size,
    altmap,
    createMs: Math.round(createMs),
    walks,
    badWalks: bad,
    walkMs: Math.round(walkMs),
    destroyMs: Math.round(destroyMs),
    lastPage: { zone: page?.zone, pgmapSet: page?.pgmap !== null },
    restored: isDeepStrictEqual(after, before),
    backedBytes: m.stats().host.backedBytes,
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  }),
);
