/**
 * vmemmapPopulateCompound (compound devmaps, v5.17+: mm/sparse-vmemmap.c vmemmap_populate_compound_pages;
 * kernel.md §4.2, T44) and the share counting of its reused pages on the vmemmap free path, on both
 * backends, and the two held to the same bytes (docs/core.md "vmemmapPopulateCompound").
 */
import { describe, expect, it } from 'vitest';
import { EventType, FaultKind, LOOKUP_ALTMAP, NO_ALTMAP, PopulateFlags, Purpose, type Core, type CoreConfig } from '../../src/core/core.ts';
import { createTsCore } from '../../src/core/ts/index.ts';
import { createWasmCore } from '../../src/core/wasm.ts';
import { compoundBatchEnd } from '../../src/kernel/hotplug.ts';
import { CORE_BACKENDS, coreConfig, CorePair } from '../fixtures.ts';

const VMEMMAP_START = 0xffffea0000000000n;
const SECTION = 32768;
/** 16 GiB of device-dax just above 64 GiB of RAM (T44). */
const DEV = 0x1040000;
const DEV_PAGES = 0x400000;
const ENOMEM = -12;
const EINVAL = -22;

const config = coreConfig;
const backends = CORE_BACKENDS;

async function fresh(make: () => Promise<Core>, over: Partial<CoreConfig> = {}): Promise<Core> {
  const c = await make();
  expect(c.init(config(over))).toBe(0);
  return c;
}

const va = (pfn: number) => VMEMMAP_START + 64n * BigInt(pfn);

/** The pfn of the frame backing each 4 KiB vmemmap page of [startPfn, +nrPages) (one per 64 pfns), -1 when unmapped. */
function vmemmapFrames(c: Core, startPfn: number, nrPages: number): number[] {
  const n = nrPages / 64;
  const q = new Float64Array(n);
  for (let i = 0; i < n; i++) q[i] = startPfn + 64 * i;
  const out = new Float64Array(n);
  c.vmemmapTranslate(q, out);
  return Array.from(out, (p) => (p < 0 ? -1 : p / 4096));
}

/** Populate [start, +pages) one section (or less) a call; the first non-zero result, or 0. */
function bySection(c: Core, start: number, pages: number, compound: number, rangeStart = start): number {
  for (let pfn = start; pfn < start + pages; pfn += SECTION) {
    const r = c.vmemmapPopulateCompound(pfn, Math.min(SECTION, start + pages - pfn), compound, rangeStart);
    if (r !== 0) return r;
  }
  return 0;
}

function tableCount(c: Core): number {
  return c.dramStats().byPurpose[Purpose.PageTable];
}

describe.each(backends)('vmemmapPopulateCompound (%s)', (_name, make) => {
  it('T44: 16 GiB at 2 MiB compound pages, a section a call: 2 vmemmap pages per compound page, 128 PTE tables', async () => {
    const c = await fresh(make);
    const before = c.dramStats();
    expect(bySection(c, DEV, DEV_PAGES, 512)).toBe(0);
    expect(c.takeEvents()).toEqual([]);
    const after = c.dramStats();
    expect(after.byPurpose[Purpose.Memmap] - before.byPurpose[Purpose.Memmap]).toBe(8192 * 2); // 64 MiB
    // 256 MiB of vmemmap VA: 128 PTE tables, under one PMD table, under one PUD table (both missing)
    const pmdWalk = c.walk(va(DEV));
    expect(pmdWalk.levels.map((l) => l.level)).toEqual(['pgd', 'pud', 'pmd', 'pte']);
    expect(after.byPurpose[Purpose.PageTable] - before.byPurpose[Purpose.PageTable]).toBe(128 + 2);
    expect(before.freePages - after.freePages).toBe(16384 + 130);

    const frames = vmemmapFrames(c, DEV, DEV_PAGES);
    expect(frames).toHaveLength(65536);
    const unique = new Set<number>();
    for (let k = 0; k < 8192; k++) {
      const f = frames.slice(8 * k, 8 * k + 8);
      expect(f[0]).toBeGreaterThan(0);
      expect(f[1]).not.toBe(f[0]);
      if (f.slice(2).some((x) => x !== f[1])) expect(f, `compound page ${k}`).toEqual([f[0], ...Array(7).fill(f[1])]);
      unique.add(f[0]).add(f[1]);
    }
    expect(unique.size).toBe(16384);

    // every vmemmap leaf is a 4 KiB PTE phys | 0x163 | NX
    const w = c.walk(va(DEV + 5 * 512 + 64 * 3));
    expect(w.mapped).toBe(true);
    expect(w.pageSize).toBe(4096);
    expect(w.levels[3].entry).toBe((1n << 63n) | (BigInt(frames[5 * 8 + 3]) << 12n) | 0x163n);
    expect(w.levels[3].entry).toBe(c.walk(va(DEV + 5 * 512 + 64)).levels[3].entry);
  });

  it('1 GiB compound pages over 2 GiB: later sections reuse the first section\'s tail page; 4 pages in all', async () => {
    const c = await fresh(make);
    const before = c.dramStats();
    const pages = 2 * 262144;
    expect(bySection(c, DEV, pages, 262144)).toBe(0);
    const after = c.dramStats();
    expect(after.byPurpose[Purpose.Memmap] - before.byPurpose[Purpose.Memmap]).toBe(4);
    const frames = vmemmapFrames(c, DEV, pages);
    expect(new Set(frames).size).toBe(4);
    for (const half of [0, 1]) {
      const f = frames.slice(half * 4096, half * 4096 + 4096);
      expect(new Set(f.slice(1)).size).toBe(1);
      expect(f[1]).not.toBe(f[0]);
    }
    // 32 MiB of vmemmap VA: 16 PTE tables + a PMD and a PUD table
    expect(after.byPurpose[Purpose.PageTable] - before.byPurpose[Purpose.PageTable]).toBe(16 + 2);
    // one call for the whole span: the same mapping
    const d = await fresh(make);
    expect(d.vmemmapPopulateCompound(DEV, pages, 262144, DEV)).toBe(0);
    expect(vmemmapFrames(d, DEV, pages)).toEqual(frames);
    expect(d.dramStats()).toEqual(after);
  });

  it('a section inside a compound page needs the previous one populated (-ENOMEM, nothing changes)', async () => {
    const c = await fresh(make);
    const before = c.dramStats();
    expect(c.vmemmapPopulateCompound(DEV + SECTION, SECTION, 262144, DEV)).toBe(ENOMEM);
    expect(c.dramStats()).toEqual(before);
    // 2 MiB compounds: no reuse case, any aligned section goes
    expect(c.vmemmapPopulateCompound(DEV + SECTION, SECTION, 512, DEV)).toBe(0);
    // sub-section pieces (2 MiB of memory = 32 KiB of vmemmap) of a 1 GiB compound page
    const e = await fresh(make);
    expect(e.vmemmapPopulateCompound(DEV, 512, 262144, DEV)).toBe(0);
    expect(e.vmemmapPopulateCompound(DEV + 512, 1024, 262144, DEV)).toBe(0);
    expect(e.dramStats().byPurpose[Purpose.Memmap] - before.byPurpose[Purpose.Memmap]).toBe(2);
    expect(new Set(vmemmapFrames(e, DEV, 1536)).size).toBe(2);
  });

  it('arguments outside the contract: -EINVAL, nothing changes', async () => {
    const c = await fresh(make);
    const before = c.dramStats();
    for (const [s, n, cp, r] of [
      [DEV, SECTION, 128, DEV], // <= VMEMMAP_RESERVE_NR vmemmap pages
      [DEV, SECTION, 768, DEV], // not a power of two
      [DEV + 32, SECTION, 512, DEV], // not 4 KiB of vmemmap
      [DEV, 100, 512, DEV],
      [DEV, SECTION, 512, DEV + 1], // range starts after the span
      [-64, SECTION, 512, 0],
      [DEV + 0.5, SECTION, 512, DEV],
      [2 ** 40, 64, 512, 0],
      [DEV, NaN, 512, DEV],
    ]) {
      expect(c.vmemmapPopulateCompound(s, n, cp, r), `${s} ${n} ${cp} ${r}`).toBe(EINVAL);
    }
    expect(c.vmemmapPopulateCompound(DEV, 0, 512, DEV)).toBe(0);
    expect(c.dramStats()).toEqual(before);
  });

  for (const [what, mode] of [
    ['NO_ALTMAP', NO_ALTMAP],
    ['LOOKUP_ALTMAP', LOOKUP_ALTMAP],
  ] as const) {
    it(`vmemmapFree (${what}) of the whole range gives every page and table back; shared pages go once`, async () => {
      for (const compound of [512, 262144]) {
        const c = await fresh(make);
        const before = c.dramStats();
        expect(bySection(c, DEV, DEV_PAGES, compound)).toBe(0);
        expect(c.vmemmapFree(DEV, DEV_PAGES, mode)).toBe(0);
        expect(c.takeEvents().filter((e) => e.type === EventType.Bug)).toEqual([]);
        expect(c.dramStats()).toEqual(before);
        expect(c.walk(va(DEV)).mapped).toBe(false);
        // the pages are plain again: a base-page population and free of the same span balances too
        expect(c.vmemmapPopulate(DEV, SECTION, -1, PopulateFlags.BasePages)).toBe(0);
        expect(c.vmemmapFree(DEV, SECTION, mode)).toBe(0);
        expect(c.dramStats()).toEqual(before);
        expect(c.takeEvents().filter((e) => e.type === EventType.Bug)).toEqual([]);
      }
    });
  }

  it('vmemmapFree section by section, last section first (the kernel\'s teardown order)', async () => {
    const c = await fresh(make);
    const before = c.dramStats();
    const pages = 4 * 262144;
    expect(bySection(c, DEV, pages, 262144)).toBe(0);
    expect(c.dramStats().byPurpose[Purpose.Memmap] - before.byPurpose[Purpose.Memmap]).toBe(8);
    for (let pfn = DEV + pages - SECTION; pfn >= DEV; pfn -= SECTION) {
      expect(c.vmemmapFree(pfn, SECTION, NO_ALTMAP)).toBe(0);
      // the tail page stays while any section of its compound page still maps it
      const first = pfn - ((pfn - DEV) % 262144);
      if (pfn !== first) expect(c.walk(va(first + 64)).mapped).toBe(true);
    }
    expect(c.takeEvents()).toEqual([]);
    expect(c.dramStats()).toEqual(before);
  });

  it('a failure midway (DramAlloc fault) returns -ENOMEM with what was done in place; freeing it balances', async () => {
    for (const nth of [1, 2, 3, 50, 131]) {
      const c = await fresh(make);
      const before = c.dramStats();
      c.setFault(FaultKind.DramAlloc, nth);
      expect(bySection(c, DEV, 8 * SECTION, 512), `nth ${nth}`).toBe(ENOMEM);
      expect(c.vmemmapFree(DEV, 8 * SECTION, NO_ALTMAP)).toBe(0);
      expect(c.dramStats(), `nth ${nth}`).toEqual(before);
      expect(c.takeEvents()).toEqual([]);
    }
  });

  it('host budget exhausted while storing a PTE: -ENOMEM, the page goes back', async () => {
    const c = await fresh(make, { hostMemoryLimit: 3 * 4096 });
    const before = c.dramStats();
    // root is unbacked until written: PUD table entry, PMD table entry, PTE table entry = 3 frames; the PTE table is the 4th
    expect(c.vmemmapPopulateCompound(DEV, SECTION, 512, DEV)).toBe(ENOMEM);
    expect(c.dramStats().byPurpose[Purpose.Memmap]).toBe(before.byPurpose[Purpose.Memmap]);
    expect(c.vmemmapFree(DEV, SECTION, NO_ALTMAP)).toBe(0);
    expect(c.dramStats()).toEqual(before);
  });
});

// ---- the two backends, byte for byte ----
class Pair extends CorePair {


  check(startPfn: number, nrPages: number): void {
    expect(this.w.dramStats(), 'dramStats').toEqual(this.t.dramStats());
    this.sameTables();
    expect(vmemmapFrames(this.w, startPfn, nrPages), 'vmemmapTranslate').toEqual(vmemmapFrames(this.t, startPfn, nrPages));
    for (const pfn of [startPfn, startPfn + 64, startPfn + nrPages - 64, startPfn + (nrPages >> 1)]) {
      expect(this.w.walk(va(pfn)), `walk ${pfn}`).toEqual(this.t.walk(va(pfn)));
    }
  }

}

async function pair(over: Partial<CoreConfig> = {}): Promise<Pair> {
  const p = new Pair(await createWasmCore(), createTsCore());
  p.same('init', (c) => c.init(config(over)));
  return p;
}

describe('Wasm and TS agree on compound population and shared frees', () => {
  it('2 MiB and 1 GiB compounds, section by section and whole, then frees in both modes', async () => {
    const p = await pair();
    const span = 2 * 262144;
    for (let pfn = DEV; pfn < DEV + span; pfn += SECTION) {
      p.same(`populate 1G ${pfn}`, (c) => c.vmemmapPopulateCompound(pfn, SECTION, 262144, DEV));
    }
    p.check(DEV, span);
    const dev2 = DEV + 0x100000;
    p.same('populate 2M whole', (c) => c.vmemmapPopulateCompound(dev2, 4 * SECTION, 512, dev2));
    p.check(dev2, 4 * SECTION);
    // populating again changes nothing
    p.same('again', (c) => c.vmemmapPopulateCompound(dev2, 4 * SECTION, 512, dev2));
    p.check(dev2, 4 * SECTION);
    p.same('free middle sections', (c) => c.vmemmapFree(DEV + 3 * SECTION, 4 * SECTION, NO_ALTMAP));
    p.check(DEV, span);
    p.same('free 2M', (c) => c.vmemmapFree(dev2, 4 * SECTION, LOOKUP_ALTMAP));
    p.same('free rest', (c) => c.vmemmapFree(DEV, span, NO_ALTMAP));
    p.check(DEV, span);
  });

  it('a DramAlloc fault midway, then the unwind, then a retry', async () => {
    for (const [compound, nth] of [
      [512, 7],
      [512, 300],
      [262144, 3],
      [262144, 4],
      [1024, 40],
    ]) {
      const p = await pair();
      p.same('fault', (c) => c.setFault(FaultKind.DramAlloc, nth));
      const results = p.same(`populate ${compound} nth ${nth}`, (c) => {
        const r: number[] = [];
        for (let pfn = DEV; pfn < DEV + 16 * SECTION; pfn += SECTION) r.push(c.vmemmapPopulateCompound(pfn, SECTION, compound, DEV));
        return r;
      });
      expect(results).toContain(ENOMEM);
      p.check(DEV, 16 * SECTION);
      const failAt = DEV + results.indexOf(ENOMEM) * SECTION;
      p.same('unwind the failing section', (c) => c.vmemmapFree(failAt, SECTION, NO_ALTMAP));
      p.check(DEV, 16 * SECTION);
      p.same('retry', (c) => bySection(c, DEV, 16 * SECTION, compound));
      p.check(DEV, 16 * SECTION);
      p.same('free all', (c) => c.vmemmapFree(DEV, 16 * SECTION, NO_ALTMAP));
      p.check(DEV, 16 * SECTION);
    }
  });

  it('Backing faults and a tight budget', async () => {
    for (const nth of [1, 2, 4, 5]) {
      const p = await pair();
      p.same('fault', (c) => c.setFault(FaultKind.Backing, nth));
      p.same(`populate nth ${nth}`, (c) => bySection(c, DEV, 4 * SECTION, 262144));
      p.check(DEV, 4 * SECTION);
      p.same('free', (c) => c.vmemmapFree(DEV, 4 * SECTION, NO_ALTMAP));
      p.check(DEV, 4 * SECTION);
    }
    const p = await pair({ hostMemoryLimit: 6 * 4096 });
    p.same('populate', (c) => bySection(c, DEV, 8 * SECTION, 512));
    p.check(DEV, 8 * SECTION);
    p.same('free', (c) => c.vmemmapFree(DEV, 8 * SECTION, NO_ALTMAP));
    p.check(DEV, 8 * SECTION);
  });

  it('mixed with the base-page and hugepage paths in the same PMD range', async () => {
    const p = await pair();
    // a 2 MiB vmemmap leaf over the first section, base pages over part of the third
    p.same('huge', (c) => c.vmemmapPopulate(DEV, SECTION, -1, 0));
    p.same('base', (c) => c.vmemmapPopulate(DEV + 2 * SECTION, 512, -1, PopulateFlags.BasePages));
    // compound over sections 0..3 in one call: section 0 is under a leaf, section 2 partly populated
    p.same('compound over them', (c) => c.vmemmapPopulateCompound(DEV, 4 * SECTION, 1024, DEV));
    p.check(DEV, 4 * SECTION);
    p.same('free', (c) => c.vmemmapFree(DEV, 4 * SECTION, NO_ALTMAP));
    p.check(DEV, 4 * SECTION);
  });
});

describe.each(backends)('vmemmapPopulateCompound over many sections in one call, as hotplug.ts batches them (%s)', (_name, make) => {
  const G1 = 262144;
  /** Sections [first, first + n) of a pgmap range starting at DEV, in the calls hotplug.ts makes with ftrace off. */
  function batched(c: Core, first: number, n: number, compound: number): number {
    const end = DEV + (first + n) * SECTION;
    for (let pfn = DEV + first * SECTION; pfn < end; ) {
      const to = compoundBatchEnd(pfn, pfn + SECTION, end, compound, DEV);
      const r = c.vmemmapPopulateCompound(pfn, to - pfn, compound, DEV);
      if (r !== 0) return r;
      pfn = to;
    }
    return 0;
  }
  function observe(c: Core, first: number, n: number) {
    return { dram: c.dramStats(), frames: vmemmapFrames(c, DEV + first * SECTION, n * SECTION), events: c.takeEvents() };
  }

  it.each([
    ['2 MiB compound pages, 16 sections', 512, 0, 16, [16]],
    ['1 GiB compound pages, 16 sections (2 whole ones)', G1, 0, 16, [16]],
    ['1 GiB, 12 sections: one whole compound page, then 4 sections of the next in one call', G1, 0, 12, [8, 4]],
    ['1 GiB, from section 3 (inside a compound page) for 17: to its end, then whole ones, then the rest', G1, 3, 17, [5, 8, 4]],
  ])('%s: the same frames, DRAM and frees as one call a section', async (_n, compound, first, n, calls) => {
    // the calls it makes
    const sizes: number[] = [];
    const end = DEV + (first + n) * SECTION;
    for (let pfn = DEV + first * SECTION; pfn < end; pfn = compoundBatchEnd(pfn, pfn + SECTION, end, compound, DEV)) sizes.push((compoundBatchEnd(pfn, pfn + SECTION, end, compound, DEV) - pfn) / SECTION);
    expect(sizes).toEqual(calls);
    const a = await fresh(make);
    const b = await fresh(make);
    // a section before the range's first one is populated on its own, as hot-add would have
    if (first > 0) for (const c of [a, b]) expect(bySection(c, DEV, first * SECTION, compound, DEV)).toBe(0);
    expect(bySection(a, DEV + first * SECTION, n * SECTION, compound, DEV)).toBe(0);
    expect(batched(b, first, n, compound)).toBe(0);
    const want = observe(a, first, n);
    expect(want.frames.every((f) => f > 0)).toBe(true);
    expect(observe(b, first, n)).toEqual(want);
    new CorePair(a, b).sameTables(4);
    // the frees see the same share counts: the same pages go back
    for (const c of [a, b]) expect(c.vmemmapFree(DEV, (first + n) * SECTION, NO_ALTMAP)).toBe(0);
    expect(observe(b, 0, first + n)).toEqual(observe(a, 0, first + n));
  });
});

describe.each(backends)('vmemmapPopulateCompound: a blank PTE table of reused entries at once (%s)', (_name, make) => {
  const G1 = 262144;
  /** A core whose armed fault never fires: populateRange's single steps (the oracle). */
  async function perEntry(over: Partial<CoreConfig> = {}): Promise<Core> {
    const c = await fresh(make, over);
    c.setFault(FaultKind.AltmapAlloc, 1);
    return c;
  }
  const observe = (c: Core, n: number) => ({ rc: 0, dram: c.dramStats(), frames: vmemmapFrames(c, DEV, n), events: c.takeEvents(), backed: c.backedBytes() });

  it.each([
    ['1 GiB compound pages, a section a call (sections 1..7 of each reuse the tail)', G1, 4 * G1, true],
    ['1 GiB compound pages, one call for 4 of them', G1, 4 * G1, false],
    ['2 GiB compound pages, one call', 2 * G1, 4 * G1, false],
  ])('%s: the same tables, frames, DRAM, host memory and frees as the single steps', async (_n, compound, pages, bySec) => {
    const a = await perEntry();
    const b = await fresh(make);
    const run = (c: Core) => (bySec ? bySection(c, DEV, pages, compound, DEV) : c.vmemmapPopulateCompound(DEV, pages, compound, DEV));
    expect(run(a)).toBe(0);
    expect(run(b)).toBe(0);
    const want = observe(a, pages);
    // 2 vmemmap pages a compound page, the rest of its 4096 (or 8192) mapping its first tail page
    expect(new Set(want.frames).size).toBe((2 * pages) / compound);
    expect(observe(b, pages)).toEqual(want);
    new CorePair(a, b).sameTables(4);
    // 4094 (8190) shares of each tail: all but the last mapping keep it
    for (const c of [a, b]) expect(c.vmemmapFree(DEV, pages, NO_ALTMAP)).toBe(0);
    expect(observe(b, pages)).toEqual(observe(a, pages));
    expect(b.dramStats().byPurpose[Purpose.Memmap]).toBe(0);
  });

  it.each([
    ['2 MiB compound pages, a section a call', 512, 0, 16, true, {}],
    ['2 MiB compound pages, one call', 512, 0, 16, false, {}],
    ['1 MiB compound pages (256 pfns, 4 PTEs each), one call', 256, 0, 16, false, {}],
    ['128 MiB compound pages (one a PTE table), one call', SECTION, 0, 16, false, {}],
    ['2 MiB compound pages from the middle of a table (pfn + 8192), one call', 512, 8192, 16, false, {}],
    ['2 MiB compound pages, DRAM running out in the 6th table', 512, 0, 16, false, { ramRanges: [[0x100, 0x100 + 5 * 129 + 70]] as Array<[number, number]> }],
  ])('%s: the same tables, frames, DRAM and frees as the single steps', async (_n, compound, offset, sections, bySec, over) => {
    const a = await perEntry(over);
    const b = await fresh(make, over);
    const start = DEV + offset;
    const pages = sections * SECTION - offset;
    const run = (c: Core) => (bySec ? bySection(c, start, pages, compound, start) : c.vmemmapPopulateCompound(start, pages, compound, start));
    const rc = run(a);
    expect(rc).toBe('ramRanges' in over ? ENOMEM : 0);
    expect(run(b)).toBe(rc);
    const obs = (c: Core) => ({ dram: c.dramStats(), frames: vmemmapFrames(c, start, pages), events: c.takeEvents(), backed: c.backedBytes() });
    const want = obs(a);
    if (rc === 0) expect(new Set(want.frames).size).toBe((2 * pages) / compound);
    expect(obs(b)).toEqual(want);
    new CorePair(a, b).sameTables(4);
    for (const c of [a, b]) expect(c.vmemmapFree(start, pages, NO_ALTMAP)).toBe(0);
    expect(obs(b)).toEqual(obs(a));
  });

  it.each([
    ['2 MiB', 512],
    ['1 GiB', 262144],
  ])('%s compound pages, vmemmapFree of ranges that start and end inside 4 KiB vmemmap pages, then the rest: the same frees as per entry', async (_n, compound) => {
    const a = await perEntry();
    const b = await fresh(make);
    const pages = 2 * 262144;
    for (const c of [a, b]) {
      expect(c.vmemmapPopulateCompound(DEV, pages, compound, DEV)).toBe(0);
      expect(c.vmemmapFree(DEV + 32, 262144 + 1000, NO_ALTMAP)).toBe(0);
    }
    expect(observe(b, pages)).toEqual(observe(a, pages));
    new CorePair(a, b).sameTables(4);
    for (const c of [a, b]) expect(c.vmemmapFree(DEV, pages, NO_ALTMAP)).toBe(0);
    expect(observe(b, pages)).toEqual(observe(a, pages));
    expect(b.dramStats().byPurpose[Purpose.Memmap]).toBe(0);
  });

  it('2 MiB compound pages over DRAM that is not one run (pages 51..100 of the run in use): the single steps', async () => {
    const a = await perEntry();
    const b = await fresh(make);
    for (const c of [a, b]) {
      const got = Array.from({ length: 100 }, () => c.allocPages(0, Purpose.Slab));
      for (const p of got.slice(0, 50)) expect(c.freePages(p, 0, Purpose.Slab)).toBe(0);
      expect(c.vmemmapPopulateCompound(DEV, 4 * SECTION, 512, DEV)).toBe(0);
    }
    const want = observe(a, 4 * SECTION);
    expect(observe(b, 4 * SECTION)).toEqual(want);
    new CorePair(a, b).sameTables(4);
  });

  it('pre-existing entries: 4 KiB pages populated in sections 2 and 9 first (tables with entries set), then one call twice: the single steps keep them', async () => {
    const a = await perEntry();
    const b = await fresh(make);
    for (const c of [a, b]) {
      // 64 struct pages at the middle of section 2, the last 128 of section 9: a few base pages in each table
      expect(c.vmemmapPopulate(DEV + 2 * SECTION + 16384, 64, NO_ALTMAP, PopulateFlags.BasePages)).toBe(0);
      expect(c.vmemmapPopulate(DEV + 10 * SECTION - 128, 128, NO_ALTMAP, PopulateFlags.BasePages)).toBe(0);
      expect(c.vmemmapPopulateCompound(DEV, 2 * G1, G1, DEV)).toBe(0);
      expect(c.vmemmapPopulateCompound(DEV, 2 * G1, G1, DEV)).toBe(0);
    }
    const want = observe(a, 2 * G1);
    // the base pages' own frames stay where they were
    expect(new Set(want.frames).size).toBe(4 + 3);
    expect(observe(b, 2 * G1)).toEqual(want);
    new CorePair(a, b).sameTables(4);
    for (const c of [a, b]) expect(c.vmemmapFree(DEV, 2 * G1, NO_ALTMAP)).toBe(0);
    expect(observe(b, 2 * G1)).toEqual(observe(a, 2 * G1));
  });

  it.each([3, 9, 17])('a host budget that runs out at backed frame %i: the same -ENOMEM and what was done', async (frames) => {
    const base = (await fresh(make)).backedBytes();
    const over = { hostMemoryLimit: base + frames * 4096 };
    const a = await perEntry(over);
    const b = await fresh(make, over);
    const rc = [a, b].map((c) => c.vmemmapPopulateCompound(DEV, 4 * G1, G1, DEV));
    expect(rc[0]).toBe(ENOMEM);
    expect(rc[1]).toBe(rc[0]);
    expect(observe(b, 4 * G1)).toEqual(observe(a, 4 * G1));
    new CorePair(a, b).sameTables(4);
  });
});

describe.each(backends)('memmapWriteEvery: memmap_init_zone_device over compound pages in one call (%s)', (_name, make) => {
  const op = { words: [0x1n, 0x2n, 0x3n, 0xffffffffn, 0x5n, 0x6n, 0x7n, 0x8n], mask: 0xff, self: 0x10 };
  it.each([
    ['2 MiB compound pages, head and first tail of each', 512, 128, 16 * SECTION],
    ['1 GiB compound pages, the 3rd ends early', 262144, 128, 2 * 262144 + 100],
    ['1 GiB compound pages, a count past the range end', 262144, 200000, 262144 + 5000],
  ])('%s: the same struct pages, frames and host memory as one memmapWrite a compound page', async (_n, compound, count, pages) => {
    const a = await fresh(make);
    const b = await fresh(make);
    for (const c of [a, b]) {
      expect(c.vmemmapPopulateCompound(DEV, Math.ceil(pages / SECTION) * SECTION, compound, DEV)).toBe(0);
      // a plain 2 MiB-leaf vmemmap after it: its struct pages are not shared
      expect(c.vmemmapPopulate(DEV + 64 * SECTION, 2 * SECTION, NO_ALTMAP, 0)).toBe(0);
    }
    const end = DEV + pages;
    for (let pfn = DEV; pfn < end; pfn += compound) expect(a.memmapWrite(pfn, Math.min(count, end - pfn), op)).toBe(0);
    expect(a.memmapWrite(DEV + 64 * SECTION, 100, op)).toBe(0);
    expect(a.memmapWrite(DEV + 64 * SECTION + 512, 100, op)).toBe(0);
    expect(b.memmapWriteEvery(DEV, end, compound, count, op)).toBe(0);
    expect(b.memmapWriteEvery(DEV + 64 * SECTION, DEV + 64 * SECTION + 1024, 512, 100, op)).toBe(0);
    const sample = [DEV, DEV + 1, DEV + 64, DEV + 127, DEV + 128, DEV + 511, DEV + 512, DEV + 262144, DEV + 262144 + 99, DEV + 262144 + 100, end - 1, DEV + 64 * SECTION + 99, DEV + 64 * SECTION + 100, DEV + 64 * SECTION + 611];
    expect(sample.map((p) => b.readPage(p))).toEqual(sample.map((p) => a.readPage(p)));
    expect(vmemmapFrames(b, DEV, pages)).toEqual(vmemmapFrames(a, DEV, pages));
    expect(b.backedBytes()).toBe(a.backedBytes());
    expect(b.dramStats()).toEqual(a.dramStats());
  });

  it.each([
    [0, 10, 0, 1],
    [0, 10, 4, 5],
    [0, 10, 4, 0],
    [10, 0, 4, 1],
    [0.5, 10, 4, 1],
    [0, 2 ** 41, 4, 1],
  ])('start %d, end %d, step %d, count %d: -EINVAL', async (s, e, step, count) => {
    const c = await fresh(make);
    expect(c.memmapWriteEvery(s, e, step, count, op)).toBe(EINVAL);
  });
});
