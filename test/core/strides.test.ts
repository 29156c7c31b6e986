/**
 * Strided fill patterns (docs/core.md "Strided fill patterns"; assembly/strides.ts): memmap_on_memory's
 * blocks, each hosting its own memmap at its head (an altmap per block, base = block start, free 512),
 * initialised by memmapWriteEvery as mhp_init_memmap_on_memory (each block's first 512 struct pages) and
 * move_pfn_range_to_zone (the other 32256) do: one stride record a call instead of a plain pattern a
 * block. Each path is held to the single steps (a fault armed that never fires forces them: the
 * AltmapAlloc fault, armed after the populate), on both backends, and the backends to each other.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FaultKind, Purpose, type Core, type MemmapOp } from '../../src/core/core.ts';
import { CORE_BACKENDS, coreConfig } from '../fixtures.ts';

/** Blocks from pfn 2^25 (128 GiB), above the 64 GiB of RAM coreConfig gives. */
const DEV = 0x2000000;
/** A 128 MiB memory block (probe_memory_block_size on a guest) and its memmap: 512 pfns, 8 frames of struct pages. */
const BLOCK = 32768;
const MEMMAP = 512;
const VMEMMAP = 0xffffea0000000000n;

/** The Core with the two diagnostics both backends have. */
type Diag = Core & { patternCount(): number; strideCount(): number };

/** __init_single_page's shape: flags (zone, node, PG_reserved), _refcount 1, _mapcount -1, lru at itself. */
const initOp = (zone: number): MemmapOp => ({ words: [(BigInt(zone) << 55n) | (1n << 10n), 0n, 0n, 0x1ffffffffn, 32n, 32n, 0n, 0n], mask: 0xff, self: 0x30 });
const INIT = initOp(2);
const ONLINE = initOp(3);
const PGMAP = 0xffff888123456000n;
/** A partial op that leaves the self-relative words as they are: page->flags and _refcount/_mapcount. */
const FLAGS: MemmapOp = { words: [0x4000000000000400n, 0n, 0n, 0x2ffffffffn, 0n, 0n, 0n, 0n], mask: 0x09, self: 0 };

/** n blocks from DEV, each with its memmap at its head; `perStep` arms the fault that forces the single steps. */
async function machine(make: () => Promise<Core>, blocks: number, perStep: boolean, blockPages = BLOCK): Promise<{ c: Diag; ids: number[] }> {
  const c = (await make()) as Diag;
  expect(c.init(coreConfig())).toBe(0);
  const ids: number[] = [];
  for (let i = 0; i < blocks; i++) {
    const b = DEV + i * blockPages;
    const id = c.altmapCreate({ basePfn: BigInt(b), reserve: 0n, free: BigInt(blockPages / 64), align: 0n, alloc: 0n });
    expect(id).toBeGreaterThanOrEqual(0);
    expect(c.vmemmapPopulate(b, blockPages, id, 0)).toBe(0);
    ids.push(id);
  }
  if (perStep) c.setFault(FaultKind.AltmapAlloc, 1 << 30);
  return { c, ids };
}

/** mhp_init_memmap_on_memory then online, for blocks [from, from + n), as src/kernel/memmap.ts initEvery calls them. */
function hotAdd(c: Core, from: number, n: number, blockPages = BLOCK, init = INIT, online = ONLINE): void {
  const memmap = blockPages / 64;
  const s = DEV + from * blockPages;
  expect(c.memmapWriteEvery(s, s + (n - 1) * blockPages + memmap, blockPages, memmap, init)).toBe(0);
  expect(c.memmapWriteEvery(s + memmap, s + n * blockPages, blockPages, blockPages - memmap, online)).toBe(0);
}

/** Struct pages to read in block i: its first and last, frame and period boundaries of its memmap. */
function samplePfns(blocks: number, blockPages = BLOCK): number[] {
  const memmap = blockPages / 64;
  const out: number[] = [];
  const which = [...new Set([0, 1, 2, 3, Math.floor(blocks / 2), blocks - 2, blocks - 1].filter((i) => i >= 0 && i < blocks))];
  for (const i of which) {
    const b = DEV + i * blockPages;
    for (const k of [0, 1, 63, 64, memmap - 1, memmap, memmap + 1, 4095, 4096, blockPages / 2, blockPages - 64, blockPages - 1]) out.push(b + k);
  }
  return out;
}

/** What a read of the machine shows: sampled struct pages (readPage and readPages), head frames' bytes, DRAM. */
function observe(c: Core, blocks: number, blockPages = BLOCK) {
  const memmap = blockPages / 64;
  const pfns = samplePfns(blocks, blockPages);
  const words = new BigUint64Array(8 * 130);
  const mapped = new Uint8Array(130);
  const runs: string[] = [];
  for (const i of [0, 3, blocks - 1]) {
    // 130 pages across a frame boundary of the memmap and into the pages it describes
    c.readPages(DEV + i * blockPages + memmap - 65, 130, words, mapped);
    runs.push(Array.from(words, (w) => w.toString(16)).join(',') + Array.from(mapped).join(''));
  }
  // every byte of the sampled blocks' memmaps (and the first page after), as a digest a block
  const frames: string[] = [];
  for (const i of new Set([0, 1, 2, 3, 4, 5, 6, 8, 9, blocks - 1].filter((k) => k < blocks))) {
    const h = createHash('sha256');
    for (let f = 0; f <= memmap; f += 64) h.update(c.readPhys(BigInt(DEV + i * blockPages + f) * 4096n, Math.min(64, memmap + 1 - f) * 4096));
    frames.push(h.digest('hex'));
  }
  return { pages: pfns.map((p) => c.readPage(p)), runs, frames, dram: c.dramStats(), failures: c.hostFailures() };
}

describe.each(CORE_BACKENDS)('strided fill patterns (%s)', (_name, make) => {
  it.each([
    [64, 128],
    [4096, 8192],
  ])('memmap_on_memory: %d blocks of 128 MiB, init + online: the single steps\' struct pages and frames; 2 stride records and no plain pattern (the single steps: %d)', async (n, plain) => {
    const { c } = await machine(make, n, false);
    const { c: ref } = await machine(make, n, true);
    const pats = c.patternCount();
    const host = c.backedBytes();
    hotAdd(c, 0, n);
    hotAdd(ref, 0, n);
    expect(observe(c, n)).toEqual(observe(ref, n));
    // O(1) in the blocks: two records, not a pattern a block and op
    expect(c.strideCount()).toBe(2);
    expect(c.patternCount() - pats).toBe(0);
    expect(ref.strideCount()).toBe(0);
    expect(ref.patternCount() - pats).toBe(plain);
    expect(c.backedBytes()).toBe(host);
    expect(ref.backedBytes()).toBe(host);
    // block 3's struct page 600 (online, zone 3) and 5 (its own memmap, zone 2): lru points at itself
    const p = c.readPage(DEV + 3 * BLOCK + 600)!;
    expect(p[0]).toBe((3n << 55n) | (1n << 10n));
    expect(p[4]).toBe(VMEMMAP + 64n * BigInt(DEV + 3 * BLOCK + 600) + 32n);
    expect(c.readPage(DEV + 3 * BLOCK + 5)![0]).toBe((2n << 55n) | (1n << 10n));
  });

  it('256 MiB blocks (1024 memmap pfns, two 2 MiB leaves a block, one contiguous run): 2 records, the single steps\' content', async () => {
    const big = 2 * BLOCK;
    const { c } = await machine(make, 40, false, big);
    const { c: ref } = await machine(make, 40, true, big);
    const pats = c.patternCount();
    hotAdd(c, 0, 40, big);
    hotAdd(ref, 0, 40, big);
    expect(observe(c, 40, big)).toEqual(observe(ref, 40, big));
    expect(c.strideCount()).toBe(2);
    expect(c.patternCount()).toBe(pats);
    expect(ref.patternCount() - pats).toBe(80);
  });

  it('blocks hot-added run by run (10, then 1, then 21): the later calls continue the records', async () => {
    const { c } = await machine(make, 32, false);
    const { c: ref } = await machine(make, 32, true);
    for (const x of [c, ref]) {
      hotAdd(x, 0, 10);
      hotAdd(x, 10, 1);
      hotAdd(x, 11, 21);
    }
    expect(observe(c, 32)).toEqual(observe(ref, 32));
    expect(c.strideCount()).toBe(2);
  });

  it('the blocks initialised again (other zones, then memmapZero over the onlined parts): the records are replaced, not split; the single steps\' content', async () => {
    const { c } = await machine(make, 64, false);
    const { c: ref } = await machine(make, 64, true);
    const pats = c.patternCount();
    for (const x of [c, ref]) {
      hotAdd(x, 0, 64);
      hotAdd(x, 0, 64, BLOCK, initOp(1), initOp(0));
    }
    expect(observe(c, 64)).toEqual(observe(ref, 64));
    expect(c.strideCount()).toBe(2);
    expect(c.patternCount()).toBe(pats);
    // the online parts of blocks 10..39 zeroed: the online record keeps blocks 0..9 and 40..63
    const zero: MemmapOp = { words: [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n], mask: 0xff, self: 0 };
    for (const x of [c, ref]) expect(x.memmapWriteEvery(DEV + 10 * BLOCK + MEMMAP, DEV + 40 * BLOCK, BLOCK, BLOCK - MEMMAP, zero)).toBe(0);
    expect(observe(c, 64)).toEqual(observe(ref, 64));
    expect(c.strideCount()).toBe(3);
    expect(c.patternCount()).toBe(pats);
    expect(c.readPage(DEV + 20 * BLOCK + 1000)).toEqual(new BigUint64Array(8));
    expect(c.backedBytes()).toBe(ref.backedBytes());
  });

  it('writes over stride-covered frames: a partial op (memmapSetPgmap) in block 3 and across blocks 3-4, a full op, physical writes, a block freed, the blocks re-onlined: the single steps byte for byte', async () => {
    const n = 64;
    const { c, ids } = await machine(make, n, false);
    const { c: ref, ids: refIds } = await machine(make, n, true);
    hotAdd(c, 0, n);
    hotAdd(ref, 0, n);
    const b = (i: number) => DEV + i * BLOCK;
    const steps: Array<[string, (x: Core, id: number[]) => number]> = [
      ['memmapSetPgmap in block 3', (x) => x.memmapSetPgmap(b(3) + 100, 300, PGMAP)],
      ['memmapSetPgmap over blocks 3-4', (x) => x.memmapSetPgmap(b(3) + 30000, 8000, PGMAP + 0x40n)],
      ['a partial op keeping the self-relative lru (flags and _refcount) over blocks 2-3', (x) => x.memmapWrite(b(2) + 32000, 2000, FLAGS)],
      ['memmapInit in block 5 (a full op)', (x) => x.memmapInit(b(5) + 512, 4096, 1, 0)],
      ['memmapInit over block 5\'s memmap pages', (x) => x.memmapInit(b(5), 200, 1, 0)],
      ['writePhys into block 6\'s memmap', (x) => x.writePhys(BigInt(b(6) + 3) * 4096n + 128n, new Uint8Array(100).map((_, i) => i + 1))],
      ['vmemmapFree of block 7', (x, id) => x.vmemmapFree(b(7), BLOCK, id[7])],
      [
        'block 8\'s memmap frames as DRAM of node 1, 3 pages of it allocated (discarded)',
        (x) => {
          expect(x.dramAddRange(b(8), b(8) + MEMMAP, 1, false)).toBe(0);
          expect(x.setZonelist([1])).toBe(0);
          for (let k = 0; k < 3; k++) expect(x.allocPages(0, Purpose.Slab)).toBe(b(8) + k);
          return 0;
        },
      ],
      ['re-online every block (zone 1)', (x) => x.memmapWriteEvery(b(0) + MEMMAP, b(n), BLOCK, BLOCK - MEMMAP, initOp(1))],
    ];
    for (const [what, op] of steps) {
      expect(op(c, ids), what).toBe(0);
      expect(op(ref, refIds), what).toBe(0);
      expect(observe(c, n), what).toEqual(observe(ref, n));
      expect(c.backedBytes(), what).toBe(ref.backedBytes());
      expect(c.takeEvents(), what).toEqual(ref.takeEvents());
    }
    // block 7's struct pages are unmapped; block 8's first 3 memmap frames read as zero, the 4th as before
    expect(c.readPage(b(7) + 600)).toBeNull();
    expect(c.readPhys(BigInt(b(8) + 2) * 4096n, 4096).every((x) => x === 0)).toBe(true);
    expect(c.readPage(b(8) + 3 * 64)![0]).toBe((2n << 55n) | (1n << 10n));
    // block 5's first 200 struct pages are zone 1 now
    expect(c.readPage(b(5) + 100)![0]).toBe((1n << 55n) | (1n << 10n));
    expect(c.readPage(b(3) + 150)![4]).toBe(PGMAP);
  });

  it('property: random sequences of hot-adds, partial and full ops, physical writes, vmemmap frees and discards (allocations) match the single steps', async () => {
    const n = 12;
    const op = fc.oneof(
      fc.record({ k: fc.constant('add' as const), from: fc.nat(n - 1), len: fc.integer({ min: 1, max: n }), zone: fc.nat(3) }),
      fc.record({ k: fc.constant('pgmap' as const), blk: fc.nat(n - 1), off: fc.nat(BLOCK + 600), len: fc.integer({ min: 1, max: 5000 }) }),
      fc.record({ k: fc.constant('flags' as const), blk: fc.nat(n - 1), off: fc.nat(BLOCK + 600), len: fc.integer({ min: 1, max: 5000 }) }),
      fc.record({ k: fc.constant('init' as const), blk: fc.nat(n - 1), off: fc.nat(BLOCK + 600), len: fc.integer({ min: 1, max: 5000 }), zone: fc.nat(3) }),
      fc.record({ k: fc.constant('phys' as const), blk: fc.nat(n - 1), frame: fc.nat(MEMMAP + 4), off: fc.nat(4000), byte: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ k: fc.constant('free' as const), blk: fc.nat(n - 1) }),
      fc.record({ k: fc.constant('alloc' as const), blk: fc.nat(n - 1), pages: fc.integer({ min: 1, max: 20 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 6 }), async (ops) => {
        const { c, ids } = await machine(make, n, false);
        const { c: ref, ids: refIds } = await machine(make, n, true);
        const freed = new Set<number>();
        const dram = new Set<number>();
        for (const o of ops) {
          for (const [x, id] of [
            [c, ids],
            [ref, refIds],
          ] as const) {
            const b = DEV + ('blk' in o ? o.blk : 0) * BLOCK;
            if (o.k === 'add') {
              const len = Math.min(o.len, n - o.from);
              hotAdd(x, o.from, len, BLOCK, initOp(o.zone), initOp((o.zone + 1) & 3));
            } else if (o.k === 'pgmap') expect(x.memmapSetPgmap(b + o.off, o.len, PGMAP)).toBe(0);
            else if (o.k === 'flags') expect(x.memmapWrite(b + o.off, o.len, FLAGS)).toBe(0);
            else if (o.k === 'init') expect(x.memmapInit(b + o.off, o.len, o.zone, 0)).toBe(0);
            else if (o.k === 'phys') expect(x.writePhys(BigInt(b + o.frame) * 4096n + BigInt(o.off), new Uint8Array(40).fill(o.byte))).toBe(0);
            else if (o.k === 'alloc') {
              // the block's memmap frames as DRAM of node 1: allocations take them lowest first (a discard each)
              if (!dram.has(o.blk)) expect(x.dramAddRange(b, b + MEMMAP, 1, false)).toBe(0);
              expect(x.setZonelist([1])).toBe(0);
              for (let k = 0; k < o.pages; k++) x.allocPages(0, Purpose.Slab);
            } else if (!freed.has(o.blk)) expect(x.vmemmapFree(b, BLOCK, id[o.blk])).toBe(0);
          }
          if (o.k === 'free') freed.add(o.blk);
          if (o.k === 'alloc') dram.add(o.blk);
        }
        expect(observe(c, n)).toEqual(observe(ref, n));
        expect(c.backedBytes()).toBe(ref.backedBytes());
      }),
      { seed: 0x5717de, numRuns: 25 },
    );
  }, 120_000);
});

describe('strided fill patterns: Wasm and TS cores agree', () => {
  it('memmap_on_memory, 64 blocks, then a partial op, a full op and a free: the same struct pages, frames and host bytes', async () => {
    const [w, t] = await Promise.all(CORE_BACKENDS.map(async ([, make]) => machine(make, 64, false)));
    const b = (i: number) => DEV + i * BLOCK;
    for (const { c, ids } of [w, t]) {
      hotAdd(c, 0, 64);
      expect(c.memmapSetPgmap(b(9) + 10, 1000, PGMAP)).toBe(0);
      expect(c.memmapInit(b(9) + 520, 3000, 1, 0)).toBe(0);
      expect(c.vmemmapFree(b(2), BLOCK, ids[2])).toBe(0);
    }
    expect(observe(t.c, 64)).toEqual(observe(w.c, 64));
    expect(t.c.backedBytes()).toBe(w.c.backedBytes());
    // the whole-frame cuts of block 9 split each record once; what lies under a backed frame may differ
    // (the TS twin patterns the unbacked runs between backed frames, the Wasm core the whole range)
    expect(w.c.strideCount()).toBe(4);
    expect(t.c.strideCount()).toBe(5);
  });
});
