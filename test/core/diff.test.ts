/**
 * Differential test of the two cores: the same operation sequences run on the Wasm core and on the
 * TypeScript twin; after every operation both must return the same value and raise the same events,
 * and at checkpoints agree on dramStats, the bytes of every page-table page (found by walking from the
 * root), struct pages (readPage), altmap fields and readPhys of the memmap blocks.
 *
 * Scripted sequences cover the spec's paths; fast-check drives random sequences over a small machine.
 * The random operations stay inside what docs/core.md defines the same way for both backends (live
 * altmap ids, frees of blocks the host allocated or of non-RAM pfns, writes outside RAM, a budget that
 * is not reached, no Backing faults); the budget and fault paths are scripted. Known divergences of the
 * twin from docs/core.md are pinned with it.fails below: when the twin is fixed, they flip and fail.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FaultKind, LOOKUP_ALTMAP, NO_ALTMAP, PopulateFlags, Purpose, type AltmapFields, type Core, type CoreConfig } from '../../src/core/core.ts';
import { createTsCore } from '../../src/core/ts/index.ts';
import { createWasmCore } from '../../src/core/wasm.ts';
import { CorePair } from '../fixtures.ts';

const VMEMMAP_4 = 0xffffea0000000000n;
const VMEMMAP_5 = 0xffd4000000000000n;
const PAGE_OFFSET = 0xffff880000000000n;
const SECTION = 32768;
const DEV = 0x400000; // pmem at 16 GiB, 8 sections
const RUNS = Number(process.env.ALTMAP_CORE_DIFF_RUNS ?? 60);

function config(over: Partial<CoreConfig> = {}): CoreConfig {
  return {
    ramRanges: [
      [0x100, 0x20000],
      [0x30000, 0x40000],
    ],
    levels: 4,
    vmemmapStart: VMEMMAP_4,
    pageOffset: PAGE_OFFSET,
    pse: true,
    gbpages: true,
    hostMemoryLimit: 512 << 20,
    eagerMemmap: false,
    debug: false,
    ...over,
  };
}

class Pair extends CorePair {
  readonly altmaps: number[] = [];
  constructor(
    w: Core,
    t: Core,
    readonly cfg: CoreConfig,
  ) {
    super(w, t);
  }


  /** Compare everything observable at once. */
  check(pfns: number[] = []): void {
    expect(this.w.dramStats(), 'dramStats').toEqual(this.t.dramStats());
    for (const id of this.altmaps) expect(this.w.altmapRead(id), `altmap ${id}`).toEqual(this.t.altmapRead(id));
    this.sameTables(this.cfg.levels);
    for (const pfn of pfns) expect(this.w.readPage(pfn), `readPage(${pfn.toString(16)})`).toEqual(this.t.readPage(pfn));
    if (pfns.length) {
      const q = Float64Array.from(pfns);
      const a = new Float64Array(q.length);
      const b = new Float64Array(q.length);
      this.w.vmemmapTranslate(q, a);
      this.t.vmemmapTranslate(q, b);
      expect(Array.from(a), 'vmemmapTranslate').toEqual(Array.from(b));
      this.inspect(pfns);
    }
  }

  /**
   * The inspection calls agree on both cores and with the full walk / readPage: walkLeaf and its levels,
   * walkMany, pfn_to_page and page_to_pfn, the pgmap lookup (pgmapAt, toVmemAltmap and its batch), readPages.
   */
  inspect(pfns: number[]): void {
    const vm = this.cfg.vmemmapStart;
    const vas = pfns.map((p) => vm + 64n * BigInt(p));
    // a direct-map address, a non-canonical one, one inside a struct page, one outside the vmemmap
    const odd = [PAGE_OFFSET + 0x1000n, 0x0100000000000000n, vm + 64n * BigInt(pfns[0]) + 8n, vm - 64n];
    for (const c of [this.w, this.t]) {
      for (const va of [...vas, ...odd]) {
        const full = c.walk(va);
        const phys = c.walkLeaf(va);
        const r = Array.from(c.walkRes());
        const canonical = va < 1n << BigInt(this.cfg.levels === 5 ? 56 : 47) || va >= (1n << 64n) - (1n << BigInt(this.cfg.levels === 5 ? 56 : 47));
        expect(phys, `walkLeaf(${va.toString(16)})`).toBe(!canonical ? -2n : full.mapped ? full.phys : -1n);
        if (!canonical) continue;
        expect(r[0], 'levels read').toBe(full.levels.length);
        expect(r[1], 'leaf size').toBe(full.pageSize);
        expect(BigInt(r[2]), 'root').toBe(full.levels[0].table);
        full.levels.forEach((l, i) => expect(BigInt(r[3 + 2 * i]) | (BigInt(r[4 + 2 * i]) << 52n), `entry ${i}`).toBe(l.entry));
      }
      const out = new BigUint64Array(vas.length + odd.length);
      const all = BigUint64Array.from([...vas, ...odd]);
      expect(c.walkMany(all, out), 'walkMany: first non-canonical').toBe(vas.length + 1);
      all.forEach((va, i) => {
        const w = c.walk(va);
        expect(out[i], `walkMany[${i}]`).toBe(i === vas.length + 1 || !w.mapped ? 0xffffffffffffffffn : w.phys);
      });
      pfns.forEach((p, i) => {
        expect(c.pfnToPage(p)).toBe(vas[i]);
        expect(c.pageToPfn(vas[i])).toBe(p);
        expect(c.toVmemAltmap(vas[i])).toBe(c.pgmapAt(p));
      });
      expect(c.pageToPfn(odd[2]), 'inside a struct page').toBe(-4);
      expect(c.pageToPfn(odd[3]), 'below the vmemmap').toBe(-3);
      expect(c.pageToPfn(odd[0]), 'the direct map').toBe(-3);
      const ids = new Int32Array(all.length);
      expect(c.toVmemAltmapMany(all, ids), 'toVmemAltmapMany: first bad').toBe(vas.length);
      expect(Array.from(ids.subarray(0, vas.length))).toEqual(pfns.map((p) => c.pgmapAt(p)));
      expect(Array.from(ids.subarray(vas.length))).toEqual(odd.map((va) => c.toVmemAltmap(va)));
      // a run of pages from each sampled pfn, against readPage one by one
      for (const p of pfns.slice(0, 4)) {
        const n = 70;
        const words = new BigUint64Array(8 * n).fill(7n);
        const mapped = new Uint8Array(n).fill(7);
        c.readPages(p, n, words, mapped);
        for (let i = 0; i < n; i++) {
          const one = c.readPage(p + i);
          expect(mapped[i], `readPages mapped ${p + i}`).toBe(one ? 1 : 0);
          expect(Array.from(words.subarray(8 * i, 8 * i + 8)), `readPages ${p + i}`).toEqual(one ? Array.from(one) : new Array(8).fill(0n));
        }
      }
    }
    for (const va of [...vas, ...odd]) {
      expect(this.w.walkLeaf(va), `walkLeaf both`).toBe(this.t.walkLeaf(va));
      expect(Array.from(this.w.walkRes()).slice(0, 3 + 2 * this.w.walkRes()[0]), 'walkRes both').toEqual(Array.from(this.t.walkRes()).slice(0, 3 + 2 * this.t.walkRes()[0]));
    }
  }


  /** readPhys of [phys, phys + len) on both. */
  sameBytes(phys: bigint, len: number): void {
    const a = this.w.readPhys(phys, len);
    const b = this.t.readPhys(phys, len);
    if (!bytesEqual(a, b)) expect(diffAt(a, b), `readPhys(${phys.toString(16)}, ${len})`).toBe(-1);
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}
function diffAt(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

async function pair(over: Partial<CoreConfig> = {}): Promise<Pair> {
  const cfg = config(over);
  const p = new Pair(await createWasmCore(), createTsCore(), cfg);
  p.same('init', (c) => c.init(cfg));
  return p;
}

const P16: AltmapFields = { basePfn: BigInt(DEV), reserve: 2n, free: 66046n, align: 0n, alloc: 0n };

/** devm_memremap_pages of P16 in the F flavour: per section populate, zero, init; then the pgmap loop. */
function memremapP16(p: Pair, sections = 8, flags = 0): number {
  const id = p.same('altmapCreate', (c) => c.altmapCreate(P16));
  p.altmaps.push(id);
  for (let k = 0; k < sections; k++) {
    const pfn = DEV + k * SECTION;
    p.same(`populate ${k}`, (c) => c.vmemmapPopulate(pfn, SECTION, id, flags));
    p.same(`zero ${k}`, (c) => c.memmapZero(pfn, SECTION));
    p.same(`init ${k}`, (c) => c.memmapInit(pfn, SECTION, 4, 0));
  }
  p.same('setPgmap', (c) => c.memmapSetPgmap(DEV + 1026, sections * SECTION - 1026, 0xffff880012345600n));
  return id;
}

const SAMPLE = [DEV, DEV + 1, DEV + 1025, DEV + 1026, DEV + 4095, DEV + SECTION - 1, DEV + SECTION, DEV + 3 * SECTION + 77, DEV + 8 * SECTION - 1, DEV + 8 * SECTION];

describe('Wasm core and TypeScript twin, scripted', () => {
  for (const [name, over] of [
    ['4-level, patterns', {}],
    ['4-level, eager memmap', { eagerMemmap: true }],
    ['5-level', { levels: 5 as const, vmemmapStart: VMEMMAP_5 }],
    ['no gbpages', { gbpages: false }],
  ] as Array<[string, Partial<CoreConfig>]>) {
    it(`P16 memremap with an altmap, then teardown through the lookup (${name})`, async () => {
      const p = await pair(over);
      const id = memremapP16(p);
      p.check(SAMPLE);
      p.sameBytes(0x400200000n, 8 * 2 * 1024 * 1024);
      p.same('lookup', (c) => c.setAltmapLookup([{ startPfn: DEV, endPfn: DEV + 8 * SECTION, altmapId: id }]));
      for (let k = 7; k >= 4; k--) p.same(`free ${k}`, (c) => c.vmemmapFree(DEV + k * SECTION, SECTION, LOOKUP_ALTMAP));
      for (let k = 3; k >= 0; k--) p.same(`free ${k}`, (c) => c.vmemmapFree(DEV + k * SECTION, SECTION, id));
      p.check(SAMPLE);
    });
  }

  it('the pgmap lookup: pgmap ids beside altmap ids, find_dev_pagemap and to_vmem_altmap answer from it (P16 and a neighbour without an altmap)', async () => {
    const p = await pair();
    const id = memremapP16(p, 4);
    p.same('lookup', (c) =>
      c.setAltmapLookup([
        { startPfn: DEV + 4 * SECTION, endPfn: DEV + 6 * SECTION, altmapId: -1, pgmapId: 9 },
        { startPfn: DEV, endPfn: DEV + 4 * SECTION, altmapId: id, pgmapId: 3 },
      ]),
    );
    for (const [pfn, pgmap] of [[DEV - 1, -1], [DEV, 3], [DEV + 4 * SECTION - 1, 3], [DEV + 4 * SECTION, 9], [DEV + 6 * SECTION - 1, 9], [DEV + 6 * SECTION, -1]] as const) {
      expect(p.same(`pgmapAt ${pfn.toString(16)}`, (c) => c.pgmapAt(pfn))).toBe(pgmap);
      expect(p.same(`toVmemAltmap ${pfn.toString(16)}`, (c) => c.toVmemAltmap(VMEMMAP_4 + 64n * BigInt(pfn)))).toBe(pgmap);
    }
    p.check(SAMPLE);
    // v4.5's free_pagetable still finds the altmap through the same table
    for (let k = 3; k >= 0; k--) p.same(`free ${k}`, (c) => c.vmemmapFree(DEV + k * SECTION, SECTION, LOOKUP_ALTMAP));
    expect(p.w.altmapRead(id).alloc).toBe(0n);
    p.check(SAMPLE);
  });

  it('map=mem: memmap blocks from DRAM, a failed block falls back to base pages, teardown to DRAM', async () => {
    const p = await pair({ debug: true });
    p.same('fault', (c) => c.setFault(FaultKind.DramAlloc, 6));
    for (let k = 0; k < 4; k++) {
      p.same(`populate ${k}`, (c) => c.vmemmapPopulate(DEV + k * SECTION, SECTION, -1, 0));
      p.same(`init ${k}`, (c) => c.memmapInit(DEV + k * SECTION, SECTION, 2, 1));
    }
    p.check(SAMPLE);
    p.same('free', (c) => c.vmemmapFree(DEV, 4 * SECTION, NO_ALTMAP));
    p.check(SAMPLE);
  });

  it('sub-section pieces: base pages from DRAM and from the altmap, unaligned memmap ranges', async () => {
    const p = await pair();
    const id = p.same('altmapCreate', (c) => c.altmapCreate(P16));
    p.altmaps.push(id);
    p.same('base pages', (c) => c.vmemmapPopulate(DEV + 100, 3000, -1, PopulateFlags.BasePages));
    p.same('base pages from altmap', (c) => c.vmemmapPopulate(DEV + 5000, 9000, id, PopulateFlags.BasePages | PopulateFlags.BasePagesUseAltmap));
    p.same('huge over both', (c) => c.vmemmapPopulate(DEV, 2 * SECTION, id, 0));
    p.same('init', (c) => c.memmapInit(DEV + 37, 40000, 4, 3));
    p.same('pgmap', (c) => c.memmapSetPgmap(DEV + 63, 20001, 0xffff888000001000n));
    p.same('zero', (c) => c.memmapZero(DEV + 6000, 129));
    p.check([...SAMPLE, DEV + 6000, DEV + 6128, DEV + 6129, DEV + 36, DEV + 37, DEV + 40036, DEV + 40037]);
    p.same('lookup', (c) => c.setAltmapLookup([{ startPfn: DEV, endPfn: DEV + 8 * SECTION, altmapId: id }]));
    p.same('free part', (c) => c.vmemmapFree(DEV + 64, 5000, id));
    p.same('free all', (c) => c.vmemmapFree(DEV, 2 * SECTION, LOOKUP_ALTMAP));
    p.check(SAMPLE);
  });

  it('direct map: add and remove ranges with 4 KiB, 2 MiB and 1 GiB pieces', async () => {
    for (const over of [{}, { gbpages: false }, { pse: false }, { levels: 5 as const, vmemmapStart: VMEMMAP_5 }]) {
      const p = await pair({ ramRanges: [[0x100, 0x100000]], ...over });
      p.same('add 1', (c) => c.directMapAdd(0x100, 0x80123));
      p.same('add 2', (c) => c.directMapAdd(0x3ff00, 0x40400));
      p.same('remove 1', (c) => c.directMapRemove(0x40000, 0x40200));
      p.same('remove 2', (c) => c.directMapRemove(0x1f0, 0x3fe00));
      p.check();
      for (const off of [0x100000n, 0x1f0000n, 0x3fe00000n, 0x40000000n, 0x40200000n, 0x80122fffn])
        p.same(`walk ${off.toString(16)}`, (c) => c.walk(PAGE_OFFSET + off));
      p.same('remove all', (c) => c.directMapRemove(0, 0x100000));
      p.check();
    }
  });

  it('debug events: AltmapAlloc and Pmd for every block, on success and failure', async () => {
    const p = await pair({ debug: true });
    const id = p.same('altmapCreate', (c) => c.altmapCreate({ ...P16, free: 2000n }));
    p.altmaps.push(id);
    for (const n of [8, 1, 24, 0, 3]) p.same(`alloc ${n}`, (c) => c.altmapAlloc(id, n));
    for (let k = 0; k < 5; k++) p.same(`populate ${k}`, (c) => c.vmemmapPopulate(DEV + k * SECTION, SECTION, id, 0));
    p.check(SAMPLE);
  });

  it('no PSE: an altmap is refused, base pages otherwise', async () => {
    const p = await pair({ pse: false });
    const id = p.same('altmapCreate', (c) => c.altmapCreate(P16));
    p.altmaps.push(id);
    p.same('populate with altmap', (c) => c.vmemmapPopulate(DEV, SECTION, id, 0));
    p.same('populate', (c) => c.vmemmapPopulate(DEV, SECTION, -1, 0));
    p.check(SAMPLE);
  });

  it('T33: freeing pmem blocks without a lookup entry raises Bug and stops with -EFAULT', async () => {
    const p = await pair();
    memremapP16(p, 3);
    p.same('free', (c) => c.vmemmapFree(DEV, 3 * SECTION, LOOKUP_ALTMAP));
    p.check(SAMPLE);
  });

  it('a tight budget: populate and memmap fail with -ENOMEM at the same step', async () => {
    for (const limit of [1, 2, 3, 4, 5, 6, 40]) {
      const p = await pair({ hostMemoryLimit: limit * 4096 });
      const id = p.same('altmapCreate', (c) => c.altmapCreate(P16));
      p.altmaps.push(id);
      p.same('populate', (c) => c.vmemmapPopulate(DEV, 2 * SECTION, id, 0));
      p.same('populate dram', (c) => c.vmemmapPopulate(DEV + 4 * SECTION, 200, -1, PopulateFlags.BasePages));
      p.same('init', (c) => c.memmapInit(DEV, 2 * SECTION, 4, 0));
      p.same('init unaligned', (c) => c.memmapInit(DEV + 10, 100, 4, 0));
      p.same('directMap', (c) => c.directMapAdd(0x100, 0x1000));
      p.check(SAMPLE);
    }
  });

  it('fault injection on every allocator: the same attempt fails on both', async () => {
    for (const [kind, nth] of [
      [FaultKind.DramAlloc, 1],
      [FaultKind.DramAlloc, 3],
      [FaultKind.AltmapAlloc, 2],
      [FaultKind.Backing, 2],
      [FaultKind.Backing, 4],
    ] as Array<[FaultKind, number]>) {
      const p = await pair();
      const id = p.same('altmapCreate', (c) => c.altmapCreate(P16));
      p.altmaps.push(id);
      p.same('fault', (c) => c.setFault(kind, nth));
      for (let k = 0; k < 3; k++) p.same(`populate ${k}`, (c) => c.vmemmapPopulate(DEV + k * SECTION, SECTION, id, 0));
      p.same('populate dram', (c) => c.vmemmapPopulate(DEV + 5 * SECTION, SECTION, -1, 0));
      p.check(SAMPLE);
    }
  });
});

describe('former divergences of the twin from docs/core.md, now fixed', () => {
  it('memmap: a whole frame that is not backed gets a pattern even when a neighbour is backed (the twin backs the whole run)', async () => {
    const p = await pair();
    const id = p.same('altmapCreate', (c) => c.altmapCreate(P16));
    p.same('populate', (c) => c.vmemmapPopulate(DEV, SECTION, id, 0));
    p.same('init part', (c) => c.memmapInit(DEV + 10, 100, 4, 0));
    p.same('init', (c) => c.memmapInit(DEV, SECTION, 4, 0));
    p.same('backedBytes', (c) => c.backedBytes());
  });

  it('writePhys: on -ENOMEM nothing changes (the twin keeps the frames it backed before the fault)', async () => {
    const p = await pair();
    p.same('fault', (c) => c.setFault(FaultKind.Backing, 2));
    p.same('write', (c) => c.writePhys(0x500000000n, new Uint8Array(3 * 4096)));
    p.same('backedBytes', (c) => c.backedBytes());
  });
});

// ---- random sequences ----
type Op =
  | { op: 'alloc'; order: number; purpose: Purpose }
  | { op: 'free'; pick: number; bogus: boolean }
  | { op: 'altmapCreate'; section: number; reserve: number; free: number }
  | { op: 'altmapAlloc'; pick: number; n: number }
  | { op: 'altmapFree'; pick: number; n: number }
  | { op: 'altmapWrite'; pick: number; field: 'free' | 'align' | 'alloc'; value: number }
  | { op: 'populate'; start: number; n: number; altmap: number; flags: number }
  | { op: 'vfree'; start: number; n: number; altmap: number }
  | { op: 'zero' | 'init' | 'pgmap'; start: number; n: number; arg: number }
  | { op: 'lookup'; picks: number[] }
  | { op: 'dmAdd' | 'dmRemove'; start: number; n: number }
  | { op: 'write'; at: number; len: number; seed: number }
  | { op: 'read'; at: number; len: number }
  | { op: 'walk'; pfn: number; direct: boolean }
  | { op: 'fault'; kind: FaultKind; nth: number };

/** A pfn near the device: section-aligned, 2 MiB-of-memmap aligned, or anywhere. */
const devPfn = fc.oneof(
  fc.integer({ min: 0, max: 8 }).map((s) => DEV + s * SECTION),
  fc.integer({ min: 0, max: 8 * 64 }).map((k) => DEV + k * 512),
  fc.integer({ min: -2000, max: 8 * SECTION + 2000 }).map((x) => DEV + x),
);
const devCount = fc.oneof(
  fc.constant(SECTION),
  fc.integer({ min: 1, max: 3 }).map((k) => k * SECTION),
  fc.integer({ min: 1, max: 40 }).map((k) => k * 64),
  fc.integer({ min: 1, max: 70000 }),
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('alloc' as const), order: fc.oneof(fc.constantFrom(0, 9), fc.integer({ min: 0, max: 11 })), purpose: fc.constantFrom(Purpose.Slab, Purpose.Memmap) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('free' as const), pick: fc.nat(), bogus: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('altmapCreate' as const), section: fc.nat(7), reserve: fc.integer({ min: 0, max: 600 }), free: fc.integer({ min: 0, max: 5000 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('altmapAlloc' as const), pick: fc.nat(), n: fc.constantFrom(0, 1, 3, 8, 24, 512, 1024) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('altmapFree' as const), pick: fc.nat(), n: fc.constantFrom(1, 512, 4096) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('altmapWrite' as const), pick: fc.nat(), field: fc.constantFrom('free' as const, 'align' as const, 'alloc' as const), value: fc.integer({ min: 0, max: 70000 }) }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('populate' as const), start: devPfn, n: devCount, altmap: fc.integer({ min: -1, max: 3 }), flags: fc.constantFrom(0, 0, 0, 1, 3) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('vfree' as const), start: devPfn, n: devCount, altmap: fc.integer({ min: -2, max: 3 }) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constantFrom('zero' as const, 'init' as const, 'pgmap' as const), start: devPfn, n: devCount, arg: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('lookup' as const), picks: fc.array(fc.nat(7), { maxLength: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('dmAdd' as const, 'dmRemove' as const), start: fc.integer({ min: 0, max: 0x40000 }), n: fc.oneof(fc.integer({ min: 1, max: 0x200 }), fc.integer({ min: 1, max: 0x8000 })) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('write' as const), at: fc.integer({ min: 0, max: 0x2000000 }), len: fc.integer({ min: 1, max: 9000 }), seed: fc.nat(255) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('read' as const), at: fc.integer({ min: 0, max: 0x2000000 }), len: fc.integer({ min: 1, max: 9000 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('walk' as const), pfn: fc.oneof(devPfn, fc.integer({ min: 0, max: 0x40000 })), direct: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('fault' as const), kind: fc.constantFrom(FaultKind.DramAlloc, FaultKind.AltmapAlloc), nth: fc.integer({ min: 0, max: 6 }) }) },
);

const machineArb = fc.record({
  levels: fc.constantFrom(4 as const, 5 as const),
  pse: fc.integer({ min: 0, max: 9 }).map((x) => x !== 0),
  gbpages: fc.boolean(),
  eagerMemmap: fc.integer({ min: 0, max: 3 }).map((x) => x === 0),
  debug: fc.boolean(),
});

/** Run one random operation on both cores. */
function runOp(p: Pair, o: Op, blocks: Array<[number, number, Purpose]>): void {
  const live = p.altmaps;
  const pickAltmap = (k: number) => (live.length ? live[k % live.length] : -1);
  switch (o.op) {
    case 'alloc': {
      const pfn = p.same('alloc', (c) => c.allocPages(o.order, o.purpose));
      if (pfn >= 0) blocks.push([pfn, o.order, o.purpose]);
      return;
    }
    case 'free': {
      if (o.bogus || blocks.length === 0) {
        // not RAM: the hole between the ranges, or above them (double frees come with 'free')
        const pfn = o.pick % 2 ? 0x40000 + (o.pick % 0x1000) : 0x20000 + (o.pick % 0x10000);
        p.same('free bogus', (c) => c.freePages(pfn, o.pick % 3, Purpose.Slab));
        return;
      }
      const [pfn, order, purpose] = blocks.splice(o.pick % blocks.length, 1)[0];
      p.same('free', (c) => c.freePages(pfn, order, purpose));
      p.same('double free', (c) => c.freePages(pfn, order, purpose));
      return;
    }
    case 'altmapCreate': {
      const f: AltmapFields = { basePfn: BigInt(DEV + o.section * SECTION), reserve: BigInt(o.reserve), free: BigInt(o.free + 512 * (o.free % 4)), align: 0n, alloc: 0n };
      const id = p.same('altmapCreate', (c) => c.altmapCreate(f));
      if (!live.includes(id)) live.push(id);
      return;
    }
    case 'altmapAlloc':
      if (live.length) p.same('altmapAlloc', (c) => c.altmapAlloc(pickAltmap(o.pick), o.n));
      return;
    case 'altmapFree':
      if (live.length) p.same('altmapFree', (c) => c.altmapFree(pickAltmap(o.pick), o.n));
      return;
    case 'altmapWrite':
      if (live.length) p.same('altmapWrite', (c) => c.altmapWrite(pickAltmap(o.pick), o.field, BigInt(o.value)));
      return;
    case 'populate': {
      const id = o.altmap < 0 || !live.length ? -1 : pickAltmap(o.altmap);
      p.same(`populate ${o.start.toString(16)}+${o.n} altmap ${id} flags ${o.flags}`, (c) => c.vmemmapPopulate(o.start, o.n, id, o.flags));
      return;
    }
    case 'vfree': {
      const id = o.altmap < 0 ? o.altmap : live.length ? pickAltmap(o.altmap) : NO_ALTMAP;
      p.same(`vmemmapFree ${o.start.toString(16)}+${o.n} altmap ${id}`, (c) => c.vmemmapFree(o.start, o.n, id));
      return;
    }
    case 'zero':
      p.same('memmapZero', (c) => c.memmapZero(o.start, o.n));
      return;
    case 'init':
      p.same('memmapInit', (c) => c.memmapInit(o.start, o.n, o.arg % 5, o.arg));
      return;
    case 'pgmap':
      p.same('memmapSetPgmap', (c) => c.memmapSetPgmap(o.start, o.n, 0xffff888000000000n + BigInt(o.arg) * 0x1c0n));
      return;
    case 'lookup': {
      // one entry per distinct device section, each pointing at a live altmap: never overlapping
      const entries = [...new Set(o.picks)].map((s, k) => ({ startPfn: DEV + s * SECTION, endPfn: DEV + (s + 1) * SECTION, altmapId: pickAltmap(k) }));
      if (live.length) p.same('setAltmapLookup', (c) => c.setAltmapLookup(entries));
      return;
    }
    case 'dmAdd':
      p.same('directMapAdd', (c) => c.directMapAdd(o.start, o.start + o.n));
      return;
    case 'dmRemove':
      p.same('directMapRemove', (c) => c.directMapRemove(o.start, o.start + o.n));
      return;
    case 'write': {
      // device memory only (RAM pages are the allocators')
      const data = new Uint8Array(o.len).map((_, i) => (o.seed + i * 13) & 255);
      p.same('writePhys', (c) => c.writePhys(BigInt(DEV) * 4096n + BigInt(o.at), data));
      return;
    }
    case 'read':
      p.sameBytes(BigInt(DEV) * 4096n + BigInt(o.at), o.len);
      return;
    case 'walk': {
      const va = o.direct ? PAGE_OFFSET + BigInt(o.pfn) * 4096n : p.cfg.vmemmapStart + 64n * BigInt(o.pfn);
      p.same('walk', (c) => c.walk(va));
      return;
    }
    case 'fault':
      p.same('setFault', (c) => c.setFault(o.kind, o.nth));
      return;
  }
}

describe('Wasm core and TypeScript twin, random sequences', () => {
  it(`agree on ${RUNS} random operation sequences`, async () => {
    await fc.assert(
      fc.asyncProperty(machineArb, fc.array(opArb, { minLength: 1, maxLength: 40 }), async (m, ops) => {
        const p = await pair({ ...m, vmemmapStart: m.levels === 5 ? VMEMMAP_5 : VMEMMAP_4 });
        const blocks: Array<[number, number, Purpose]> = [];
        for (let i = 0; i < ops.length; i++) {
          runOp(p, ops[i], blocks);
          if (i % 8 === 7) p.check();
        }
        p.check([...SAMPLE, ...ops.flatMap((o) => ('start' in o && o.op !== 'dmAdd' && o.op !== 'dmRemove' ? [o.start, o.start + o.n - 1] : []))]);
        p.sameBytes(BigInt(DEV) * 4096n, 8 * 2 * 1024 * 1024 + 4096);
        p.w.dispose();
        p.t.dispose();
      }),
      { numRuns: RUNS },
    );
  }, 600_000);
});
