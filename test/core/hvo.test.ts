/**
 * HugeTLB Vmemmap Optimization (HVO, v5.14+; Linux 6.12 mm/hugetlb_vmemmap.c; kernel.md §4.2, T45):
 * vmemmapOptimizeHuge / vmemmapRestoreHuge on both backends, and the two held to the same bytes
 * (docs/core.md "vmemmapOptimizeHuge", "vmemmapRestoreHuge").
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EventType, FaultKind, LOOKUP_ALTMAP, NO_ALTMAP, PopulateFlags, Purpose, type Core, type CoreConfig, type DramStats } from '../../src/core/core.ts';
import { createTsCore } from '../../src/core/ts/index.ts';
import { createWasmCore } from '../../src/core/wasm.ts';
import { CORE_BACKENDS, coreConfig, CorePair } from '../fixtures.ts';
import { pageTables } from '../../src/kernel/pgtable.ts';

const VMEMMAP_START = 0xffffea0000000000n;
const SECTION = 32768;
/** The boot memmap: sections 0..15 (2 GiB of pfns), 2 MiB vmemmap leaves from DRAM. */
const BOOT_SECTIONS = 16;
/** A 2 MiB HugeTLB page in section 4; a 1 GiB one at 1 GiB (sections 8..15). */
const H2 = 0x20000;
const H1 = 0x40000;
const P2M = 512;
const P1G = 262144;
const ENOMEM = -12;
const EINVAL = -22;
const NX = 1n << 63n;
const RW = 2n;

const config = coreConfig;
const backends = CORE_BACKENDS;

const va = (pfn: number, start = VMEMMAP_START) => start + 64n * BigInt(pfn);

/** Populate and initialise the boot memmap of sections [0, n) (vmemmap_populate + memmap_init_zone). */
function boot(c: Core, n = BOOT_SECTIONS, flags = 0): void {
  for (let s = 0; s < n; s++) {
    expect(c.vmemmapPopulate(s * SECTION, SECTION, -1, flags)).toBe(0);
    expect(c.memmapInit(s * SECTION, SECTION, 2, 0)).toBe(0);
  }
  expect(c.takeEvents()).toEqual([]);
}

/** A fresh core and its dramStats before the boot memmap, then the boot memmap. */
async function booted(make: () => Promise<Core>, over: Partial<CoreConfig> = {}): Promise<{ c: Core; empty: DramStats }> {
  const c = await make();
  expect(c.init(config(over))).toBe(0);
  const empty = c.dramStats();
  boot(c);
  return { c, empty };
}

/** The phys of each 4 KiB vmemmap page of [startPfn, +nrPages) (one per 64 pfns), -1 when unmapped. */
function vmemmapPhys(c: Core, startPfn: number, nrPages: number): number[] {
  const n = nrPages / 64;
  const q = new Float64Array(n);
  for (let i = 0; i < n; i++) q[i] = startPfn + 64 * i;
  const out = new Float64Array(n);
  c.vmemmapTranslate(q, out);
  return Array.from(out);
}

/** The bytes the CPU reads through the vmemmap of [startPfn, +nrPages). */
function vmemmapBytes(c: Core, startPfn: number, nrPages: number): Buffer {
  const parts = vmemmapPhys(c, startPfn, nrPages).map((p) => (p < 0 ? Buffer.alloc(4096) : Buffer.from(c.readPhys(BigInt(p), 4096))));
  return Buffer.concat(parts);
}

/** sha256 of every page-table page reachable from the root, depth first. */
function tablesDigest(c: Core, levels = 4): string {
  const h = createHash('sha256');
  for (const t of pageTables((table) => c.readPhys(table, 4096), c.walk(0n).levels[0].table, levels as 4 | 5)) h.update(t.table.toString(16)).update(t.bytes);
  return h.digest('hex');
}

/** What "nothing changes" compares. */
function snapshot(c: Core, startPfn: number, nrPages: number) {
  return {
    stats: c.dramStats(),
    backed: c.backedBytes(),
    tables: tablesDigest(c),
    phys: vmemmapPhys(c, startPfn, nrPages),
    bytes: createHash('sha256').update(vmemmapBytes(c, startPfn, nrPages)).digest('hex'),
  };
}

function delta(a: DramStats, b: DramStats) {
  return {
    free: b.freePages - a.freePages,
    memmap: b.byPurpose[Purpose.Memmap] - a.byPurpose[Purpose.Memmap],
    tables: b.byPurpose[Purpose.PageTable] - a.byPurpose[Purpose.PageTable],
  };
}

/** vmemmapFree of the boot sections, last first; no Bug. */
function freeBoot(c: Core, mode: number): void {
  for (let s = BOOT_SECTIONS - 1; s >= 0; s--) expect(c.vmemmapFree(s * SECTION, SECTION, mode), `section ${s}`).toBe(0);
  expect(c.takeEvents().filter((e) => e.type === EventType.Bug)).toEqual([]);
}

describe.each(backends)('HVO: vmemmapOptimizeHuge / vmemmapRestoreHuge (%s)', (_name, make) => {
  it('T45 2 MiB: 7 of 8 vmemmap pages freed (28 KiB), one PMD split, the tail pages map page 0 read-only', async () => {
    const { c } = await booted(make);
    const s0 = c.dramStats();
    const before = vmemmapPhys(c, H2, P2M);
    const page0 = c.readPhys(BigInt(before[0]), 4096);
    // before: the 8 vmemmap pages are 8 consecutive frames of the section's 2 MiB block
    expect(before.map((p) => p - before[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((k) => 4096 * k));
    expect(c.walk(va(H2)).pageSize).toBe(2 << 20);
    expect(c.readPage(H2 + 64 + 5)).not.toEqual(c.readPage(H2 + 5)); // lru points at each page itself
    const neighbour = c.walk(va(H2 + P2M)).phys;

    const freed = c.vmemmapOptimizeHuge(H2, P2M);
    expect(freed).toBe(7);
    expect(freed * 4096).toBe(28 << 10);
    expect(c.takeEvents()).toEqual([]);
    expect(delta(s0, c.dramStats())).toEqual({ free: 6, memmap: -7, tables: 1 });

    const w0 = c.walk(va(H2));
    expect(w0.mapped).toBe(true);
    expect(w0.pageSize).toBe(4096);
    expect(w0.phys).toBe(BigInt(before[0]));
    expect(w0.levels[2].entry & 0x80n).toBe(0n); // the PMD now points to a PTE table
    expect(w0.levels[2].entry & 0xfffn).toBe(0x63n);
    expect(w0.levels[3].entry).toBe(BigInt(before[0]) | 0x163n | NX);
    expect(w0.levels[3].entry & RW).toBe(RW);
    for (let k = 1; k < 8; k++) {
      const w = c.walk(va(H2 + 64 * k));
      expect(w.pageSize).toBe(4096);
      expect(w.levels[3].table).toBe(w0.levels[3].table);
      expect(w.levels[3].entry, `page ${k}`).toBe(BigInt(before[0]) | 0x121n | NX);
      expect(w.levels[3].entry & RW).toBe(0n);
      expect(c.readPhys(w.phys, 4096)).toEqual(page0);
    }
    // the tail struct pages show the first vmemmap page's struct pages
    for (const j of [0, 1, 17, 63]) {
      for (let k = 1; k < 8; k++) expect(c.readPage(H2 + 64 * k + j), `pfn +${64 * k + j}`).toEqual(c.readPage(H2 + j));
    }
    // the rest of the split PMD maps what the 2 MiB leaf did
    expect(c.walk(va(H2 + P2M)).phys).toBe(neighbour);
    expect(c.walk(va(H2 - 64)).phys).toBe(BigInt(before[0]) - 4096n);
    // the freed frames are free DRAM again
    for (let k = 1; k < 8; k++) {
      expect(c.freePages(before[k] / 4096, 0, Purpose.Memmap)).toBe(-14);
    }
    expect(c.takeEvents().map((e) => e.type)).toEqual(Array(7).fill(EventType.Bug));

    // a second optimize finds everything remapped
    const s1 = c.dramStats();
    const t1 = tablesDigest(c);
    expect(c.vmemmapOptimizeHuge(H2, P2M)).toBe(0);
    expect(c.dramStats()).toEqual(s1);
    expect(tablesDigest(c)).toBe(t1);
  });

  it('T45 1 GiB: 4095 of 4096 freed (16 MiB - 4 KiB), eight PMDs split', async () => {
    const { c } = await booted(make);
    const s0 = c.dramStats();
    const before = vmemmapPhys(c, H1, P1G);
    const freed = c.vmemmapOptimizeHuge(H1, P1G);
    expect(freed).toBe(4095);
    expect(freed * 4096).toBe((16 << 20) - 4096);
    expect(delta(s0, c.dramStats())).toEqual({ free: 4095 - 8, memmap: -4095, tables: 8 });
    const after = vmemmapPhys(c, H1, P1G);
    expect(after[0]).toBe(before[0]);
    expect(new Set(after)).toEqual(new Set([before[0]]));
    for (let m = 0; m < 8; m++) {
      const w = c.walk(va(H1 + m * SECTION + 64));
      expect(w.levels[2].entry & 0x80n, `PMD ${m}`).toBe(0n);
      expect(w.levels[3].entry).toBe(BigInt(before[0]) | 0x121n | NX);
    }
    expect(c.walk(va(H1)).levels[3].entry).toBe(BigInt(before[0]) | 0x163n | NX);
    for (const pfn of [H1 + 64, H1 + 4096 + 3, H1 + P1G - 1]) expect(c.readPage(pfn)).toEqual(c.readPage(H1 + (pfn % 64)));
    expect(c.takeEvents()).toEqual([]);
  });

  it('restore: fresh read-write pages holding what the PTEs showed; the PTE tables stay split', async () => {
    for (const [pfn, n, pages, tables] of [
      [H2, P2M, 7, 1],
      [H1, P1G, 4095, 8],
    ]) {
      const { c } = await booted(make);
      const s0 = c.dramStats();
      expect(c.vmemmapOptimizeHuge(pfn, n)).toBe(pages);
      const showed = vmemmapBytes(c, pfn, n);
      const reuse = vmemmapPhys(c, pfn, n)[0];
      expect(c.vmemmapRestoreHuge(pfn, n)).toBe(pages);
      expect(c.takeEvents()).toEqual([]);
      expect(delta(s0, c.dramStats())).toEqual({ free: -tables, memmap: 0, tables });
      expect(vmemmapBytes(c, pfn, n).equals(showed)).toBe(true);
      const phys = vmemmapPhys(c, pfn, n);
      expect(phys[0]).toBe(reuse);
      expect(new Set(phys).size).toBe(n / 64);
      for (const k of [1, 2, n / 64 - 1]) {
        const w = c.walk(va(pfn + 64 * k));
        expect(w.levels[3].entry).toBe(BigInt(phys[k]) | 0x163n | NX);
      }
      // nothing left to restore; optimizing again frees the new pages
      const s1 = c.dramStats();
      expect(c.vmemmapRestoreHuge(pfn, n)).toBe(0);
      expect(c.dramStats()).toEqual(s1);
      expect(c.vmemmapOptimizeHuge(pfn, n)).toBe(pages);
      expect(delta(s0, c.dramStats())).toEqual({ free: pages - tables, memmap: -pages, tables });
      expect(vmemmapPhys(c, pfn, n)).toEqual(Array(n / 64).fill(reuse));
      expect(vmemmapBytes(c, pfn, n).equals(showed)).toBe(true);
    }
  });

  for (const [what, mode] of [
    ['NO_ALTMAP', NO_ALTMAP],
    ['LOOKUP_ALTMAP', LOOKUP_ALTMAP],
  ] as const) {
    it(`vmemmapFree (${what}) afterwards gives every page and table back, after optimize and after restore`, async () => {
      for (const restore of [false, true]) {
        const { c, empty } = await booted(make);
        expect(c.vmemmapOptimizeHuge(H2, P2M)).toBe(7);
        expect(c.vmemmapOptimizeHuge(H2 + 4 * P2M, P2M)).toBe(7); // same PMD, already split
        expect(c.vmemmapOptimizeHuge(H1, P1G)).toBe(4095);
        if (restore) {
          expect(c.vmemmapRestoreHuge(H2, P2M)).toBe(7);
          expect(c.vmemmapRestoreHuge(H1, P1G)).toBe(4095);
        }
        freeBoot(c, mode);
        expect(c.dramStats(), `restore ${restore}`).toEqual(empty);
        expect(c.walk(va(H2)).mapped).toBe(false);
        // and the memmap can come back
        boot(c);
        freeBoot(c, mode);
        expect(c.dramStats()).toEqual(empty);
      }
    });
  }

  it('-ENOMEM (DramAlloc faults): nothing changes', async () => {
    const { c } = await booted(make);
    // optimize: the nth split's PTE table
    for (const [pfn, n, nths] of [
      [H2, P2M, [1]],
      [H1, P1G, [1, 2, 5, 8]],
    ] as const) {
      for (const nth of nths) {
        const snap = snapshot(c, pfn, n);
        c.setFault(FaultKind.DramAlloc, nth);
        expect(c.vmemmapOptimizeHuge(pfn, n), `optimize ${n} nth ${nth}`).toBe(ENOMEM);
        expect(snapshot(c, pfn, n)).toEqual(snap);
      }
    }
    expect(c.vmemmapOptimizeHuge(H2, P2M)).toBe(7);
    // nine allocations are not needed: the fault stays armed
    c.setFault(FaultKind.DramAlloc, 9);
    expect(c.vmemmapOptimizeHuge(H1, P1G)).toBe(4095);
    c.setFault(FaultKind.DramAlloc, 0);
    // restore: the nth page
    for (const [pfn, n, nths] of [
      [H2, P2M, [1, 4, 7]],
      [H1, P1G, [1, 2, 2000, 4095]],
    ] as const) {
      for (const nth of nths) {
        const snap = snapshot(c, pfn, n);
        c.setFault(FaultKind.DramAlloc, nth);
        expect(c.vmemmapRestoreHuge(pfn, n), `restore ${n} nth ${nth}`).toBe(ENOMEM);
        expect(snapshot(c, pfn, n)).toEqual(snap);
      }
    }
    expect(c.takeEvents()).toEqual([]);
    expect(c.vmemmapRestoreHuge(H1, P1G)).toBe(4095);
    expect(c.vmemmapRestoreHuge(H2, P2M)).toBe(7);
  });

  it('-ENOMEM (Backing faults, host budget): nothing changes', async () => {
    const { c, empty } = await booted(make);
    for (const nth of [1, 3, 8]) {
      const snap = snapshot(c, H1, P1G);
      c.setFault(FaultKind.Backing, nth);
      expect(c.vmemmapOptimizeHuge(H1, P1G)).toBe(ENOMEM);
      expect(snapshot(c, H1, P1G)).toEqual(snap);
    }
    expect(c.vmemmapOptimizeHuge(H1, P1G)).toBe(4095);
    for (const nth of [1, 1000, 4095]) {
      const snap = snapshot(c, H1, P1G);
      c.setFault(FaultKind.Backing, nth);
      expect(c.vmemmapRestoreHuge(H1, P1G)).toBe(ENOMEM);
      expect(snapshot(c, H1, P1G)).toEqual(snap);
    }
    freeBoot(c, NO_ALTMAP);
    expect(c.dramStats()).toEqual(empty);

    // 8 MiB of host memory: the split tables fit, 4095 copies (16 MiB) do not
    const { c: d, empty: e2 } = await booted(make, { hostMemoryLimit: 8 << 20 });
    expect(d.vmemmapOptimizeHuge(H1, P1G)).toBe(4095);
    const snap = snapshot(d, H1, P1G);
    expect(d.vmemmapRestoreHuge(H1, P1G)).toBe(ENOMEM);
    expect(snapshot(d, H1, P1G)).toEqual(snap);
    expect(d.vmemmapRestoreHuge(H2 - P2M, P2M)).toBe(0); // never optimized
    expect(d.vmemmapOptimizeHuge(H2, P2M)).toBe(7);
    expect(d.vmemmapRestoreHuge(H2, P2M)).toBe(7);
    freeBoot(d, NO_ALTMAP);
    expect(d.dramStats()).toEqual(e2);
  });

  it('arguments outside the contract and unmapped struct pages', async () => {
    const { c } = await booted(make);
    const snap = snapshot(c, H2, P2M);
    for (const [s, n] of [
      [H2, 64], // fewer than 2 vmemmap pages
      [H2, 100],
      [H2 + 32, P2M],
      [H2 + 0.5, P2M],
      [-512, P2M],
      [H2, NaN],
      [H2, 2 ** 24], // past the 2^23 bound
      [2 ** 40 - 256, P2M],
    ]) {
      expect(c.vmemmapOptimizeHuge(s, n), `optimize ${s} ${n}`).toBe(EINVAL);
      expect(c.vmemmapRestoreHuge(s, n), `restore ${s} ${n}`).toBe(EINVAL);
    }
    // a HugeTLB page whose memmap is not populated: no reuse page
    const out = BOOT_SECTIONS * SECTION + P2M;
    expect(c.vmemmapOptimizeHuge(out, P2M)).toBe(EINVAL);
    expect(c.vmemmapRestoreHuge(out, P2M)).toBe(0);
    expect(snapshot(c, H2, P2M)).toEqual(snap);
    expect(c.takeEvents()).toEqual([]);
  });

  it('a memmap of 4 KiB pages (no PMD leaf): nothing to split, order-0 pages freed', async () => {
    const c = await make();
    expect(c.init(config())).toBe(0);
    const empty = c.dramStats();
    boot(c, BOOT_SECTIONS, PopulateFlags.BasePages);
    const s0 = c.dramStats();
    expect(c.vmemmapOptimizeHuge(H2, P2M)).toBe(7);
    expect(delta(s0, c.dramStats())).toEqual({ free: 7, memmap: -7, tables: 0 });
    expect(c.vmemmapRestoreHuge(H2, P2M)).toBe(7);
    expect(c.vmemmapOptimizeHuge(H2, P2M)).toBe(7);
    freeBoot(c, NO_ALTMAP);
    expect(c.dramStats()).toEqual(empty);
  });
});

// ---- the two backends, byte for byte ----
class Pair extends CorePair {
  constructor(
    w: Core,
    t: Core,
    readonly levels: number,
    readonly vmemmapStart: bigint,
  ) {
    super(w, t);
  }


  check(what: string, ranges: Array<[number, number]>): void {
    expect(this.w.dramStats(), `${what}: dramStats`).toEqual(this.t.dramStats());
    expect(this.w.backedBytes(), `${what}: backedBytes`).toBe(this.t.backedBytes());
    expect(tablesDigest(this.w, this.levels), `${what}: tables`).toBe(tablesDigest(this.t, this.levels));
    for (const [pfn, n] of ranges) {
      expect(vmemmapPhys(this.w, pfn, n), `${what}: translate ${pfn}`).toEqual(vmemmapPhys(this.t, pfn, n));
      expect(vmemmapBytes(this.w, pfn, n).equals(vmemmapBytes(this.t, pfn, n)), `${what}: bytes ${pfn}`).toBe(true);
      for (const p of [pfn, pfn + 64, pfn + 65, pfn + n - 1]) {
        expect(this.w.walk(va(p, this.vmemmapStart)), `${what}: walk ${p}`).toEqual(this.t.walk(va(p, this.vmemmapStart)));
        expect(this.w.readPage(p), `${what}: readPage ${p}`).toEqual(this.t.readPage(p));
      }
    }
  }
}

async function pair(over: Partial<CoreConfig> = {}): Promise<Pair> {
  const cfg = config(over);
  const p = new Pair(await createWasmCore(), createTsCore(), cfg.levels, cfg.vmemmapStart);
  p.same('init', (c) => c.init(cfg));
  return p;
}

describe('Wasm and TS agree on HVO', () => {
  const ranges: Array<[number, number]> = [
    [H2, P2M],
    [H2 + 4 * P2M, P2M],
    [5 * SECTION, P2M],
    [H1, P1G],
  ];

  for (const [name, over, flags] of [
    ['PMD-mapped boot memmap', {}, 0],
    ['eager struct pages', { eagerMemmap: true }, 0],
    ['base-page memmap, 5-level', { levels: 5, vmemmapStart: 0xffd4000000000000n }, PopulateFlags.BasePages],
  ] as const) {
    it(`scripted: optimize, restore, re-optimize, faults, free (${name})`, async () => {
      const p = await pair(over);
      p.same('boot', (c) => {
        for (let s = 0; s < BOOT_SECTIONS; s++) {
          c.vmemmapPopulate(s * SECTION, SECTION, -1, flags);
          c.memmapInit(s * SECTION, SECTION, 2, 0);
        }
        return c.dramStats();
      });
      p.check('boot', ranges);
      p.same('optimize 2M', (c) => c.vmemmapOptimizeHuge(H2, P2M));
      p.same('optimize 2M, same PMD', (c) => c.vmemmapOptimizeHuge(H2 + 4 * P2M, P2M));
      p.same('optimize 2M, another section', (c) => c.vmemmapOptimizeHuge(5 * SECTION, P2M));
      p.check('optimized 2M', ranges);
      p.same('fault', (c) => c.setFault(FaultKind.DramAlloc, 3));
      if (flags) p.same('disarm', (c) => c.setFault(FaultKind.DramAlloc, 0));
      // a base-page memmap has nothing to split: no allocation for the fault to hit
      expect(p.same('optimize 1G, faulted', (c) => c.vmemmapOptimizeHuge(H1, P1G))).toBe(flags ? 4095 : ENOMEM);
      p.check('optimize 1G, faulted', ranges);
      expect(p.same('optimize 1G', (c) => c.vmemmapOptimizeHuge(H1, P1G))).toBe(flags ? 0 : 4095);
      expect(p.same('optimize 1G again', (c) => c.vmemmapOptimizeHuge(H1, P1G))).toBe(0);
      p.check('optimized 1G', ranges);
      p.same('fault', (c) => c.setFault(FaultKind.Backing, 100));
      expect(p.same('restore 1G, faulted', (c) => c.vmemmapRestoreHuge(H1, P1G))).toBe(ENOMEM);
      p.check('restore 1G, faulted', ranges);
      p.same('restore 2M', (c) => c.vmemmapRestoreHuge(H2, P2M));
      p.same('restore 1G', (c) => c.vmemmapRestoreHuge(H1, P1G));
      p.check('restored', ranges);
      p.same('re-optimize 2M', (c) => c.vmemmapOptimizeHuge(H2, P2M));
      p.same('re-optimize 1G', (c) => c.vmemmapOptimizeHuge(H1, P1G));
      p.check('re-optimized', ranges);
      p.same('struct pages written through the reuse page', (c) => c.memmapSetPgmap(H2, P2M, 0xffff888123456000n));
      p.check('memmapSetPgmap', ranges);
      p.same('free 1G sections', (c) => {
        const r: number[] = [];
        for (let s = BOOT_SECTIONS - 1; s >= 8; s--) r.push(c.vmemmapFree(s * SECTION, SECTION, NO_ALTMAP));
        return r;
      });
      p.check('freed 1G', ranges);
      p.same('free the rest', (c) => c.vmemmapFree(0, 8 * SECTION, LOOKUP_ALTMAP));
      p.check('freed', ranges);
    });
  }

  it('a tight host budget: the split and the copies run out on both alike', async () => {
    // after the boot memmap 3 frames are backed (PGD, PUD and PMD tables; struct pages are patterns);
    // each split backs its PTE table, each restored page its copy
    for (const [limit, outcome] of [
      [5 * 4096, [7, ENOMEM, ENOMEM, 0]], // the 1 GiB split runs out at its second table
      [12 * 4096, [7, 4095, ENOMEM, ENOMEM]], // the 2 MiB copies do not fit
      [40 * 4096, [7, 4095, 7, ENOMEM]],
      [2 << 20, [7, 4095, 7, ENOMEM]],
      [(16 << 20) + 19 * 4096, [7, 4095, 7, 4095]],
    ] as const) {
      const p = await pair({ hostMemoryLimit: limit });
      p.same('boot', (c) => {
        const r: number[] = [];
        for (let s = 0; s < BOOT_SECTIONS; s++) {
          r.push(c.vmemmapPopulate(s * SECTION, SECTION, -1, 0));
          r.push(c.memmapInit(s * SECTION, SECTION, 2, 0));
        }
        return r;
      });
      const got: number[] = [];
      got.push(p.same('optimize 2M', (c) => c.vmemmapOptimizeHuge(H2, P2M)));
      got.push(p.same('optimize 1G', (c) => c.vmemmapOptimizeHuge(H1, P1G)));
      p.check(`optimized, limit ${limit}`, ranges);
      got.push(p.same('restore 2M', (c) => c.vmemmapRestoreHuge(H2, P2M)));
      got.push(p.same('restore 1G', (c) => c.vmemmapRestoreHuge(H1, P1G)));
      p.check(`restored, limit ${limit}`, ranges);
      expect(got, `limit ${limit}`).toEqual(outcome);
      p.same('free', (c) => c.vmemmapFree(0, BOOT_SECTIONS * SECTION, NO_ALTMAP));
      p.check(`freed, limit ${limit}`, ranges);
    }
  });
});
