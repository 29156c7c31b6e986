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
import { Purpose } from '../src/core/core.ts';
import { planScaling, planScalingLines } from './plan.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, out: { type: 'string' }, only: { type: 'string' }, 'plan-deadline': { type: 'string' }, 'plan-only': { type: 'boolean', default: false }, 'plan-repeats': { type: 'string' } } });
const quick = values.quick!;
/** --only walk,populate,init,altmap,lookups,cycle,api: run just those sections (default: all). */
const only = values.only ? new Set(values.only.split(',')) : null;
const section = (name: string): boolean => only === null || only.has(name);
const outFile = values.out ?? fileURLToPath(new URL('./results.json', import.meta.url));
const GiB = 1n << 30n;
const BACKENDS: Backend[] = ['wasm', 'ts'];
/** --plan-deadline SECONDS: how long `altmap plan --size 2P` may run before it is stopped (keeps a bench run short). */
const planDeadlineMs = Number(values['plan-deadline'] ?? (quick ? 20 : 60)) * 1000;
const planOnly = values['plan-only']!;
/** --plan-repeats N: fresh `altmap plan` processes per size (default 3, 1 with --quick); the ratio is of the medians. */
const planRepeats = Number(values['plan-repeats'] ?? (quick ? 1 : 3));
if (!Number.isInteger(planRepeats) || planRepeats < 1) throw new Error(`--plan-repeats ${values['plan-repeats']} is not a positive integer`);

interface Measure {
  /** Median of one timed call, ms. */
  median: number;
  /** The very first call, before any warm-up, ms (public API rows). */
  first?: number;
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

interface ApiRow {
  name: string;
  unit: 'ns/op' | 'ms/op';
  ops: number;
  wasm: Measure;
  ts: Measure;
  limit: Measure | null;
}
const apiRows: ApiRow[] = [];
if (!planOnly) {
// ---- 1. page-table walks of random vmemmap addresses ----
if (section('walk')) {
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
  if (!section('populate')) break;
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
if (section('init')) {
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
if (section('altmap')) {
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

// ---- 4b. the DRAM page allocator (docs/core.md "DRAM page allocator") ----
if (section('dram')) {
  progress('DRAM allocator');
  const N = 20000;
  const m = await byBackend(async (b) => {
    const mc = await pmemMachine(b, 16n * GiB);
    const core = mc.k.core;
    const got = new Float64Array(N);
    return measure(() => {
      for (let i = 0; i < N; i++) got[i] = core.allocPages(9, Purpose.HugeTlb);
      for (let i = 0; i < N; i++) core.freePages(got[i], 9, Purpose.HugeTlb);
    });
  });
  rows.push({ name: `DRAM allocator: ${N} alloc_pages(9) then their frees, 64 GiB of DRAM`, unit: 'ns/op', ops: 2 * N, ...m, limit: null });
}

// ---- 5. pfn_to_page / page_to_pfn and to_vmem_altmap, through the API ----
if (section('lookups')) {
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
  rows.push({ name: `pfn_to_page + page_to_pfn: ${N} round trips through the API (the core's arithmetic)`, unit: 'ns/op', ops: N, ...conv, limit: null });
  const look = await byBackend(async (b) => {
    const mc = machines.get(b)!;
    const vas = Array.from(pfns, (p) => mc.pfnToPage(p));
    return measure(() => {
      for (let i = 0; i < N; i++) mc.toVmemAltmap(vas[i]);
    });
  });
  rows.push({ name: `to_vmem_altmap: ${N} lookups through the API (the core's pgmap lookup)`, unit: 'ns/op', ops: N, ...look, limit: null });
}

// ---- 6. a full create/destroy namespace cycle ----
for (const map of ['dev', 'mem'] as const) {
  if (!section('cycle')) break;
  progress(`cycle ${map}`);
  const m = await byBackend(async (b) => {
    const mc = await pmemMachine(b, 1024n * GiB);
    return measure(() => {
      mc.destroyNamespace(mc.createNamespace({ size: '16G', map }).dev as string);
    });
  });
  rows.push({ name: `cycle: create + destroy a 16 GiB map=${map} namespace`, unit: 'ms/op', ops: 1, ...m, limit: null });
}
// ---- 7. the public API: what users call, against the core's own batched cost in the same run ----
/**
 * The default machine (createMachine's defaults: v4.5, 64 GiB of RAM, 1 TiB of pmem) with a 256 GiB
 * map=dev namespace; N calls at random pfns of it. Both backends run the same Machine wrapper. Each row
 * keeps the first pass (cold: the first loop of N calls on a fresh machine) and the warm median, and a
 * limit: the Wasm core's own batched call for the same work (vmemmapTranslate, readPages, pgmap lookups).
 */
if (section('api')) {
  const N = 20000;
  type Api = Machine & Record<string, unknown>;
  interface Fixture {
    m: Api;
    pfns: Float64Array;
    pfnList: number[];
    vas: bigint[];
    vasTyped: BigUint64Array;
    phys: bigint[];
    first: number;
  }
  const fixtures = new Map<Backend, Fixture>();
  for (const b of BACKENDS) {
    const m = (await createMachine({ backend: b })) as Api;
    const ns = m.createNamespace({ size: '256G', map: 'dev' });
    const info = m.namespaceInfo(ns.dev as string);
    const first = Number((info.start + info.startPad + info.offset) >> 12n);
    const count = Number(info.size >> 12n);
    const pfns = randomPfns(N, first, count);
    const pfnList = Array.from(pfns);
    const vas = pfnList.map((p) => m.pfnToPage(p));
    const phys = vas.map((va) => m.walk(va)!.phys);
    fixtures.set(b, { m, pfns, pfnList, vas, vasTyped: BigUint64Array.from(vas), phys, first });
  }
  const wasmCore = fixtures.get('wasm')!.m.k.core;
  const out = new Float64Array(N);
  // the core's batched walk of the same N struct pages: the limit of every walk row
  const coreWalk = await measure(() => wasmCore.vmemmapTranslate(fixtures.get('wasm')!.pfns, out));
  const has = (name: string) => typeof (fixtures.get('wasm')!.m as Record<string, unknown>)[name] === 'function';
  /** One row: fn(fixture) runs N calls (or one batch of N); first pass timed once before tinybench warms up. */
  const row = async (name: string, fn: (f: Fixture) => unknown, limit: Measure | null, unit: 'ns/op' | 'ms/op' = 'ns/op', ops = N) => {
    progress(`api ${name}`);
    const m = await byBackend(async (b) => {
      const f = fixtures.get(b)!;
      const t0 = performance.now();
      fn(f);
      const first = performance.now() - t0;
      return { ...(await measure(() => fn(f))), first };
    });
    apiRows.push({ name, unit, ops, ...m, limit });
  };
  // (first passes are cold only for the first row that calls a method; the order below is the demo's first)
  await row(`demo: ${N} x walk(pfnToPage(pfn)), as web/ measures it`, (f) => {
    for (let i = 0; i < N; i++) f.m.walk(f.m.pfnToPage(f.pfnList[i]));
  }, coreWalk, 'ms/op', 1);
  await row('walk(va)', (f) => {
    for (let i = 0; i < N; i++) f.m.walk(f.vas[i]);
  }, coreWalk);
  if (has('walkPhys'))
    await row('walkPhys(va)', (f) => {
      const m = f.m as unknown as { walkPhys(va: bigint): bigint | null };
      for (let i = 0; i < N; i++) m.walkPhys(f.vas[i]);
    }, coreWalk);
  if (has('walkMany')) await row('walkMany(vas), per address', (f) => (f.m as unknown as { walkMany(v: BigUint64Array): BigUint64Array }).walkMany(f.vasTyped), coreWalk);
  const corePages = typeof (wasmCore as unknown as Record<string, unknown>).readPages === 'function' ? await (async () => {
    const words = new BigUint64Array(8 * N);
    const mapped = new Uint8Array(N);
    const first = fixtures.get('wasm')!.first;
    return measure(() => (wasmCore as unknown as { readPages(s: number, n: number, w: BigUint64Array, m: Uint8Array): void }).readPages(first, N, words, mapped));
  })() : null;
  await row('page(pfn)', (f) => {
    for (let i = 0; i < N; i++) f.m.page(f.pfnList[i]);
  }, corePages);
  if (has('pagesMany')) await row(`pagesMany(pfn, ${N}), per page`, (f) => (f.m as unknown as { pagesMany(s: number, n: number): unknown }).pagesMany(f.first, N), corePages);
  const coreAltmap = typeof (wasmCore as unknown as Record<string, unknown>).toVmemAltmapMany === 'function' ? await (async () => {
    const ids = new Int32Array(N);
    const vas = fixtures.get('wasm')!.vasTyped;
    return measure(() => (wasmCore as unknown as { toVmemAltmapMany(v: BigUint64Array, o: Int32Array): void }).toVmemAltmapMany(vas, ids));
  })() : null;
  await row('toVmemAltmap(va)', (f) => {
    for (let i = 0; i < N; i++) f.m.toVmemAltmap(f.vas[i]);
  }, coreAltmap);
  if (has('toVmemAltmapMany')) await row('toVmemAltmapMany(vas), per address', (f) => (f.m as unknown as { toVmemAltmapMany(v: BigUint64Array): Int32Array }).toVmemAltmapMany(f.vasTyped), coreAltmap);
  await row('pfnToPage(pfn)', (f) => {
    for (let i = 0; i < N; i++) f.m.pfnToPage(f.pfnList[i]);
  }, null);
  await row('pageToPfn(va)', (f) => {
    for (let i = 0; i < N; i++) f.m.pageToPfn(f.vas[i]);
  }, null);
  await row('findDevPagemap(phys)', (f) => {
    for (let i = 0; i < N; i++) f.m.findDevPagemap(f.pfnList[i] * 4096);
  }, coreAltmap);
  const coreRead = await measure(() => {
    const p = fixtures.get('wasm')!.phys;
    for (let i = 0; i < N; i++) wasmCore.readPhys(p[i], 64);
  });
  await row('readPhys(phys, 64) of a struct page', (f) => {
    for (let i = 0; i < N; i++) f.m.readPhys(f.phys[i], 64);
  }, coreRead);
  for (const f of fixtures.values()) f.m.dispose();
}
}

// ---- 8. the planner's scaling: altmap plan --size 64G vs 2P, fresh processes ----
const plan = await planScaling(quick, planDeadlineMs, planRepeats, (size, round) => progress(`altmap plan --size ${size} (${round + 1} of ${planRepeats})`));
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
// the public API rows: per call (or per address of a batch), cold first pass and warm median, and the
// Wasm core's batched cost of the same work (the limit); wasmOverLimit = how many times the limit a call costs
const apiResults = apiRows.map((r) => {
  const v = (m: Measure, x: number) => (r.unit === 'ns/op' ? (x * 1e6) / r.ops : x / r.ops);
  const w = v(r.wasm, r.wasm.median);
  const t = v(r.ts, r.ts.median);
  const lim = r.limit ? v(r.limit, r.limit.median) : null;
  return {
    name: r.name,
    unit: r.unit,
    wasm: { first: v(r.wasm, r.wasm.first!), median: w, spread: v(r.wasm, r.wasm.mad), samples: r.wasm.samples },
    ts: { first: v(r.ts, r.ts.first!), median: t, spread: v(r.ts, r.ts.mad), samples: r.ts.samples },
    wasmSpeedup: t / w,
    limit: lim,
    wasmOverLimit: lim === null ? null : w / lim,
  };
});
const cpu = os.cpus()[0]?.model ?? 'unknown';
const env = { node: process.version, v8: process.versions.v8, cpu, cores: os.cpus().length, platform: `${os.platform()} ${os.arch()}`, quick, date: new Date().toISOString() };
writeFileSync(outFile, JSON.stringify({ env, results, api: apiResults, plan }, null, 2) + '\n');

const fmt = (x: number | null, unit?: string) => (x === null ? '-' : unit === 'GB/s' ? x.toFixed(2) : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const lines = [
  `altmap-sim benchmarks${quick ? ' (--quick)' : ''}: Node ${env.node}, V8 ${env.v8}, ${cpu} (${env.cores} cores)`,
  ...(results.length ? ['', '| benchmark | unit | Wasm (median ± MAD) | TS twin (median ± MAD) | Wasm speed-up | limit | Wasm / limit |', '|---|---|---|---|---|---|---|'] : []),
  ...results.map((r) => `| ${r.name} | ${r.unit} | ${fmt(r.wasm.median, r.unit)} ± ${fmt(r.wasm.spread, r.unit)} | ${fmt(r.ts.median, r.unit)} ± ${fmt(r.ts.spread, r.unit)} | ${r.wasmSpeedup.toFixed(2)}x | ${fmt(r.limit, r.unit)} | ${r.fractionOfLimit === null ? '-' : `${(r.fractionOfLimit * 100).toFixed(0)}%`} |`),
  ...(apiResults.length
    ? [
        '',
        'Public API (default machine, 256 GiB map=dev namespace, 20000 random pfns; the same Machine wrapper on both backends):',
        '',
        '| call | unit | Wasm first; warm | TS twin first; warm | Wasm speed-up | limit (Wasm core, batched) | Wasm / limit |',
        '|---|---|---|---|---|---|---|',
        ...apiResults.map((r) => `| ${r.name} | ${r.unit} | ${fmt(r.wasm.first)}; ${fmt(r.wasm.median)} ± ${fmt(r.wasm.spread)} | ${fmt(r.ts.first)}; ${fmt(r.ts.median)} ± ${fmt(r.ts.spread)} | ${r.wasmSpeedup.toFixed(2)}x | ${fmt(r.limit)} | ${r.wasmOverLimit === null ? '-' : `${r.wasmOverLimit.toFixed(1)}x`} |`),
      ]
    : []),
  '',
  ...planScalingLines(plan),
  '',
  `Limits, measured in the same Wasm module: walks, ${'`'}4${'`'} dependent loads per walk over a working set the size of the page tables; struct page init, memory.fill of the same bytes. Results: ${outFile}`,
];
console.log(lines.join('\n'));
