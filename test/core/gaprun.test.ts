/**
 * Gapped runs of memory blocks (issue 15 part 4, "fast at any size"): dramAddRanges(b0 + gap, 2^k - gap,
 * count, 2^k) with the gap whole 2 MiB blocks (memmap_on_memory: each 128 MiB block's first 512 pages hold
 * its own memmap) is one record, and must behave exactly as `count` dramAddRange calls. The reference is
 * those calls, on both cores; every step compares results, events and dramStats (per node too) of all four.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALLOC_MOVABLE, EBUSY, EFAULT, EINVAL, ENOMEM, EventType, PURPOSES, Purpose, type Core } from '../../src/core/core.ts';
import { CORE_BACKENDS, coreConfig } from '../fixtures.ts';

/** A memory block of 128 MiB and its memmap (memmap_on_memory): 512 pages, one 2 MiB block. */
const B = 0x8000;
const GAP = 512;
/** The run starts at 16 GiB. */
const S = 0x400000;
const N = 24;

/** The gapped run on both backends, and the same ranges added one dramAddRange each on both. */
class Four {
  constructor(
    readonly run: Core[],
    readonly each: Core[],
  ) {}

  static async make(n = N, node = 0, movable = true): Promise<Four> {
    const make = async () => Promise.all(CORE_BACKENDS.map(async ([, m]) => m()));
    const f = new Four(await make(), await make());
    for (const c of [...f.run, ...f.each]) expect(c.init(coreConfig({ ramRanges: [[0x100, 0x10000]] }))).toBe(0);
    for (const c of f.run) expect(c.dramAddRanges(S + GAP, B - GAP, n, B, node, movable)).toBe(0);
    for (const c of f.each) for (let i = 0; i < n; i++) expect(c.dramAddRange(S + i * B + GAP, S + (i + 1) * B, node, movable)).toBe(0);
    f.all('init', () => 0);
    return f;
  }

  /** f on all four: the same result, events and dramStats (byNode included). */
  all<T>(what: string, f: (c: Core) => T): T {
    const cores = [...this.run, ...this.each];
    const res = cores.map(f);
    const ev = cores.map((c) => c.takeEvents());
    const st = cores.map((c) => c.dramStats());
    for (let i = 1; i < 4; i++) {
      expect(res[i], `${what}: result (core ${i})`).toEqual(res[0]);
      expect(ev[i], `${what}: events (core ${i})`).toEqual(ev[0]);
      expect(st[i], `${what}: dramStats (core ${i})`).toEqual(st[0]);
    }
    this.lastEvents = ev[0];
    return res[0];
  }

  lastEvents: unknown[] = [];
}

describe('a gapped run of memory blocks (dramAddRanges, memmap_on_memory): one record, the semantics of one range per block', () => {
  it('24 blocks of 128 MiB at 16 GiB, each less its 512-page memmap: allocations, gap frees (-EFAULT, Bug), runs, removals, re-adds and ranges into gaps as 24 dramAddRange calls, Wasm and TS', async () => {
    const f = await Four.make();
    expect(f.all('stats', (c) => c.dramStats().byNode[0].totalPages)).toBe(0x10000 - 0x100 + N * (B - GAP));
    // a block holds 32256 pages from b + 512: no order 15 (it comes from ZONE_NORMAL's boot RAM), order 14 at b + 0x4000, then the lowest pages
    expect(f.all('order 15', (c) => c.allocPages(15, Purpose.HugeTlb, ALLOC_MOVABLE))).toBe(0x8000);
    expect(f.all('order 15 again', (c) => c.allocPages(15, Purpose.HugeTlb, ALLOC_MOVABLE))).toBe(ENOMEM);
    expect(f.all('order 14', (c) => c.allocPages(14, Purpose.HugeTlb, ALLOC_MOVABLE))).toBe(S + 0x4000);
    expect(f.all('order 13', (c) => c.allocPages(13, Purpose.HugeTlb, ALLOC_MOVABLE))).toBe(S + 0x2000);
    expect(f.all('order 9', (c) => c.allocPages(9, Purpose.Slab, ALLOC_MOVABLE))).toBe(S + GAP);
    expect(f.all('order 12', (c) => c.allocPages(12, Purpose.HugeTlb, ALLOC_MOVABLE))).toBe(S + 0x1000);
    expect(f.all('order 11', (c) => c.allocPages(11, Purpose.HugeTlb, ALLOC_MOVABLE))).toBe(S + 0x800);
    expect(f.all('order 10', (c) => c.allocPages(10, Purpose.HugeTlb, ALLOC_MOVABLE))).toBe(S + 0x400);
    // block 0 is full: block 1 past its gap
    expect(f.all('order 0', (c) => c.allocPages(0, Purpose.Slab, ALLOC_MOVABLE))).toBe(S + B + GAP);
    // a kernel (not movable) allocation does not come from ZONE_MOVABLE
    expect(f.all('normal', (c) => c.allocPages(9, Purpose.PageTable, 0))).toBe(0x200);
    // gap pages are no allocated DRAM: -EFAULT and a Bug event, nothing changes
    expect(f.all('free gap', (c) => c.freePages(S + 2 * B, 0, Purpose.Slab))).toBe(EFAULT);
    expect(f.lastEvents).toHaveLength(1);
    expect((f.lastEvents[0] as { type: EventType }).type).toBe(EventType.Bug);
    expect(f.all('free gap 9', (c) => c.freePages(S + B, 9, Purpose.Slab))).toBe(EFAULT);
    expect(f.all('free into gap', (c) => c.freePages(S + B + GAP - 512, 10, Purpose.Slab))).toBe(EFAULT);
    expect(f.all('free across', (c) => c.freePages(S + B - 512, 10, Purpose.HugeTlb))).toBe(EFAULT);
    // a run may not cross into the next block (nor its gap)
    expect(f.all('run across', (c) => c.allocPagesRun(9, 63, Purpose.Memmap, ALLOC_MOVABLE))).toBe(-1);
    expect(f.all('run inside', (c) => c.allocPagesRun(9, 62, Purpose.Memmap, ALLOC_MOVABLE))).toBe(S + B + 1024);
    expect(f.all('free in run', (c) => c.freePages(S + B + 1024, 9, Purpose.Memmap))).toBe(0);
    expect(f.all('free 14', (c) => c.freePages(S + 0x4000, 14, Purpose.HugeTlb))).toBe(0);
    // removals: a free block (its range, not its block), a busy one, a half, the block with its gap
    expect(f.all('remove 5', (c) => c.dramRemoveRange(S + 5 * B + GAP, S + 6 * B))).toBe(0);
    expect(f.all('remove busy', (c) => c.dramRemoveRange(S + B + GAP, S + 2 * B))).toBe(EBUSY);
    expect(f.all('remove half', (c) => c.dramRemoveRange(S + 7 * B + GAP, S + 7 * B + B / 2))).toBe(EINVAL);
    expect(f.all('remove with gap', (c) => c.dramRemoveRange(S + 7 * B, S + 8 * B))).toBe(EINVAL);
    expect(f.all('removes with gaps', (c) => c.dramRemoveRanges(S + 7 * B, B, 2, B))).toBe(EINVAL);
    expect(f.all('removes with gaps, one', (c) => c.dramRemoveRanges(S + 7 * B, B, 1, B))).toBe(EINVAL);
    expect(f.all('removes over the hole', (c) => c.dramRemoveRanges(S + 4 * B + GAP, B - GAP, 3, B))).toBe(EINVAL);
    expect(f.all('removes busy', (c) => c.dramRemoveRanges(S + GAP, B - GAP, 4, B))).toBe(EBUSY);
    expect(f.all('removes other geometry', (c) => c.dramRemoveRanges(S + 8 * B + GAP, B - GAP - 512, 3, B))).toBe(EINVAL);
    // a range into a gap (block 9's memmap pages) and a strided one into three gaps: the blocks open up
    expect(f.all('add into gap', (c) => c.dramAddRange(S + 9 * B, S + 9 * B + GAP, 1, false))).toBe(0);
    // a range from below the run into block 0's gap, and one over a gap into a block's pages
    expect(f.all('add below into gap', (c) => c.dramAddRange(S - 256, S + 256, 2, false))).toBe(0);
    expect(f.all('add over gap', (c) => c.dramAddRange(S + 10 * B, S + 10 * B + GAP + 1, 1, false))).toBe(EINVAL);
    expect(f.all('adds into a gap', (c) => c.dramAddRanges(S + 12 * B, 128, 3, 128, 1, false))).toBe(0);
    // a span over ranges held (blocks 12, 13) is refused, though each range would sit in a gap
    expect(f.all('adds over ranges', (c) => c.dramAddRanges(S + 12 * B + 384, 64, 3, B, 1, false))).toBe(EINVAL);
    expect(f.all('set zonelist', (c) => c.setZonelist([1, 0]))).toBe(0);
    expect(f.all('alloc in gap range', (c) => c.allocPages(9, Purpose.Slab, 0))).toBe(S + 9 * B);
    expect(f.all('alloc in gap range 2', (c) => c.allocPages(7, Purpose.Slab, 0))).toBe(S + 12 * B);
    expect(f.all('alloc in gap range 3', (c) => c.allocPages(8, Purpose.Slab, 0))).toBe(0x400);
    expect(f.all('removes gap ranges busy', (c) => c.dramRemoveRanges(S + 12 * B, 128, 3, 128))).toBe(EBUSY);
    expect(f.all('free', (c) => c.freePages(S + 12 * B, 7, Purpose.Slab))).toBe(0);
    expect(f.all('removes gap ranges', (c) => c.dramRemoveRanges(S + 12 * B, 128, 3, 128))).toBe(0);
    expect(f.all('blocks 12..14 still held', (c) => c.allocPages(14, Purpose.HugeTlb, ALLOC_MOVABLE))).toBe(S + 0x4000);
    // back in, then blocks 3..23 at once (across the record block 5 is now, and the opened 9, 12..14)
    expect(f.all('re-add 5', (c) => c.dramAddRange(S + 5 * B + GAP, S + 6 * B, 0, true))).toBe(0);
    expect(f.all('alloc 14', (c) => c.allocPages(14, Purpose.HugeTlb, ALLOC_MOVABLE))).toBe(S + 2 * B + 0x4000);
    expect(f.all('removes busy 2', (c) => c.dramRemoveRanges(S + GAP, B - GAP, 24, B))).toBe(EBUSY);
    expect(f.all('removes 3..23', (c) => c.dramRemoveRanges(S + 3 * B + GAP, B - GAP, 21, B))).toBe(0);
    // block 9's gap range (node 1) is inside the span of 3..23: refused; 3..8 is not
    expect(f.all('re-adds 3..23', (c) => c.dramAddRanges(S + 3 * B + GAP, B - GAP, 21, B, 0, true))).toBe(EINVAL);
    expect(f.all('re-adds 3..8', (c) => c.dramAddRanges(S + 3 * B + GAP, B - GAP, 6, B, 0, true))).toBe(0);
    expect(f.all('alloc 13 again', (c) => c.allocPages(13, Purpose.HugeTlb, ALLOC_MOVABLE))).toBe(S + 2 * B + 0x2000);
    expect(f.all('stats', (c) => c.dramStats().byNode[0].freePages)).toBe(f.run[0].dramStats().byNode[0].totalPages - f.run[0].dramStats().byNode[0].byPurpose.reduce((a, b) => a + b, 0));
  });

  it('random allocations, frees (gap pfns too), runs, removals, re-adds and adds into gaps on a gapped run of 40 blocks agree with 40 ranges, both cores (fast-check, seed 15)', async () => {
    const op = fc.oneof(
      { weight: 6, arbitrary: fc.record({ k: fc.constant('alloc' as const), order: fc.integer({ min: 0, max: 9 }), big: fc.constantFrom(0, 0, 0, 13, 14, 15), purpose: fc.integer({ min: 0, max: PURPOSES - 1 }), movable: fc.boolean() }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('run' as const), order: fc.constantFrom(0, 3, 9), count: fc.constantFrom(1, 7, 62, 63, 200), movable: fc.boolean() }) },
      { weight: 4, arbitrary: fc.record({ k: fc.constant('free' as const), i: fc.nat(), bad: fc.constantFrom(0, 0, 0, 1, 2) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('remove' as const), b: fc.integer({ min: 0, max: 39 }) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('removes' as const), b: fc.integer({ min: 0, max: 39 }), count: fc.integer({ min: 1, max: 12 }), wide: fc.constantFrom(false, false, true) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('readd' as const), b: fc.integer({ min: 0, max: 39 }), count: fc.integer({ min: 1, max: 12 }) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('gapadd' as const), b: fc.integer({ min: 0, max: 39 }), count: fc.integer({ min: 1, max: 3 }), len: fc.constantFrom(1, 256, 512, 513), off: fc.constantFrom(0, 0, 100, 512) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('zl' as const), zl: fc.constantFrom([0], [1, 0], [0, 1]) }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) => {
        const f = await Four.make(40);
        const live: Array<[number, number, number]> = [];
        for (const o of ops) {
          const what = JSON.stringify(o);
          if (o.k === 'alloc') {
            const order = o.big || o.order;
            const got = f.all(what, (c) => c.allocPages(order, o.purpose, o.movable ? ALLOC_MOVABLE : 0));
            if (got >= 0) live.push([got, order, o.purpose]);
          } else if (o.k === 'run') {
            const got = f.all(what, (c) => c.allocPagesRun(o.order, o.count, Purpose.Memmap, o.movable ? ALLOC_MOVABLE : 0));
            if (got >= 0) for (let i = 0; i < o.count; i++) live.push([got + i * 2 ** o.order, o.order, Purpose.Memmap]);
          } else if (o.k === 'free') {
            // a live block, a gap pfn, or a live one twice
            const gapPfn: [number, number, number] = [S + (o.i % 40) * B + (o.i % GAP), o.i % 3, 0];
            const pick = o.bad === 1 || !live.length ? gapPfn : o.bad === 0 ? live.splice(o.i % live.length, 1)[0] : live[o.i % live.length];
            const got = f.all(what, (c) => c.freePages(pick[0], pick[1], pick[2]));
            if (o.bad === 1 || (!live.length && o.bad !== 0)) expect(got, what).toBe(EFAULT);
            if (o.bad === 2 && got === 0) live.splice(live.findIndex(([q, r]) => q === pick[0] && r === pick[1]), 1);
          } else if (o.k === 'remove') {
            f.all(what, (c) => c.dramRemoveRange(S + o.b * B + GAP, S + (o.b + 1) * B));
          } else if (o.k === 'removes') {
            // wide: the blocks with their gaps, which are no ranges
            f.all(what, (c) => c.dramRemoveRanges(S + o.b * B + (o.wide ? 0 : GAP), o.wide ? B : B - GAP, Math.min(o.count, 40 - o.b), B));
          } else if (o.k === 'readd') {
            f.all(what, (c) => c.dramAddRanges(S + o.b * B + GAP, B - GAP, Math.min(o.count, 40 - o.b), B, 0, true));
          } else if (o.k === 'gapadd') {
            f.all(what, (c) => c.dramAddRanges(S + o.b * B - o.off, o.len, Math.min(o.count, 40 - o.b), B, 1, false));
          } else {
            f.all(what, (c) => c.setZonelist(o.zl));
          }
        }
      }),
      { numRuns: 40, seed: 15 },
    );
  }, 120_000);

  it('dramHostBytes: 4096 gapped blocks of 128 MiB (512 GiB) cost one 4 KiB chunk table, as 64 do (Wasm; TS counts 4 B a chunk); a gap of 511 pages (no whole 2 MiB block) is still a record a block', async () => {
    for (const [name, make] of CORE_BACKENDS) {
      const sizes: number[] = [];
      for (const n of [64, 4096]) {
        const c = await make();
        expect(c.init(coreConfig({ ramRanges: [[0x100, 0x10000]] }))).toBe(0);
        const before = c.dramHostBytes();
        expect(c.dramAddRanges(S + GAP, B - GAP, n, B, 1, true), name).toBe(0);
        sizes.push(c.dramHostBytes() - before);
        expect(c.dramStats().byNode[1].totalPages, name).toBe(n * (B - GAP));
        // the last block's last page, and none past it
        expect(c.setZonelist([1, 0])).toBe(0);
        expect(c.allocPagesRun(0, B - GAP, Purpose.Slab, ALLOC_MOVABLE), name).toBe(S + GAP);
      }
      if (name === 'wasm') expect(sizes[1], name).toBe(sizes[0]);
      expect(sizes[1], name).toBeLessThanOrEqual(4096);
      const c = await make();
      expect(c.init(coreConfig({ ramRanges: [[0x100, 0x10000]] }))).toBe(0);
      const before = c.dramHostBytes();
      expect(c.dramAddRanges(S + 511, B - 511, 4096, B, 1, true), name).toBe(0);
      expect(c.dramHostBytes() - before, name).toBeGreaterThanOrEqual(4096 * (name === 'wasm' ? 64 : 4));
    }
  });
});
