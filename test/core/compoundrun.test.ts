/**
 * Compound runs (docs/core.md "Compound runs"; assembly/compoundrun.ts): a whole GiB of compound-devmap
 * vmemmap populated on one contiguous DRAM run is one record, its tables drawn on read and its tails'
 * share counts implicit. Each path is held to the single steps (vmemmapPopulateCompound's loop, one
 * populate_address a 4 KiB page, which a fault armed that never fires forces: T44's shape at 128 GiB),
 * on both backends, and the two backends to each other.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FaultKind, NO_ALTMAP, Purpose, type Core } from '../../src/core/core.ts';
import { createWasmCore } from '../../src/core/wasm.ts';
import { CORE_BACKENDS, coreConfig, CorePair } from '../fixtures.ts';

const SECTION = 32768;
/** 128 GiB of device-dax at 128 GiB (its vmemmap starts on a GiB of VA: two whole runs), above 64 GiB of RAM. */
const DEV = 0x2000000;
const GIB_VA_PFNS = 1 << 24;
const DEV_PAGES = 2 * GIB_VA_PFNS;
const op = { words: [0x1n, 0x2n, 0x3n, 0xffffffffn, 0x5n, 0x6n, 0x7n, 0x8n], mask: 0xff, self: 0 };

async function pair(make: () => Promise<Core>): Promise<{ c: Core; ref: Core }> {
  const c = await make();
  const ref = await make();
  for (const x of [c, ref]) expect(x.init(coreConfig())).toBe(0);
  // an armed fault the compound path never attempts: the single steps
  ref.setFault(FaultKind.AltmapAlloc, 1);
  return { c, ref };
}

/** What a walk of every vmemmap page of the device shows: the frame each maps (-1 unmapped). */
function frames(c: Core, pages = DEV_PAGES + SECTION): number[] {
  const n = pages / 64;
  const q = new Float64Array(n);
  for (let i = 0; i < n; i++) q[i] = DEV + 64 * i;
  const out = new Float64Array(n);
  c.vmemmapTranslate(q, out);
  return Array.from(out);
}

const SAMPLE = [DEV, DEV + 1, DEV + 64, DEV + 127, DEV + 128, DEV + 511, DEV + 512, DEV + 262144, DEV + GIB_VA_PFNS - 1, DEV + GIB_VA_PFNS, DEV + DEV_PAGES - 1, DEV + DEV_PAGES + 5];

function observe(c: Core) {
  return { stats: c.dramStats(), frames: frames(c), pages: SAMPLE.map((p) => c.readPage(p)) };
}

describe.each(CORE_BACKENDS)('compound runs (%s)', (_name, make) => {
  it.each([
    ['T44 2 MiB compound pages', 512, 1 + 512 * 129],
    ['1 GiB compound pages', 262144, 1 + 64 * 10],
  ])('%s (%d pfns) over 128 GiB + a section in one call: the single steps\' tables, frames, DRAM and memmap; %d frames a run, nothing backed', async (_n, compound, runFrames) => {
    const { c, ref } = await pair(make);
    const before = c.dramStats();
    const hostBefore = c.backedBytes();
    for (const x of [c, ref]) {
      expect(x.vmemmapPopulateCompound(DEV, DEV_PAGES + SECTION, compound, DEV)).toBe(0);
      expect(x.memmapWriteEvery(DEV, DEV + DEV_PAGES + SECTION, compound, 128, op)).toBe(0);
    }
    const want = observe(ref);
    expect(observe(c)).toEqual(want);
    new CorePair(c, ref).sameTables();
    // the two runs' tables: the PMD table and 512 PTE tables each, in DRAM, not in the host
    const tables = want.stats.byPurpose[Purpose.PageTable] - before.byPurpose[Purpose.PageTable];
    expect(tables).toBeGreaterThanOrEqual(2 * 513);
    expect(before.freePages - want.stats.freePages).toBeGreaterThanOrEqual(2 * runFrames);
    expect(ref.backedBytes() - c.backedBytes()).toBeGreaterThanOrEqual(2 * 513 * 4096);
    expect(c.backedBytes() - hostBefore).toBeLessThan(64 * 4096);
    // the whole range back: the runs at once, the rest entry by entry
    for (const x of [c, ref]) expect(x.vmemmapFree(DEV, DEV_PAGES + SECTION, NO_ALTMAP)).toBe(0);
    expect(observe(c)).toEqual(observe(ref));
    expect(c.takeEvents()).toEqual([]);
  });

  it.each([
    ['2 MiB', 512],
    ['1 GiB', 262144],
  ])('%s compound pages: one section freed inside a run dissolves it (its tables backed, its shares counted); then the rest', async (_n, compound) => {
    const { c, ref } = await pair(make);
    const before = c.dramStats();
    for (const x of [c, ref]) expect(x.vmemmapPopulateCompound(DEV, DEV_PAGES, compound, DEV)).toBe(0);
    const mid = DEV + 3 * 262144;
    for (const x of [c, ref]) expect(x.vmemmapFree(mid, compound === 512 ? SECTION : 262144, NO_ALTMAP)).toBe(0);
    expect(observe(c)).toEqual(observe(ref));
    new CorePair(c, ref).sameTables();
    // the first run is ordinary tables now; the second is still a run
    expect(ref.backedBytes() - c.backedBytes()).toBeGreaterThanOrEqual(513 * 4096);
    for (const x of [c, ref]) expect(x.vmemmapFree(DEV, DEV_PAGES, NO_ALTMAP)).toBe(0);
    expect(observe(c)).toEqual(observe(ref));
    expect(c.dramStats().byPurpose[Purpose.Memmap]).toBe(before.byPurpose[Purpose.Memmap]);
  });

  it('a run\'s PTE table written (its entry rewritten as it was): the free walks entry by entry, as the single steps', async () => {
    const { c, ref } = await pair(make);
    const before = c.dramStats();
    for (const x of [c, ref]) expect(x.vmemmapPopulateCompound(DEV, DEV_PAGES, 512, DEV)).toBe(0);
    const pte = c.walk(0xffffea0000000000n + 64n * BigInt(DEV + 5 * 512)).levels.at(-1)!.table;
    expect(ref.walk(0xffffea0000000000n + 64n * BigInt(DEV + 5 * 512)).levels.at(-1)!.table).toBe(pte);
    for (const x of [c, ref]) expect(x.writePhys(pte, x.readPhys(pte, 4096))).toBe(0);
    expect(observe(c)).toEqual(observe(ref));
    for (const x of [c, ref]) expect(x.memmapWriteEvery(DEV, DEV + DEV_PAGES, 512, 128, op)).toBe(0);
    expect(observe(c)).toEqual(observe(ref));
    for (const x of [c, ref]) expect(x.vmemmapFree(DEV, DEV_PAGES, NO_ALTMAP)).toBe(0);
    expect(observe(c)).toEqual(observe(ref));
    expect(c.dramStats().byPurpose[Purpose.Memmap]).toBe(before.byPurpose[Purpose.Memmap]);
  });

  it('DRAM that is not one run (a page in use inside it): the single steps, no run', async () => {
    const { c, ref } = await pair(make);
    const c0 = await make();
    expect(c0.init(coreConfig())).toBe(0);
    // the first run would start at the lowest free page: take one 70000 pages above it on all three
    const probe = c0.allocPages(0, Purpose.Slab);
    for (const x of [c, ref]) {
      expect(x.allocPages(0, Purpose.Slab)).toBe(probe);
    }
    for (const x of [c, ref]) {
      // a page 70000 above, in use: the PUD table and PMD table come first, then the run would cross it
      const hole = probe + 70000;
      let p = -1;
      const held: number[] = [];
      while ((p = x.allocPages(0, Purpose.Slab)) !== hole && p >= 0) held.push(p);
      expect(p).toBe(hole);
      for (const h of held) expect(x.freePages(h, 0, Purpose.Slab)).toBe(0);
      expect(x.freePages(probe, 0, Purpose.Slab)).toBe(0);
    }
    const hostBefore = c.backedBytes();
    for (const x of [c, ref]) expect(x.vmemmapPopulateCompound(DEV, DEV_PAGES, 512, DEV)).toBe(0);
    expect(observe(c)).toEqual(observe(ref));
    // the first GiB went the single way (its PTE tables backed); the second, past the hole, is a run
    expect(c.backedBytes() - hostBefore).toBeGreaterThanOrEqual(512 * 4096);
    expect(ref.backedBytes() - c.backedBytes()).toBeGreaterThanOrEqual(513 * 4096);
  });
});

describe('compound runs: Wasm and TS alike', () => {
  it('populate, memmap, a partial free, a rewrite, the rest: same tables, bytes, DRAM and host memory', async () => {
    const [[, mw], [, mt]] = CORE_BACKENDS.length === 2 ? CORE_BACKENDS : [CORE_BACKENDS[0], CORE_BACKENDS[0]];
    const p = new CorePair(await mw(), await mt());
    p.same('init', (c) => c.init(coreConfig()));
    p.same('populate', (c) => c.vmemmapPopulateCompound(DEV, DEV_PAGES, 512, DEV));
    p.same('memmap', (c) => c.memmapWriteEvery(DEV, DEV + DEV_PAGES, 512, 128, op));
    p.sameTables();
    p.same('observe', observe);
    p.same('host', (c) => c.backedBytes());
    p.same('free a section', (c) => c.vmemmapFree(DEV + GIB_VA_PFNS + SECTION, SECTION, NO_ALTMAP));
    p.sameTables();
    p.same('observe', observe);
    p.same('host', (c) => c.backedBytes());
    p.same('free all', (c) => c.vmemmapFree(DEV, DEV_PAGES, NO_ALTMAP));
    p.same('observe', observe);
    p.same('host', (c) => c.backedBytes());
  });
});

describe('compound runs against the single steps, random sequences (fast-check)', () => {
  /** Sections of the 128 GiB device, a GiB of vmemmap being 512 of them. */
  const sec = fc.integer({ min: 0, max: 2 * 512 - 1 });
  const opArb = fc.oneof(
    fc.record({ kind: fc.constant('populate' as const), from: fc.oneof(fc.constant(0), fc.constant(512), sec), n: fc.oneof(fc.constant(512), fc.constant(1024), fc.integer({ min: 1, max: 600 })), compound: fc.constantFrom(512, 262144) }),
    fc.record({ kind: fc.constant('free' as const), from: fc.oneof(fc.constant(0), fc.constant(512), sec), n: fc.oneof(fc.constant(512), fc.integer({ min: 1, max: 600 })) }),
    fc.record({ kind: fc.constant('memmap' as const), from: fc.oneof(fc.constant(0), sec), n: fc.oneof(fc.constant(1024), fc.integer({ min: 1, max: 600 })), compound: fc.constantFrom(512, 262144) }),
    fc.record({ kind: fc.constant('rewrite' as const), at: fc.integer({ min: 0, max: DEV_PAGES - 1 }) }),
  );
  type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

  function apply(c: Core, o: Op): unknown {
    const clip = (from: number, n: number) => [DEV + from * SECTION, Math.min(n, 1024 - from) * SECTION] as const;
    switch (o.kind) {
      case 'populate': {
        const [s, n] = clip(o.from, o.n);
        return c.vmemmapPopulateCompound(s, n, o.compound, DEV);
      }
      case 'free': {
        const [s, n] = clip(o.from, o.n);
        return c.vmemmapFree(s, n, NO_ALTMAP);
      }
      case 'memmap': {
        const [s, n] = clip(o.from, o.n);
        return c.memmapWriteEvery(s, s + n, o.compound, 128, op);
      }
      case 'rewrite': {
        // the PTE table holding this struct page's entry, written back as it reads (backs it)
        const w = c.walk(0xffffea0000000000n + 64n * BigInt(DEV + o.at));
        const t = w.levels.at(-1)!;
        if (!w.mapped || w.levels.length !== 4) return 'none';
        return c.writePhys(t.table, c.readPhys(t.table, 4096));
      }
    }
  }

  it('populate, free, memmap and table writes over two GiB of vmemmap: results, DRAM, every vmemmap page, the tables and the struct pages as the per-step loop (Wasm)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 6 }), async (ops) => {
        const { c, ref } = await pair(createWasmCore);
        for (const o of ops) {
          expect(apply(c, o), JSON.stringify(o)).toEqual(apply(ref, o));
          expect(c.dramStats(), JSON.stringify(o)).toEqual(ref.dramStats());
        }
        expect(observe(c)).toEqual(observe(ref));
        new CorePair(c, ref).sameTables();
        // everything back: the same DRAM on both
        for (const x of [c, ref]) x.vmemmapFree(DEV, DEV_PAGES, NO_ALTMAP);
        expect(c.dramStats()).toEqual(ref.dramStats());
        c.dispose();
        ref.dispose();
      }),
      { numRuns: 15, seed: 15 },
    );
  });
});
