/**
 * npm run bench [-- --quick]: the hot path on the Wasm core and on the TypeScript twin, side by side in
 * one run, against physical limits measured in the same Wasm module (memory.fill; a chain of dependent
 * loads). Prints a table of medians and writes bench/results.json.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';
import { createMachine, type Machine } from '../src/index.ts';
import { createWasmCore } from '../src/core/wasm.ts';
import type { Backend } from '../src/core/load.ts';
import { ZONE_DEVICE } from '../src/core/structPage.ts';
import { planScaling, planScalingLines } from './plan.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, out: { type: 'string' }, 'plan-deadline': { type: 'string' }, 'plan-only': { type: 'boolean', default: false } } });
const quick = values.quick!;
const outFile = values.out ?? fileURLToPath(new URL('./results.json', import.meta.url));
const GiB = 1n << 30n;
const BACKENDS: Backend[] = ['wasm', 'ts'];
/** --plan-deadline SECONDS: how long `altmap plan --size 2P` may run before it is stopped (keeps a bench run short). */
const planDeadlineMs = Number(values['plan-deadline'] ?? (quick ? 20 : 60)) * 1000;
const planOnly = values['plan-only']!;

interface Measure {
  /** Median of one timed call, ms. */
  median: number;
  /** Median absolute deviation, ms. */
  mad: number;
  samples: number;
}

/** Time fn with tinybench; hooks run outside the timed window. */
async function measure(fn: () => unknown, hooks: { beforeEach?: () => void } = {}, heavy = false): Promise<Measure> {
  const b = new Bench({ time: quick ? 150 : heavy ? 2000 : 700, iterations: quick ? 3 : heavy ? 5 : 20, warmupIterations: quick ? 1 : 2, warmupTime: 0 });
  b.add('x', fn, hooks);
  await b.run();
  const r = b.tasks[0].result;
  if (r.state !== 'completed') throw (r as { error?: unknown }).error ?? new Error(`benchmark ${r.state}`);
  return { median: r.latency.p50, mad: r.latency.mad, samples: r.latency.samplesCount };
}

interface Row {
  name: string;
  unit: 'ns/op' | 'ms/op' | 'GB/s';
  /** Operations per timed call (time units are divided by it; GB/s uses bytes). */
  ops: number;
  wasm: Measure;
  ts: Measure;
  limit: Measure | null;
}

const rows: Row[] = [];
const pmemMachine = (backend: Backend, pmem: bigint, extra = {}) =>
  createMachine({
    backend,
    hostMemoryLimit: 3n * GiB,
    ...extra,
    e820: [
      { start: 0x100000n, size: 64n * GiB, type: 'System RAM' },
      { start: 65n * GiB, size: pmem, type: 'Persistent Memory' },
    ],
  });
const PMEM_PFN = Number((65n * GiB) >> 12n);

function progress(what: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K  measuring ${what} ...`);
}

/** A pseudo-random sequence, the same for both backends. */
function randomPfns(n: number, first: number, count: number): Float64Array {
  const out = new Float64Array(n);
  let s = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = first + ((s >>> 0) % count);
  }
  return out;
}

async function byBackend(f: (b: Backend) => Promise<Measure>): Promise<{ wasm: Measure; ts: Measure }> {
  return { wasm: await f('wasm'), ts: await f('ts') };
}

if (!planOnly) {
// ---- 1. page-table walks of random vmemmap addresses ----
{
  progress('walks');
  const N = 65536;
  const size = 1024n * GiB;
  const pfns = randomPfns(N, PMEM_PFN, Number(size >> 12n));
  const out = new Float64Array(N);
  let tableBytes = 0;
  const m = await byBackend(async (b) => {
    const mc = await pmemMachine(b, size);
    mc.createNamespace({});
    const s = mc.stats().dram;
    tableBytes = (s.pageTablePages + s.directMapPages) * 4096;
    return measure(() => mc.k.core.vmemmapTranslate(pfns, out));
  });
  const lim = (await createWasmCore()) as Awaited<ReturnType<typeof createWasmCore>>;
  lim.benchChaseSetup(Math.max(tableBytes, 64 * 1024), 7);
  const limit = await measure(() => lim.benchChase(N, 4));
  rows.push({ name: `walk: ${N} random vmemmap addresses (1 TiB map=dev, 4 levels)`, unit: 'ns/op', ops: N, ...m, limit });
}

// ---- 2. vmemmap populate: memremap of whole devices ----
for (const [label, pmem, map] of [
  ['1 TiB map=dev', 1024n * GiB, 'dev'],
  ['1 TiB map=mem', 1024n * GiB, 'mem'],
  ...(quick ? [] : ([['48 TiB map=dev', 48n * 1024n * GiB, 'dev']] as const)),
] as const) {
  progress(`populate ${label}`);
  const m = await byBackend(async (b) => {
    const mc = await pmemMachine(b, pmem);
    const clear = () => {
      for (const ns of mc.listNamespaces()) mc.destroyNamespace(ns.dev as string);
    };
    const r = await measure(() => mc.createNamespace({ map }), { beforeEach: clear }, true);
    mc.dispose();
    return r;
  });
  rows.push({ name: `populate: memremap of a ${label} namespace (sections, vmemmap, memmap)`, unit: 'ms/op', ops: 1, ...m, limit: null });
}

// ---- 3. struct page initialisation, forced eagerly ----
{
  const devGiB = quick ? 16n : 64n;
  progress('struct page init');
  const bytes = Number((devGiB * GiB) / 64n);
  const m = await byBackend(async (b) => {
    const mc = await pmemMachine(b, devGiB * GiB, { eagerMemmap: true });
    mc.createNamespace({});
    const n = Number((devGiB * GiB) >> 12n);
    const r = await measure(() => mc.k.core.memmapInit(PMEM_PFN, n, ZONE_DEVICE, 0), {}, true);
    mc.dispose();
    return r;
  });
  const lim = await createWasmCore();
  if (lim.benchFill(bytes, 0) < 0) throw new Error('benchFill: no room');
  let v = 0;
  const limit = await measure(() => lim.benchFill(bytes, ++v & 0xff), {}, true);
  lim.dispose();
  rows.push({ name: `struct page init: the memmap of a ${devGiB} GiB device (${bytes / 2 ** 20} MiB of struct pages), eager`, unit: 'GB/s', ops: bytes, ...m, limit });
}

// ---- 4. the altmap allocator ----
{
  progress('altmap allocator');
  const N = 4096;
  const m = await byBackend(async (b) => {
    const mc = await pmemMachine(b, 1024n * GiB);
    const core = mc.k.core;
    const id = core.altmapCreate({ basePfn: BigInt(PMEM_PFN), reserve: 2n, free: BigInt(N * 512 + 510), align: 0n, alloc: 0n });
    return measure(
      () => core.altmapAllocMany(id, 512, N),
      {
        beforeEach: () => {
          core.altmapWrite(id, 'alloc', 0n);
          core.altmapWrite(id, 'align', 0n);
        },
      },
    );
  });
  rows.push({ name: `altmap: ${N} vmem_altmap_alloc(512) in one batch`, unit: 'ns/op', ops: N, ...m, limit: null });
}

// ---- 5. pfn_to_page / page_to_pfn and to_vmem_altmap, through the API ----
{
  progress('lookups');
  const N = 65536;
  const pfns = randomPfns(N, PMEM_PFN, Number((1024n * GiB) >> 12n));
  const machines = new Map<Backend, Machine>();
  for (const b of BACKENDS) {
    const mc = await pmemMachine(b, 1024n * GiB);
    mc.createNamespace({});
    machines.set(b, mc);
  }
  const conv = await byBackend(async (b) => {
    const mc = machines.get(b)!;
    return measure(() => {
      for (let i = 0; i < N; i++) mc.pageToPfn(mc.pfnToPage(pfns[i]));
    });
  });
  rows.push({ name: `pfn_to_page + page_to_pfn: ${N} round trips (host arithmetic on both)`, unit: 'ns/op', ops: N, ...conv, limit: null });
  const look = await byBackend(async (b) => {
    const mc = machines.get(b)!;
    const vas = Array.from(pfns, (p) => mc.pfnToPage(p));
    return measure(() => {
      for (let i = 0; i < N; i++) mc.toVmemAltmap(vas[i]);
    });
  });
  rows.push({ name: `to_vmem_altmap: ${N} lookups (the host's pgmap registry)`, unit: 'ns/op', ops: N, ...look, limit: null });
}

// ---- 6. a full create/destroy namespace cycle ----
for (const map of ['dev', 'mem'] as const) {
  progress(`cycle ${map}`);
  const m = await byBackend(async (b) => {
    const mc = await pmemMachine(b, 1024n * GiB);
    return measure(() => {
      mc.destroyNamespace(mc.createNamespace({ size: '16G', map }).dev as string);
    });
  });
  rows.push({ name: `cycle: create + destroy a 16 GiB map=${map} namespace`, unit: 'ms/op', ops: 1, ...m, limit: null });
}
}

// ---- 7. the planner's scaling: altmap plan --size 64G vs 2P, fresh processes ----
const plan = await planScaling(quick, planDeadlineMs, (size) => progress(`altmap plan --size ${size}`));
if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');

// ---- report ----
const value = (r: Row, m: Measure): number => (r.unit === 'GB/s' ? r.ops / (m.median / 1e3) / 1e9 : r.unit === 'ns/op' ? (m.median * 1e6) / r.ops : m.median / r.ops);
const spread = (r: Row, m: Measure): number => (r.unit === 'GB/s' ? (value(r, m) * m.mad) / m.median : r.unit === 'ns/op' ? (m.mad * 1e6) / r.ops : m.mad / r.ops);
const results = rows.map((r) => {
  const w = value(r, r.wasm);
  const t = value(r, r.ts);
  // speedup of Wasm over the twin: >1 means Wasm is faster
  const speedup = r.unit === 'GB/s' ? w / t : t / w;
  const lim = r.limit ? (r.unit === 'GB/s' ? r.ops / (r.limit.median / 1e3) / 1e9 : (r.limit.median * 1e6) / r.ops) : null;
  const fraction = lim === null ? null : r.unit === 'GB/s' ? w / lim : lim / w;
  return {
    name: r.name,
    unit: r.unit,
    wasm: { median: w, spread: spread(r, r.wasm), samples: r.wasm.samples },
    ts: { median: t, spread: spread(r, r.ts), samples: r.ts.samples },
    wasmSpeedup: speedup,
    limit: lim,
    fractionOfLimit: fraction,
  };
});
const cpu = os.cpus()[0]?.model ?? 'unknown';
const env = { node: process.version, v8: process.versions.v8, cpu, cores: os.cpus().length, platform: `${os.platform()} ${os.arch()}`, quick, date: new Date().toISOString() };
writeFileSync(outFile, JSON.stringify({ env, results, plan }, null, 2) + '\n');

const fmt = (x: number | null, unit?: string) => (x === null ? '-' : unit === 'GB/s' ? x.toFixed(2) : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const lines = [
  `altmap-sim benchmarks${quick ? ' (--quick)' : ''}: Node ${env.node}, V8 ${env.v8}, ${cpu} (${env.cores} cores)`,
  '',
  '| benchmark | unit | Wasm (median ± MAD) | TS twin (median ± MAD) | Wasm speed-up | limit | Wasm / limit |',
  '|---|---|---|---|---|---|---|',
  ...results.map((r) => `| ${r.name} | ${r.unit} | ${fmt(r.wasm.median, r.unit)} ± ${fmt(r.wasm.spread, r.unit)} | ${fmt(r.ts.median, r.unit)} ± ${fmt(r.ts.spread, r.unit)} | ${r.wasmSpeedup.toFixed(2)}x | ${fmt(r.limit, r.unit)} | ${r.fractionOfLimit === null ? '-' : `${(r.fractionOfLimit * 100).toFixed(0)}%`} |`),
  '',
  ...planScalingLines(plan),
  '',
  `Limits, measured in the same Wasm module: walks, ${'`'}4${'`'} dependent loads per walk over a working set the size of the page tables; struct page init, memory.fill of the same bytes. Results: ${outFile}`,
];
console.log(lines.join('\n'));
