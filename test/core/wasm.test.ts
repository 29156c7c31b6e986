/**
 * The Wasm core alone, through the Core interface, with the numbers of kernel.md and docs/core.md.
 * (test/core/diff.test.ts holds it to the TypeScript twin byte for byte.)
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CoreTrap, EventType, FaultKind, LOOKUP_ALTMAP, NO_ALTMAP, PopulateFlags, Purpose, type Core, type CoreConfig } from '../../src/core/core.ts';
import { createWasmCore, type WasmCoreDiagnostics } from '../../src/core/wasm.ts';
import { createTsCore } from '../../src/core/ts/index.ts';
import { initPageOp, STRUCT_PAGE_LAYOUTS } from '../../src/core/structPage.ts';

const VMEMMAP_START = 0xffffea0000000000n;
const PAGE_OFFSET = 0xffff880000000000n;
const NX = 1n << 63n;
const U64_MAX = (1n << 64n) - 1n;
const SECTION = 32768;
const MiB = 1 << 20;

function config(over: Partial<CoreConfig> = {}): CoreConfig {
  return {
    ramRanges: [[0x100, 0x400000]], // 1 MiB .. 16 GiB
    levels: 4,
    vmemmapStart: VMEMMAP_START,
    pageOffset: PAGE_OFFSET,
    pse: true,
    gbpages: true,
    hostMemoryLimit: 256 * MiB,
    eagerMemmap: false,
    debug: false,
    ...over,
  };
}

async function core(over: Partial<CoreConfig> = {}): Promise<WasmCoreDiagnostics> {
  const c = await createWasmCore();
  expect(c.init(config(over))).toBe(0);
  return c;
}

const va = (pfn: number, start = VMEMMAP_START) => start + 64n * BigInt(pfn);
const u64 = (bytes: Uint8Array, i: number) => new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(8 * i, true);
/** Byte equality of big buffers (toEqual walks them element by element, far too slowly). */
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

/** memmap_init_zone's words for pfn (docs/core.md "memmap"). */
function initWords(pfn: number, zone: number, nid: number): bigint[] {
  const self = va(pfn) + 32n;
  return [(BigInt(nid) << 58n) | (BigInt(zone) << 55n) | (1n << 10n), 0n, 0n, 0x1ffffffffn, self, self, 0n, 0n];
}

/** P16 of kernel.md: 16 GiB of pmem at 0x400000000, altmap {base 0x400000, reserve 2, free 66046}. */
const P16 = { basePfn: 0x400000n, reserve: 2n, free: 66046n, align: 0n, alloc: 0n };

describe('build', () => {
  it('core.wat has no managed allocation and imports only its memory', () => {
    const wat = readFileSync(new URL('../../build/core.wat', import.meta.url), 'utf8');
    expect(wat).not.toMatch(/__new|__alloc|__collect/);
    expect(wat.match(/\(import /g)).toHaveLength(1);
    expect(wat).toContain('(import "env" "memory" (memory $0 1 65536))');
  });
});

describe('vmem_altmap bump allocator (kernel.md §2.9)', () => {
  it('worked example A: 0x240200, 0x240400, fail, fail; alloc 1024 align 510 nr_free 0', async () => {
    const c = await core();
    const id = c.altmapCreate({ basePfn: 0x240000n, reserve: 2n, free: 1534n, align: 0n, alloc: 0n });
    expect(id).toBe(0);
    expect([c.altmapAlloc(id, 512), c.altmapAlloc(id, 512), c.altmapAlloc(id, 512), c.altmapAlloc(id, 1)]).toEqual([
      0x240200, 0x240400, -1, -1,
    ]);
    expect(c.altmapRead(id)).toEqual({ basePfn: 0x240000n, reserve: 2n, free: 1534n, align: 510n, alloc: 1024n });
  });

  it('worked example B: mixed sizes 1, 2, 8, 24, 3 land at 0x100003, 0x100004, 0x100008, 0x100010, 0x100028', async () => {
    const c = await core();
    const id = c.altmapCreate({ basePfn: 0x100000n, reserve: 3n, free: 100n, align: 0n, alloc: 0n });
    expect([1, 2, 8, 24, 3].map((n) => c.altmapAlloc(id, n))).toEqual([0x100003, 0x100004, 0x100008, 0x100010, 0x100028]);
    expect(c.altmapRead(id)).toMatchObject({ alloc: 38n, align: 2n });
  });

  it('T3: a failed allocation changes nothing; freeing 512 hands the same block out again', async () => {
    const c = await core();
    const id = c.altmapCreate({ basePfn: 0x240000n, reserve: 2n, free: 1534n, align: 0n, alloc: 0n });
    c.altmapAlloc(id, 512);
    c.altmapAlloc(id, 512);
    expect(c.altmapAlloc(id, 512)).toBe(-1);
    c.altmapFree(id, 512);
    expect(c.altmapRead(id)).toMatchObject({ alloc: 512n, align: 510n });
    expect(c.altmapAlloc(id, 512)).toBe(0x240400);
  });

  it('T5/T7/n=0: alignment is of the physical pfn, nr_free saturates at 0, n = 0 returns next_pfn unchanged', async () => {
    const c = await core();
    const a = c.altmapCreate({ basePfn: 0x1001n, reserve: 0n, free: 4096n, align: 0n, alloc: 0n });
    expect(c.altmapAlloc(a, 8)).toBe(0x1008);
    expect(c.altmapRead(a)).toMatchObject({ align: 7n, alloc: 8n });
    expect(c.altmapAlloc(a, 0)).toBe(0x1010);
    expect(c.altmapRead(a)).toMatchObject({ align: 7n, alloc: 8n });
    c.altmapWrite(a, 'free', 10n); // alloc + align = 15 > free
    expect(c.altmapAlloc(a, 1)).toBe(-1);
    expect(c.altmapRead(a)).toMatchObject({ free: 10n, align: 7n, alloc: 8n });
  });

  it('vmem_altmap_free wraps modulo 2^64 and ids are reused lowest first', async () => {
    const c = await core();
    const a = c.altmapCreate({ basePfn: 0n, reserve: 0n, free: 0n, align: 0n, alloc: 0n });
    const b = c.altmapCreate({ basePfn: 0n, reserve: 0n, free: 0n, align: 0n, alloc: 0n });
    c.altmapFree(a, 1);
    expect(c.altmapRead(a).alloc).toBe(U64_MAX);
    expect([a, b]).toEqual([0, 1]);
    c.altmapRelease(a);
    expect(c.altmapCreate({ basePfn: 1n, reserve: 0n, free: 0n, align: 0n, alloc: 0n })).toBe(0);
  });

  it('debug AltmapAlloc events carry pfn (or 2^64-1), alloc and align after the update, and the request', async () => {
    const c = await core({ debug: true });
    const id = c.altmapCreate({ basePfn: 0x240000n, reserve: 2n, free: 1534n, align: 0n, alloc: 0n });
    c.altmapAlloc(id, 512);
    c.altmapAlloc(id, 512);
    c.altmapAlloc(id, 512);
    expect(c.takeEvents()).toEqual([
      { type: EventType.AltmapAlloc, a: 0x240200n, b: 512n, c: 510n, d: 512n },
      { type: EventType.AltmapAlloc, a: 0x240400n, b: 1024n, c: 510n, d: 512n },
      { type: EventType.AltmapAlloc, a: U64_MAX, b: 1024n, c: 510n, d: 512n },
    ]);
    expect(c.takeEvents()).toEqual([]);
  });

  it('fault AltmapAlloc fails the nth next attempt only, with no state change', async () => {
    const c = await core();
    const id = c.altmapCreate({ basePfn: 0x100000n, reserve: 0n, free: 100n, align: 0n, alloc: 0n });
    c.setFault(FaultKind.AltmapAlloc, 2);
    expect([c.altmapAlloc(id, 1), c.altmapAlloc(id, 1), c.altmapAlloc(id, 1)]).toEqual([0x100000, -1, 0x100001]);
    expect(c.altmapRead(id).alloc).toBe(2n);
  });
});

describe('DRAM page allocator', () => {
  const ram: Array<[number, number]> = [
    [0x100, 0x1000],
    [0x1800, 0x4000],
  ];

  it('hands out the lowest naturally aligned free block inside one RAM range', async () => {
    const c = await core({ ramRanges: ram });
    // the root PGD took 0x100
    expect(c.allocPages(0, Purpose.PageTable)).toBe(0x101);
    expect(c.allocPages(9, Purpose.Memmap)).toBe(0x200);
    expect(c.allocPages(1, Purpose.Slab)).toBe(0x102);
    expect(c.allocPages(2, Purpose.Slab)).toBe(0x104);
    expect(c.allocPages(0, Purpose.Slab)).toBe(0x108); // 0x104..0x107 went to the order-2 block
    expect(c.allocPages(10, Purpose.Memmap)).toBe(0x400);
    expect(c.allocPages(11, Purpose.Memmap)).toBe(0x800);
    expect(c.allocPages(11, Purpose.Memmap)).toBe(0x1800); // the first range is full: the second, 2048-aligned
    expect(c.allocPages(9, Purpose.Memmap)).toBe(0x2000);
    expect(c.allocPages(12, Purpose.Memmap)).toBe(0x3000); // 0x2000 is taken in part
    expect(c.allocPages(12, Purpose.Memmap)).toBe(-12);
    const one = {
      totalPages: 0xf00 + 0x2800,
      freePages: 0xf00 + 0x2800 - (2 + 512 + 2 + 4 + 1 + 1024 + 2048 + 2048 + 512 + 4096),
      byPurpose: [2, 0, 512 + 1024 + 2048 + 2048 + 512 + 4096, 2 + 4 + 1, 0],
    };
    // one node (ramNodes defaults to 0): node 0 holds it all
    expect(c.dramStats()).toEqual({ ...one, byNode: [one] });
  });

  it('a freed block is the next one handed out; order-0 after many allocations stays lowest first', async () => {
    const c = await core({ ramRanges: ram });
    const got = Array.from({ length: 600 }, () => c.allocPages(0, Purpose.Slab));
    expect(got[0]).toBe(0x101);
    expect(got[599]).toBe(0x101 + 599);
    expect(c.freePages(0x200, 0, Purpose.Slab)).toBe(0);
    expect(c.freePages(0x150, 0, Purpose.Slab)).toBe(0);
    expect(c.allocPages(0, Purpose.Slab)).toBe(0x150);
    expect(c.allocPages(0, Purpose.Slab)).toBe(0x200);
    expect(c.allocPages(0, Purpose.Slab)).toBe(0x101 + 600);
  });

  it('freeing what it does not own raises Bug(pfn, order) and -EFAULT, changing nothing', async () => {
    const c = await core({ ramRanges: ram });
    const blk = c.allocPages(9, Purpose.Memmap);
    expect(c.freePages(blk, 9, Purpose.Memmap)).toBe(0);
    const before = c.dramStats();
    expect(c.freePages(blk, 9, Purpose.Memmap)).toBe(-14); // double free
    expect(c.freePages(0x1000, 0, Purpose.Memmap)).toBe(-14); // the hole between the ranges
    expect(c.freePages(0xe00, 10, Purpose.Memmap)).toBe(-14); // runs past the range's end
    expect(c.takeEvents()).toEqual([
      { type: EventType.Bug, a: BigInt(blk), b: 9n, c: 0n, d: 0n },
      { type: EventType.Bug, a: 0x1000n, b: 0n, c: 0n, d: 0n },
      { type: EventType.Bug, a: 0xe00n, b: 10n, c: 0n, d: 0n },
    ]);
    expect(c.dramStats()).toEqual(before);
  });

  it('frees discard: a reallocated page reads as zero', async () => {
    const c = await core({ ramRanges: ram });
    const pfn = c.allocPages(0, Purpose.Slab);
    expect(c.writePhys(BigInt(pfn) * 4096n + 8n, new Uint8Array([1, 2, 3]))).toBe(0);
    expect(c.readPhys(BigInt(pfn) * 4096n + 8n, 3)).toEqual(new Uint8Array([1, 2, 3]));
    expect(c.backedBytes()).toBe(4096);
    expect(c.freePages(pfn, 0, Purpose.Slab)).toBe(0);
    expect(c.backedBytes()).toBe(0);
    expect(c.allocPages(0, Purpose.Slab)).toBe(pfn);
    expect(c.readPhys(BigInt(pfn) * 4096n, 4096).every((b) => b === 0)).toBe(true);
  });

  it('fault DramAlloc fails the nth next allocation once', async () => {
    const c = await core({ ramRanges: ram });
    c.setFault(FaultKind.DramAlloc, 2);
    expect([c.allocPages(0, Purpose.Slab), c.allocPages(0, Purpose.Slab), c.allocPages(0, Purpose.Slab)]).toEqual([0x101, -12, 0x102]);
  });

  it('keeps up with 1 TiB of RAM: 100000 order-0 and 2000 order-9 allocations, lowest first', async () => {
    const c = await core({ ramRanges: [[0x100, 0x10000000]] });
    const t0 = performance.now();
    let last = 0;
    for (let i = 0; i < 100000; i++) last = c.allocPages(0, Purpose.Slab);
    expect(last).toBe(0x100 + 100000);
    for (let i = 0; i < 2000; i++) last = c.allocPages(9, Purpose.Memmap);
    expect(last).toBe(0x18800 + 1999 * 512);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe('physical memory', () => {
  it('writePhys backs frames, readPhys reads bytes across frames, unbacked frames read zero', async () => {
    const c = await core();
    const data = new Uint8Array(6000).map((_, i) => (i * 7) & 255);
    expect(c.writePhys(0x5000800n, data)).toBe(0);
    expect(c.backedBytes()).toBe(2 * 4096);
    expect(c.readPhys(0x5000800n, 6000)).toEqual(data);
    expect(c.readPhys(0x5000000n, 0x800).every((b) => b === 0)).toBe(true);
    expect(c.readPhys(0x7000000n, 16)).toEqual(new Uint8Array(16));
  });

  it('a write past the host-memory budget returns -ENOMEM and writes nothing', async () => {
    const c = await core({ hostMemoryLimit: 2 * 4096 });
    expect(c.writePhys(0x5000000n, new Uint8Array([9]))).toBe(0);
    expect(c.writePhys(0x6000ff0n, new Uint8Array(32).fill(7))).toBe(-12); // needs 2 frames, 1 left
    expect(c.readPhys(0x6000ff0n, 32)).toEqual(new Uint8Array(32));
    expect(c.backedBytes()).toBe(4096);
    expect(c.writePhys(0x6000000n, new Uint8Array([5]))).toBe(0);
    expect(c.backedBytes()).toBe(8192);
  });

  it('fault Backing fails the nth next frame backing', async () => {
    const c = await core();
    c.setFault(FaultKind.Backing, 2);
    expect(c.writePhys(0x5000000n, new Uint8Array([1]))).toBe(0);
    expect(c.writePhys(0x6000000n, new Uint8Array([1]))).toBe(-12);
    expect(c.writePhys(0x6000000n, new Uint8Array([1]))).toBe(0);
  });

  it('reads and writes larger than the IO buffer go through in chunks', async () => {
    const c = await core();
    const data = new Uint8Array(3 * MiB).map((_, i) => i % 251);
    expect(c.writePhys(0x8000000n, data)).toBe(0);
    expect(sameBytes(c.readPhys(0x8000000n, 3 * MiB), data)).toBe(true);
  });
});

describe('page tables', () => {
  it('directMapAdd splits like split_mem_range: 4 KiB head, 2 MiB, 1 GiB; directMapRemove frees every table', async () => {
    const c = await core({ ramRanges: [[0x100, 0x80000]] });
    expect(c.directMapAdd(0x100, 0x80000)).toBe(0); // 1 MiB .. 2 GiB
    const w4k = c.walk(PAGE_OFFSET + 0x100000n);
    expect(w4k.levels.map((l) => l.level)).toEqual(['pgd', 'pud', 'pmd', 'pte']);
    expect(w4k).toMatchObject({ mapped: true, phys: 0x100000n, pageSize: 4096 });
    expect(w4k.levels[3].entry).toBe(0x100000n | 0x163n | NX);
    const w2m = c.walk(PAGE_OFFSET + 0x3fe00123n);
    expect(w2m).toMatchObject({ mapped: true, phys: 0x3fe00123n, pageSize: 2 * MiB });
    expect(w2m.levels[2].entry).toBe(0x3fe00000n | 0x1e3n | NX);
    const w1g = c.walk(PAGE_OFFSET + 0x40000000n + 0x1234n);
    expect(w1g).toMatchObject({ mapped: true, phys: 0x40001234n, pageSize: 1 << 30 });
    expect(w1g.levels[1]).toMatchObject({ level: 'pud', index: 1, entry: 0x40000000n | 0x1e3n | NX });
    // PUD, PMD and PTE tables: the three pages after the root
    expect(c.dramStats().byPurpose[Purpose.DirectMap]).toBe(3);
    expect(w4k.levels.map((l) => l.table)).toEqual([0x100000n, 0x101000n, 0x102000n, 0x103000n]);

    expect(c.directMapAdd(0x40000, 0x40200)).toBe(0); // inside the 1 GiB leaf: kept
    expect(c.dramStats().byPurpose[Purpose.DirectMap]).toBe(3);

    expect(c.directMapRemove(0x100, 0x80000)).toBe(0);
    expect(c.walk(PAGE_OFFSET + 0x40000000n)).toEqual({
      levels: [{ level: 'pgd', index: 272, entry: 0n, table: 0x100000n }],
      mapped: false,
      phys: 0n,
      pageSize: 0,
    });
    expect(c.dramStats().byPurpose).toEqual([1, 0, 0, 0, 0]);
  });

  it('without gbpages the 1 GiB piece is mapped with 2 MiB leaves', async () => {
    const c = await core({ ramRanges: [[0x100, 0x80000]], gbpages: false });
    expect(c.directMapAdd(0x40000, 0x80000)).toBe(0);
    expect(c.walk(PAGE_OFFSET + 0x40000000n)).toMatchObject({ mapped: true, pageSize: 2 * MiB });
    expect(c.dramStats().byPurpose[Purpose.DirectMap]).toBe(2);
  });

  it('directMapRemove keeps a leaf only partly inside the range', async () => {
    const c = await core({ ramRanges: [[0x100, 0x80000]] });
    c.directMapAdd(0x40000, 0x80000);
    expect(c.directMapRemove(0x40000, 0x40200)).toBe(0);
    expect(c.walk(PAGE_OFFSET + 0x40000000n).mapped).toBe(true);
  });
});

describe('vmemmap_populate with an altmap (P16, first section)', () => {
  it('maps one 2 MiB leaf at the altmap block: PMD entry 0x400200000 | 0x1e3 | 1<<63, tables from DRAM', async () => {
    const c = await core({ debug: true });
    const id = c.altmapCreate(P16);
    expect(c.vmemmapPopulate(0x400000, SECTION, id, 0)).toBe(0);
    const w = c.walk(va(0x400000));
    expect(w).toEqual({
      levels: [
        { level: 'pgd', index: 468, entry: 0x101063n, table: 0x100000n },
        { level: 'pud', index: 0, entry: 0x102063n, table: 0x101000n },
        { level: 'pmd', index: 128, entry: 0x400200000n | 0x1e3n | NX, table: 0x102000n },
      ],
      mapped: true,
      phys: 0x400200000n,
      pageSize: 2 * MiB,
    });
    expect(c.walk(va(0x407fff))).toMatchObject({ mapped: true, phys: 0x400200000n + 0x1fffc0n });
    const out = new Float64Array(4);
    c.vmemmapTranslate(new Float64Array([0x400000, 0x400001, 0x407fff, 0x408000]), out);
    expect(Array.from(out)).toEqual([0x400200000, 0x400200040, 0x400200000 + 0x1fffc0, -1]);
    expect(c.walk(va(0x408000)).mapped).toBe(false);
    expect(c.altmapRead(id)).toMatchObject({ alloc: 512n, align: 510n });
    expect(c.dramStats().byPurpose).toEqual([3, 0, 0, 0, 0]);
    expect(c.takeEvents()).toEqual([
      { type: EventType.AltmapAlloc, a: 0x400200n, b: 512n, c: 510n, d: 512n },
      { type: EventType.Pmd, a: 0xffffea0010000000n, b: 0x400200000n, c: 0n, d: 0n },
    ]);
  });

  it('T21: 128 sections take blocks 0x400200 + 0x200k from the altmap until nr_free is 0; section 129 fails', async () => {
    const c = await core();
    const id = c.altmapCreate(P16);
    for (let k = 0; k < 128; k++) expect(c.vmemmapPopulate(0x400000 + k * SECTION, SECTION, id, 0)).toBe(0);
    expect(c.walk(va(0x400000 + 127 * SECTION)).phys).toBe((0x400200n + 0x200n * 127n) * 4096n);
    expect(c.altmapRead(id)).toMatchObject({ alloc: 65536n, align: 510n });
    expect(c.vmemmapPopulate(0x400000 + 128 * SECTION, SECTION, id, 0)).toBe(-12);
    expect(c.takeEvents()).toEqual([]); // no fallback with an altmap
    expect(c.dramStats().byPurpose[Purpose.Memmap]).toBe(0);
  });

  it('a populated leaf is kept on re-populate (no allocation)', async () => {
    const c = await core();
    const id = c.altmapCreate(P16);
    c.vmemmapPopulate(0x400000, SECTION, id, 0);
    expect(c.vmemmapPopulate(0x400000, SECTION, id, 0)).toBe(0);
    expect(c.altmapRead(id).alloc).toBe(512n);
  });

  it('vmemmapTranslate walks batches larger than the IO buffer (300000 pfns over 10 sections)', async () => {
    const c = await core();
    const id = c.altmapCreate(P16);
    for (let k = 0; k < 8; k++) c.vmemmapPopulate(0x400000 + k * SECTION, SECTION, id, 0);
    const pfns = Float64Array.from({ length: 300000 }, (_, i) => 0x400000 - SECTION + i);
    const out = new Float64Array(pfns.length);
    c.vmemmapTranslate(pfns, out);
    expect(out[SECTION - 1]).toBe(-1);
    expect(out[SECTION]).toBe(0x400200000);
    expect(out[SECTION + 8 * SECTION - 1]).toBe(0x400200000 + 7 * 0x200000 + 0x1fffc0);
    expect(out[SECTION + 8 * SECTION]).toBe(-1);
    expect(out[200000]).toBe(0x400200000 + (200000 - SECTION) * 64);
  });

  it('5-level paging: the walk goes pgd, p4d, pud, pmd', async () => {
    const c = await core({ levels: 5, vmemmapStart: 0xffd4000000000000n });
    const id = c.altmapCreate(P16);
    expect(c.vmemmapPopulate(0x400000, SECTION, id, 0)).toBe(0);
    const w = c.walk(va(0x400000, 0xffd4000000000000n));
    expect(w.levels.map((l) => [l.level, l.index])).toEqual([
      ['pgd', 468],
      ['p4d', 0],
      ['pud', 0],
      ['pmd', 128],
    ]);
    expect(w).toMatchObject({ mapped: true, phys: 0x400200000n });
    expect(c.dramStats().byPurpose[Purpose.PageTable]).toBe(4);
  });
});

describe('vmemmap_populate without an altmap', () => {
  it('T26: a failed PMD block raises Fallback and maps 512 base pages plus a PTE table from DRAM', async () => {
    const c = await core();
    c.setFault(FaultKind.DramAlloc, 3); // PUD table, PMD table, then the 2 MiB block
    expect(c.vmemmapPopulate(0x400000, SECTION, -1, 0)).toBe(0);
    expect(c.takeEvents()).toEqual([{ type: EventType.Fallback, a: 0xffffea0010000000n, b: 1n, c: 0n, d: 0n }]);
    const w = c.walk(va(0x400000));
    expect(w.levels.map((l) => l.level)).toEqual(['pgd', 'pud', 'pmd', 'pte']);
    expect(w).toMatchObject({ mapped: true, pageSize: 4096 });
    expect(w.levels[3].entry & 0xfffn).toBe(0x163n);
    expect(c.dramStats().byPurpose).toEqual([4, 0, 512, 0, 0]);
  });

  it('T27: with an altmap, a PMD that holds a PTE table takes the base-page path from DRAM', async () => {
    const c = await core();
    const id = c.altmapCreate(P16);
    expect(c.vmemmapPopulate(0x400000, 64, -1, PopulateFlags.BasePages)).toBe(0);
    expect(c.vmemmapPopulate(0x400000, SECTION, id, 0)).toBe(0);
    expect(c.takeEvents()).toEqual([{ type: EventType.Fallback, a: 0xffffea0010000000n, b: 0n, c: 0n, d: 0n }]);
    expect(c.altmapRead(id).alloc).toBe(0n);
    expect(c.dramStats().byPurpose[Purpose.Memmap]).toBe(512);
  });

  it('BasePagesUseAltmap takes the 4 KiB pages from the altmap', async () => {
    const c = await core();
    const id = c.altmapCreate(P16);
    expect(c.vmemmapPopulate(0x400000, 128, id, PopulateFlags.BasePages | PopulateFlags.BasePagesUseAltmap)).toBe(0);
    expect(c.walk(va(0x400040)).phys).toBe(0x400003000n);
    expect(c.altmapRead(id)).toMatchObject({ alloc: 2n, align: 0n });
  });

  it('T28: no PSE with an altmap raises NoPseAltmap and -ENOMEM; without an altmap, base pages', async () => {
    const c = await core({ pse: false });
    const id = c.altmapCreate(P16);
    expect(c.vmemmapPopulate(0x400000, SECTION, id, 0)).toBe(-12);
    expect(c.takeEvents()).toEqual([{ type: EventType.NoPseAltmap, a: 0n, b: 0n, c: 0n, d: 0n }]);
    expect(c.vmemmapPopulate(0x400000, SECTION, -1, 0)).toBe(0);
    expect(c.walk(va(0x400000)).pageSize).toBe(4096);
  });
});

describe('memmap through the vmemmap', () => {
  it('memmapInit writes zone, node, PG_reserved, _count 1, _mapcount -1, lru = self + 32 (readPage and readPhys)', async () => {
    const c = await core();
    const id = c.altmapCreate(P16);
    c.vmemmapPopulate(0x400000, SECTION, id, 0);
    expect(c.memmapZero(0x400000, SECTION)).toBe(0);
    expect(c.memmapInit(0x400000, SECTION, 4, 1)).toBe(0);
    expect(Array.from(c.readPage(0x400000)!)).toEqual(initWords(0x400000, 4, 1));
    expect(Array.from(c.readPage(0x407fff)!)).toEqual(initWords(0x407fff, 4, 1));
    expect(initWords(0x400001, 4, 1)[4]).toBe(0xffffea0010000060n);
    // the same bytes in the altmap block: pfn 0x400000 + j at 0x400200000 + 64 j
    const bytes = c.readPhys(0x400200000n + 64n * 100n, 128);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((i) => u64(bytes, i))).toEqual(initWords(0x400064, 4, 1));
    expect([8, 9, 10, 11, 12, 13, 14, 15].map((i) => u64(bytes, i))).toEqual(initWords(0x400065, 4, 1));
    expect(c.readPage(0x408000)).toBeNull();
    expect(c.backedBytes()).toBe(3 * 4096); // the three tables; the struct pages are a fill pattern
  });

  it('memmapSetPgmap sets pgmap and LIST_POISON2, keeping the other words, on a range not aligned to frames', async () => {
    const c = await core();
    const id = c.altmapCreate(P16);
    c.vmemmapPopulate(0x400000, SECTION, id, 0);
    c.memmapInit(0x400000, SECTION, 4, 0);
    expect(c.memmapSetPgmap(0x400000 + 100, 1000, 0xffff880401234000n)).toBe(0);
    const set = initWords(0x400000 + 100, 4, 0);
    set[4] = 0xffff880401234000n;
    set[5] = 0xdead000000000200n;
    expect(Array.from(c.readPage(0x400000 + 100)!)).toEqual(set);
    expect(Array.from(c.readPage(0x400000 + 99)!)).toEqual(initWords(0x400000 + 99, 4, 0));
    expect(Array.from(c.readPage(0x400000 + 1100)!)).toEqual(initWords(0x400000 + 1100, 4, 0));
    expect(c.readPage(0x400000 + 1099)![5]).toBe(0xdead000000000200n);
    expect(c.backedBytes()).toBe(5 * 4096); // tables + the two partly covered frames
  });

  it('memmapWrite stores a host-drawn op (6.12 __init_single_page: lru self-relative in words 1-2) the same on both backends, as fill patterns', async () => {
    const op = initPageOp(STRUCT_PAGE_LAYOUTS['v6.12'], 4, 0);
    const expected = (pfn: number) => [0x27ffffc0002000n, va(pfn) + 8n, va(pfn) + 8n, 0n, 0n, 0n, 0x1ffffffffn, 0n];
    const twin = createTsCore();
    expect(twin.init(config())).toBe(0);
    for (const c of [await core(), twin]) {
      const id = c.altmapCreate(P16);
      c.vmemmapPopulate(0x400000, SECTION, id, 0);
      expect(c.memmapWrite(0x400000, SECTION, op)).toBe(0);
      // fixture sp-fsdax-dev-1G (6.12.117): pfn 0x100002's words, the same op at another pfn
      expect(Array.from(c.readPage(0x400002)!)).toEqual(expected(0x400002));
      expect(Array.from(c.readPage(0x407fff)!)).toEqual(expected(0x407fff));
      const bytes = c.readPhys(0x400200000n + 64n * 100n, 64);
      expect([0, 1, 2, 3, 4, 5, 6, 7].map((i) => u64(bytes, i))).toEqual(expected(0x400064));
      // a partial op: only word 3, the others kept
      expect(c.memmapWrite(0x400010, 1, { words: [0n, 0n, 0n, 0xdead000000000400n, 0n, 0n, 0n, 0n], mask: 0x08, self: 0 })).toBe(0);
      expect(c.readPage(0x400010)![3]).toBe(0xdead000000000400n);
      expect(c.readPage(0x400010)![1]).toBe(va(0x400010) + 8n);
    }
  });

  it('memmapZero clears struct pages; pages with no vmemmap are skipped', async () => {
    const c = await core();
    const id = c.altmapCreate(P16);
    c.vmemmapPopulate(0x400000, SECTION, id, 0);
    c.memmapInit(0x400000, SECTION, 2, 0);
    expect(c.memmapZero(0x400000 - SECTION, 3 * SECTION)).toBe(0);
    expect(Array.from(c.readPage(0x404000)!)).toEqual(new Array(8).fill(0n));
  });

  it('eager and pattern modes give identical bytes; patterns cost no frames and merge across sections', async () => {
    const seq = async (eagerMemmap: boolean) => {
      const c = await core({ eagerMemmap });
      const id = c.altmapCreate(P16);
      for (let k = 0; k < 4; k++) {
        expect(c.vmemmapPopulate(0x400000 + k * SECTION, SECTION, id, 0)).toBe(0);
        expect(c.memmapZero(0x400000 + k * SECTION, SECTION)).toBe(0);
        expect(c.memmapInit(0x400000 + k * SECTION, SECTION, 4, 0)).toBe(0);
      }
      expect(c.memmapSetPgmap(0x400000 + 66048 - 64 * 1000 + 5, 70000, 0xffff880400000040n)).toBe(0);
      expect(c.memmapZero(0x400000 + 2 * SECTION + 77, 130)).toBe(0);
      return c;
    };
    const eager = await seq(true);
    const lazy = await seq(false);
    const blocks = 0x400200000n;
    const bytes = lazy.readPhys(blocks, 8 * MiB);
    expect(sameBytes(bytes, eager.readPhys(blocks, 8 * MiB))).toBe(true);
    expect(bytes.some((b) => b !== 0)).toBe(true);
    for (const pfn of [0x400000, 0x400000 + 66047, 0x400000 + 66048 + 3, 0x400000 + 2 * SECTION + 100, 0x41ffff]) {
      expect(lazy.readPage(pfn)).toEqual(eager.readPage(pfn));
    }
    expect(eager.backedBytes()).toBe(3 * 4096 + 4 * 512 * 4096);
    expect(lazy.backedBytes()).toBeLessThan(10 * 4096);
  });

  it('eager memmapInit past the budget returns -ENOMEM without trapping; the core stays usable', async () => {
    const c = await core({ eagerMemmap: true, hostMemoryLimit: 16 * 4096 });
    const id = c.altmapCreate(P16);
    expect(c.vmemmapPopulate(0x400000, SECTION, id, 0)).toBe(0);
    expect(c.memmapInit(0x400000, SECTION, 4, 0)).toBe(-12);
    expect(c.backedBytes()).toBe(16 * 4096);
    // 13 frames were written before the budget ran out
    expect(Array.from(c.readPage(0x400000 + 13 * 64 - 1)!)).toEqual(initWords(0x400000 + 13 * 64 - 1, 4, 0));
    expect(Array.from(c.readPage(0x400000 + 13 * 64)!)).toEqual(new Array(8).fill(0n));
    expect(c.allocPages(0, Purpose.Slab)).toBeGreaterThan(0);
  });
});

describe('host-memory budget on page-table writes', () => {
  it('vmemmapPopulate returns -ENOMEM when a table frame cannot be backed, and gives the block back', async () => {
    const c = await core({ hostMemoryLimit: 2 * 4096 });
    const id = c.altmapCreate(P16);
    expect(c.vmemmapPopulate(0x400000, SECTION, id, 0)).toBe(-12);
    expect(c.backedBytes()).toBe(2 * 4096); // the PGD and the PUD table; the PMD table could not be
    expect(c.altmapRead(id)).toMatchObject({ alloc: 0n, align: 510n });
    expect(c.walk(va(0x400000)).mapped).toBe(false);
    expect(c.dramStats().byPurpose[Purpose.PageTable]).toBe(3);
  });
});

describe('vmemmap_free (free_pagetable through the altmap lookup)', () => {
  it('T32: through the lookup (v4.5), blocks go back to the altmap, emptied tables to DRAM', async () => {
    const c = await core();
    const id = c.altmapCreate(P16);
    for (let k = 0; k < 128; k++) c.vmemmapPopulate(0x400000 + k * SECTION, SECTION, id, 0);
    c.setAltmapLookup([{ startPfn: 0x400000, endPfn: 0x800000, altmapId: id }]);
    for (let k = 0; k < 128; k++) expect(c.vmemmapFree(0x400000 + k * SECTION, SECTION, LOOKUP_ALTMAP)).toBe(0);
    expect(c.altmapRead(id)).toMatchObject({ alloc: 0n, align: 510n });
    expect(c.dramStats().byPurpose).toEqual([1, 0, 0, 0, 0]);
    expect(c.takeEvents()).toEqual([]);
  });

  it('DRAM blocks and base pages go back to the page allocator', async () => {
    const c = await core();
    c.vmemmapPopulate(0x400000, 2 * SECTION, -1, 0);
    c.vmemmapPopulate(0x500000, 64, -1, PopulateFlags.BasePages);
    expect(c.dramStats().byPurpose[Purpose.Memmap]).toBe(1025);
    expect(c.vmemmapFree(0x400000, 2 * SECTION, LOOKUP_ALTMAP)).toBe(0);
    expect(c.vmemmapFree(0x500000, 64, NO_ALTMAP)).toBe(0);
    expect(c.dramStats().byPurpose).toEqual([1, 0, 0, 0, 0]);
  });

  it('v4.16+: an explicit altmap takes the 2 MiB leaves back without the lookup; 4 KiB leaves go to DRAM', async () => {
    const c = await core();
    const id = c.altmapCreate(P16);
    c.vmemmapPopulate(0x400000, 2 * SECTION, id, 0);
    c.vmemmapPopulate(0x410000, 128, id, PopulateFlags.BasePages);
    expect(c.dramStats().byPurpose[Purpose.Memmap]).toBe(2);
    expect(c.vmemmapFree(0x400000, 2 * SECTION, id)).toBe(0);
    expect(c.vmemmapFree(0x410000, 128, id)).toBe(0);
    expect(c.altmapRead(id)).toMatchObject({ alloc: 0n, align: 510n });
    expect(c.dramStats().byPurpose).toEqual([1, 0, 0, 0, 0]);
    // with NO_ALTMAP a pmem block goes to the page allocator, which does not own it
    c.vmemmapPopulate(0x400000, SECTION, id, 0);
    expect(c.vmemmapFree(0x400000, SECTION, NO_ALTMAP)).toBe(-14);
    expect(c.takeEvents()).toEqual([{ type: EventType.Bug, a: 0x400200n, b: 9n, c: 0n, d: 0n }]); // the reused first block
  });

  it('T33: without a lookup entry the pmem block goes to the page allocator: Bug(0x400400, 9) on the highest block, -EFAULT, walk stops', async () => {
    const c = await core();
    const id = c.altmapCreate(P16);
    c.vmemmapPopulate(0x400000, SECTION, id, 0);
    c.vmemmapPopulate(0x408000, SECTION, id, 0);
    c.setAltmapLookup([]);
    expect(c.vmemmapFree(0x400000, 2 * SECTION, LOOKUP_ALTMAP)).toBe(-14);
    // removal walks descending: section 129's block (pfn 0x400400) is the first the page allocator refuses
    expect(c.takeEvents()).toEqual([{ type: EventType.Bug, a: 0x400400n, b: 9n, c: 0n, d: 0n }]);
    expect(c.walk(va(0x400000)).mapped).toBe(true);
    expect(c.walk(va(0x408000)).mapped).toBe(true);
    expect(c.altmapRead(id).alloc).toBe(1024n);
  });
});

describe('the wrapper', () => {
  it('a disposed core throws CoreTrap', async () => {
    const c = await core();
    c.dispose();
    expect(() => c.allocPages(0, Purpose.Slab)).toThrow(CoreTrap);
    expect(() => c.walk(0n)).toThrow(CoreTrap);
  });

  it('init on a used core starts over on fresh memory', async () => {
    const c = await core();
    c.allocPages(5, Purpose.Slab);
    expect(c.init(config({ ramRanges: [[0x1000, 0x2000]] }))).toBe(0);
    const one = { totalPages: 0x1000, freePages: 0xfff, byPurpose: [1, 0, 0, 0, 0] };
    expect(c.dramStats()).toEqual({ ...one, byNode: [one] });
  });

  it('48 TiB-shaped run: 8192 sections populate, zero and init in well under a second with O(1) memory', async () => {
    const c = await core();
    const base = 0x10000000000 / 4096 * 64; // pmem at 64 TiB... as pfns: 2^34
    const sections = 8192; // 1 TiB
    const id = c.altmapCreate({ basePfn: BigInt(base), reserve: 2n, free: BigInt(sections * 512 + 510), align: 0n, alloc: 0n });
    const t0 = performance.now();
    for (let s = 0; s < sections; s++) {
      const pfn = base + s * SECTION;
      if (c.vmemmapPopulate(pfn, SECTION, id, 0) || c.memmapZero(pfn, SECTION) || c.memmapInit(pfn, SECTION, 4, 0)) throw new Error(`section ${s}`);
    }
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(c.backedBytes()).toBeLessThan(64 * 4096);
    expect(c.patternCount()).toBe(1); // one merged pattern for 8192 sections
    const last = base + sections * SECTION - 1;
    expect(Array.from(c.readPage(last)!)).toEqual(initWords(last, 4, 0));
    expect(c.memmapSetPgmap(base + 66048, sections * SECTION - 66048, 0xffff888012345600n)).toBe(0);
    expect(c.patternCount()).toBe(2); // the reserve's struct pages, then the pgmap'd rest
    expect(c.readPage(last)![4]).toBe(0xffff888012345600n);
  });
});
