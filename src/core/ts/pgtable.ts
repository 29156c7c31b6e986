/**
 * x86-64 page tables (as assembly/pgtable.ts; docs/core.md "Page tables"): entries live in simulated
 * physical memory. Virtual addresses in hot paths are numbers holding the low 57 bits (exact for the
 * 64-byte aligned addresses the model uses; vaLow, vaFull); index i of level l is
 * floor(va / 2^shift[l]) % 512.
 */
import { EFAULT, ENOMEM, INSPECT_NONE, INSPECT_NOT_CANONICAL, LOOKUP_ALTMAP, NO_ALTMAP, Purpose, UNMAPPED, WALK_RES_ENTRIES, WALK_RES_LEVELS, WALK_RES_ROOT, WALK_RES_SIZE, type CoreWalk, type WalkLevel } from '../core.ts';
import type { AltmapTable } from './altmap.ts';
import type { PageAlloc } from './pagealloc.ts';
import type { PhysMem } from './physmem.ts';
import type { Shares } from './shares.ts';

export const PTE_PRESENT = 0x1;
export const PTE_PSE = 0x80;
/** _KERNPG_TABLE */
export const TABLE_FLAGS = 0x63;
/** __PAGE_KERNEL_LARGE (low bits); NX in the high half */
export const LARGE_FLAGS = 0x1e3;
/** __PAGE_KERNEL (low bits) */
export const PAGE_FLAGS = 0x163;
export const NX_HI = 0x80000000;

const LEVEL_NAMES_4 = ['pgd', 'pud', 'pmd', 'pte'] as const;
const LEVEL_NAMES_5 = ['pgd', 'p4d', 'pud', 'pmd', 'pte'] as const;

/** Bytes a PMD entry maps. */
export const PMD_SIZE = 2 ** 21;
/** Bytes a PUD entry maps. */
export const PUD_SIZE = 2 ** 30;

/** populateTo: a leaf above the level already maps the address. */
export const LEAF_ABOVE = -2;
/** findTable: no table (a level above is not present, or is a leaf). */
export const NO_TABLE = -1;

const MASK57 = (1n << 57n) - 1n;
const TOP7 = ((1n << 64n) - 1n) ^ MASK57;

/** The low 57 bits of a virtual address, as the twin's hot paths carry it. */
export function vaLow(va: bigint): number {
  return Number(va & MASK57);
}

/** The canonical 64-bit address of a low-57-bit value (sign-extended from bit 56). */
export function vaFull(low: number): bigint {
  const v = BigInt(low);
  return low >= 2 ** 56 ? v | TOP7 : v;
}

/** The pfn an entry points at. */
export function entryPfn(lo: number, hi: number): number {
  return (lo >>> 12) + (hi & 0xfffff) * 1048576;
}

export interface PagingConfig {
  levels: 4 | 5;
  pse: boolean;
  gbpages: boolean;
  /** PAGE_OFFSET, low 57 bits. */
  pageOffset: number;
}

export class PageTable {
  /** Shift of each level, top first: [39,30,21,12] or [48,39,30,21,12]. */
  readonly shifts: number[];
  readonly names: readonly string[];
  /** Level index of PUD, PMD and PTE. */
  readonly pud: number;
  readonly pmd: number;
  readonly pte: number;
  root = -1;

  constructor(
    readonly cfg: PagingConfig,
    readonly mem: PhysMem,
    readonly alloc: PageAlloc,
    /** free_pagetable's way back for vmemmap leaves. */
    readonly altmaps: AltmapTable,
    readonly shares: Shares,
  ) {
    const levels = cfg.levels;
    this.shifts = levels === 5 ? [48, 39, 30, 21, 12] : [39, 30, 21, 12];
    this.names = levels === 5 ? LEVEL_NAMES_5 : LEVEL_NAMES_4;
    this.pte = levels - 1;
    this.pmd = levels - 2;
    this.pud = levels - 3;
  }

  index(va: number, level: number): number {
    return Math.floor(va / 2 ** this.shifts[level]) % 512;
  }

  readLo(table: number, i: number): number {
    const f = this.mem.tableWords(table);
    return f ? f[2 * i] : 0;
  }
  readHi(table: number, i: number): number {
    const f = this.mem.tableWords(table);
    return f ? f[2 * i + 1] : 0;
  }

  /** Store an entry; backs the table's frame. false on budget exhaustion. */
  write(table: number, i: number, lo: number, hi: number): boolean {
    const f = this.mem.frameForWrite(table);
    if (!f) return false;
    f[2 * i] = lo >>> 0;
    f[2 * i + 1] = hi >>> 0;
    return true;
  }

  /** Write a leaf entry for pfn with low flags and NX. */
  writeLeaf(table: number, i: number, pfn: number, flags: number): boolean {
    return this.write(table, i, ((pfn % 1048576) * 4096 + flags) >>> 0, (Math.floor(pfn / 1048576) | NX_HI) >>> 0);
  }

  /**
   * Populate every level above `level` for va (an empty entry gets a new order-0 page of `purpose` as
   * table), top-down. Returns the table pfn holding va's entry at `level`, -ENOMEM, or LEAF_ABOVE.
   */
  populateTo(va: number, level: number, purpose: Purpose): number {
    let table = this.root;
    for (let l = 0; l < level; l++) {
      const i = this.index(va, l);
      const lo = this.readLo(table, i);
      if (lo & PTE_PRESENT) {
        if (lo & PTE_PSE) return LEAF_ABOVE;
        table = entryPfn(lo, this.readHi(table, i));
        continue;
      }
      const page = this.alloc.allocPages(0, purpose);
      if (page < 0) return ENOMEM;
      if (!this.write(table, i, ((page % 1048576) * 4096 + TABLE_FLAGS) >>> 0, Math.floor(page / 1048576))) {
        this.alloc.freePages(page, 0, purpose);
        return ENOMEM;
      }
      table = page;
    }
    return table;
  }

  /** The table at `level` for va if every level above is present and not a leaf; else NO_TABLE. */
  findTable(va: number, level: number): number {
    let table = this.root;
    for (let l = 0; l < level; l++) {
      const lo = this.readLo(table, this.index(va, l));
      if (!(lo & PTE_PRESENT) || lo & PTE_PSE) return NO_TABLE;
      table = entryPfn(lo, this.readHi(table, this.index(va, l)));
    }
    return table;
  }

  /** True when no entry of the table is present. */
  tableEmpty(table: number): boolean {
    const f = this.mem.tableWords(table);
    if (!f) return true;
    for (let i = 0; i < 1024; i++) if (f[i] !== 0) return false;
    return true;
  }

  /**
   * Is `table` (a PMD table) an unbacked run table (assembly/pgtable.ts isRunTable): one table pattern
   * whose 512 entries are present 2 MiB leaves, each mapping the 2 MiB after the previous one's?
   */
  isRunTable(table: number, shift = 21): boolean {
    return this.runTableFirstPfn(table, shift) >= 0;
  }

  /**
   * The pfn a run table's entry 0 maps (entry i maps it + i * 2^shift / 4096: shift 21 for 2 MiB leaves,
   * 30 for 1 GiB), or -1 when `table` is no run table of that kind. From the pattern, nothing synthesised.
   */
  runTableFirstPfn(table: number, shift = 21): number {
    if (this.leafTableStride(table, shift) !== shift) return -1;
    const p = this.mem.patterns.patFind(table)!;
    const phys0 = (p.hi[0] & 0xfffff) * 4294967296 + (p.lo[0] - (p.lo[0] % 4096));
    // entry 0 = template word 0 + P * 2^(shift + 3), P the pattern step at the frame's byte 0 (below 2^53, patterns.ts)
    const P = p.pagePfn0 + (table - p.start) * 64;
    return (phys0 + P * 2 ** (shift + 3)) / 4096;
  }

  /**
   * `table` as a leaf table (assembly/pgtable.ts leafTableStride): one unbacked table pattern whose entries
   * are present leaves, each 2^stride bytes after the previous one's; stride (shift for a run table, 27 for
   * memmap_on_memory's vmemmap table), or 0. From the pattern's template, nothing synthesised.
   */
  leafTableStride(table: number, shift = 21): number {
    if (this.mem.isBacked(table) || (this.mem.runs.list.length !== 0 && this.mem.runs.find(table))) return 0;
    const p = this.mem.patterns.patFind(table);
    if (!p || (p.selfShift ?? 0) < shift + 3 || p.selfMask !== 0xff) return 0;
    const stride = p.selfShift! - 3;
    const lo0 = p.lo[0];
    if (!(lo0 & PTE_PRESENT) || !(lo0 & PTE_PSE)) return 0;
    const physOf = (i: number) => (p.hi[i] & 0xfffff) * 4294967296 + (p.lo[i] - (p.lo[i] % 4096));
    const phys0 = physOf(0);
    for (let i = 1; i < 8; i++) if (physOf(i) !== phys0 + i * 2 ** stride || p.lo[i] % 4096 !== lo0 % 4096 || p.hi[i] >>> 20 !== p.hi[0] >>> 20) return 0;
    return stride;
  }

  /** Make the blank PMD table `table` a run table of 2 MiB leaves from block pfn `firstPfn` on (assembly: setRunTable). */
  setRunTable(table: number, firstPfn: number, shift = 21, frames = 1): boolean {
    return this.mem.patterns.setRunTable(table, shift, firstPfn * 4096, LARGE_FLAGS, NX_HI, frames);
  }

  /** translate's page size of the last mapped address. */
  lastSize = 0;

  /**
   * Translate va (low-57-bit number, 64-byte aligned at least) to its backing: returns the
   * physical byte address as a number, with the mapping's page size in `lastSize`; -1 if unmapped.
   */
  translate(va: number): number {
    let table = this.root;
    const levels = this.shifts.length;
    for (let l = 0; l < levels; l++) {
      const i = this.index(va, l);
      const f = this.mem.tableWords(table);
      if (!f) return -1;
      const lo = f[2 * i];
      if (!(lo & PTE_PRESENT)) return -1;
      const pfn = entryPfn(lo, f[2 * i + 1]);
      if (l === levels - 1 || lo & PTE_PSE) {
        const size = 2 ** this.shifts[l];
        this.lastSize = size;
        return pfn * 4096 + (va % size);
      }
      table = pfn;
    }
    return -1;
  }
}

/** walk(va): every level visited, from the root. */
export function walk(pt: PageTable, va: bigint): CoreWalk {
  const levels: WalkLevel[] = [];
  let table = pt.root;
  const n = pt.shifts.length;
  for (let l = 0; l < n; l++) {
    const shift = BigInt(pt.shifts[l]);
    const index = Number((va >> shift) & 511n);
    const lo = pt.readLo(table, index);
    const hi = pt.readHi(table, index);
    const entry = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    levels.push({ level: pt.names[l] as WalkLevel['level'], index, entry, table: BigInt(table) * 4096n });
    if (!(lo & PTE_PRESENT)) return { levels, mapped: false, phys: 0n, pageSize: 0 };
    const pfn = entryPfn(lo, hi);
    if (l === n - 1 || lo & PTE_PSE) {
      const size = 1n << shift;
      return { levels, mapped: true, phys: BigInt(pfn) * 4096n + (va & (size - 1n)), pageSize: Number(size) };
    }
    table = pfn;
  }
  return { levels, mapped: false, phys: 0n, pageSize: 0 };
}

const U64 = 1n << 64n;
const HALF_4 = 1n << 47n;
const HIGH_4 = U64 - HALF_4;
const HALF_5 = 1n << 56n;
const HIGH_5 = U64 - HALF_5;

/** Bits 63..(47 or 56) all equal bit 47 (4-level) or 56 (5-level); va taken modulo 2^64. */
export function canonical(pt: PageTable, va: bigint): boolean {
  const v = va >= 0n && va < U64 ? va : BigInt.asUintN(64, va);
  return pt.shifts.length === 5 ? v < HALF_5 || v >= HIGH_5 : v < HALF_4 || v >= HIGH_4;
}

/** va's offset in a leaf of `size` bytes (4 KiB, 2 MiB, 1 GiB), exact. */
function leafOffset(va: bigint, size: number): number {
  return Number(va & (size === 4096 ? MASK_4K : size === PMD_SIZE ? MASK_2M : BigInt(size - 1)));
}
const MASK_4K = 4095n;
const MASK_2M = BigInt(PMD_SIZE - 1);

const NONE = BigInt(INSPECT_NONE);
const NOT_CANONICAL = BigInt(INSPECT_NOT_CANONICAL);

/**
 * The lean walk (as assembly/pgtable.ts walkLeafToRes): the physical address va maps to, INSPECT_NONE or
 * INSPECT_NOT_CANONICAL; `res` gets the levels read (core.ts WALK_RES_*).
 */
export function walkLeaf(pt: PageTable, va: bigint, res: Float64Array): bigint {
  if (!canonical(pt, va)) return NOT_CANONICAL;
  const low = vaLow(va >= 0n && va < U64 ? va : BigInt.asUintN(64, va));
  let table = pt.root;
  const n = pt.shifts.length;
  res[WALK_RES_ROOT] = table * 4096;
  for (let l = 0; l < n; l++) {
    const index = pt.index(low, l);
    const f = pt.mem.tableWords(table);
    const lo = f ? f[2 * index] : 0;
    const hi = f ? f[2 * index + 1] : 0;
    res[WALK_RES_ENTRIES + 2 * l] = (hi & 0xfffff) * 4294967296 + (lo >>> 0);
    res[WALK_RES_ENTRIES + 2 * l + 1] = hi >>> 20;
    if (!(lo & PTE_PRESENT)) {
      res[WALK_RES_LEVELS] = l + 1;
      res[WALK_RES_SIZE] = 0;
      return NONE;
    }
    const pfn = entryPfn(lo, hi);
    if (l === n - 1 || lo & PTE_PSE) {
      const size = 2 ** pt.shifts[l];
      res[WALK_RES_LEVELS] = l + 1;
      res[WALK_RES_SIZE] = size;
      return BigInt(Math.floor(pfn / (size / 4096)) * size + leafOffset(va, size));
    }
    table = pfn;
  }
  return NONE; // not reached: the last level is a leaf or not present
}

/** Batch walk (as assembly/pgtable.ts walkManyIo): out[i] = phys or UNMAPPED; the first non-canonical index, or -1. */
export function walkMany(pt: PageTable, vas: BigUint64Array, out: BigUint64Array): number {
  let bad = -1;
  for (let i = 0; i < vas.length; i++) {
    const va = vas[i];
    if (!canonical(pt, va)) {
      if (bad < 0) bad = i;
      out[i] = UNMAPPED;
      continue;
    }
    const low = vaLow(va);
    const phys = pt.translate(low);
    // the low 57 bits as a number are exact to 16 bytes: the offset in the leaf comes from the bigint
    out[i] = phys < 0 ? UNMAPPED : BigInt(phys - (low % pt.lastSize) + leafOffset(va, pt.lastSize));
  }
  return bad;
}

// ---- direct map: init_memory_mapping ----
/**
 * kernel_physical_mapping_init: map [va, va + len) to pfn.. with leaves of `level`; existing leaves
 * are kept, existing tables descended.
 */
export function kernelPhysicalMappingInit(pt: PageTable, va: number, len: number, pfn: number, level: number): number {
  const size = 2 ** pt.shifts[level];
  const last = pt.shifts.length - 1;
  // a whole blank table of 2 MiB or 1 GiB leaves is one run table (assembly: kernelPhysicalMappingInit)
  const runs = level !== last && !pt.mem.faultsArmed();
  for (let off = 0; off < len; off += size) {
    const a = va + off;
    const t = pt.populateTo(a, level, Purpose.DirectMap);
    if (t === LEAF_ABOVE) continue;
    if (t < 0) return t;
    if (runs && a % (512 * size) === 0 && len - off >= 512 * size && pt.mem.isBlank(t) && pt.setRunTable(t, pfn + off / 4096, pt.shifts[level])) {
      off += 511 * size;
      continue;
    }
    const i = pt.index(a, level);
    const lo = pt.readLo(t, i);
    const p = pfn + off / 4096;
    if (!(lo & PTE_PRESENT)) {
      if (!pt.writeLeaf(t, i, p, level === last ? PAGE_FLAGS : LARGE_FLAGS)) return ENOMEM;
    } else if (!(lo & PTE_PSE) && level !== last) {
      const r = kernelPhysicalMappingInit(pt, a, size, p, level + 1);
      if (r < 0) return r;
    }
  }
  return 0;
}

/** init_memory_mapping(startPfn, endPfn): split_mem_range's pieces, ascending. 0 or -ENOMEM. */
export function initMemoryMapping(pt: PageTable, startPfn: number, endPfn: number): number {
  const { pse, gbpages, pageOffset } = pt.cfg;
  const s = startPfn * 4096;
  const e = endPfn * 4096;
  const up = (x: number, a: number) => Math.ceil(x / a) * a;
  const down = (x: number, a: number) => Math.floor(x / a) * a;
  const big = gbpages && pse ? pt.pud : pse ? pt.pmd : pt.pte;
  const mid = pse ? pt.pmd : pt.pte;
  // split_mem_range: 4K head, 2M up to the first 1G boundary, 1G middle, 2M, 4K tail
  const pieces: Array<[number, number, number]> = [];
  let cur = s;
  const cut = (to: number, level: number) => {
    const end = Math.max(cur, Math.min(to, e));
    pieces.push([cur, end, level]);
    cur = end;
  };
  cut(up(s, PMD_SIZE), pt.pte);
  cut(Math.min(up(s, PUD_SIZE), down(e, PMD_SIZE)), mid);
  cut(down(e, PUD_SIZE), big);
  cut(down(e, PMD_SIZE), mid);
  cut(e, pt.pte);
  for (const [from, to, level] of pieces) {
    if (to <= from) continue;
    const r = kernelPhysicalMappingInit(pt, pageOffset + from, to - from, from / 4096, level);
    if (r < 0) return r;
  }
  return 0;
}

// ---- removal: remove_pagetable ----
/**
 * free_pagetable for a vmemmap leaf of 2^order pages. A 4 KiB page with shares loses one instead and
 * stays (put_page_testzero). LOOKUP_ALTMAP (v4.5): the lookup table decides, found -> vmem_altmap_free,
 * else the page allocator; an explicit altmapId (v4.16+): a 2 MiB leaf goes to that altmap when there is
 * one, everything else to the page allocator (Purpose.Memmap). 0, or -EFAULT after a Bug event.
 */
function freePagetable(pt: PageTable, pfn: number, order: number, altmapId: number): number {
  const shares = pt.shares;
  if (order === 0 && shares.shareTotal !== 0 && shares.shareDrop(pfn)) return 0;
  let id = altmapId;
  if (id === LOOKUP_ALTMAP) id = pt.altmaps.lookupAltmap(pfn);
  else if (order !== 9) id = NO_ALTMAP;
  if (id >= 0) {
    pt.altmaps.altmapFree(id, 2 ** order);
    return 0;
  }
  return pt.alloc.freePages(pfn, order, Purpose.Memmap);
}

/**
 * Remove the mappings of [vaStart, vaEnd) held by `table` at `level`, descending. A leaf wholly inside
 * goes (direct map: cleared; vmemmap: free_pagetable, then cleared); a leaf partly inside stays. A child
 * table left all-empty is freed to DRAM and its entry cleared. Stops at the first error.
 */
function removeTable(pt: PageTable, table: number, level: number, vaStart: number, vaEnd: number, direct: boolean, altmapId: number): number {
  const size = 2 ** pt.shifts[level];
  const last = pt.shifts.length - 1;
  let f = pt.mem.tableWords(table);
  if (!f) return 0; // an unbacked table holds no entries
  if (level === last && !direct && pt.shares.shareTotal !== 0 && pt.mem.isBacked(table) && !pt.mem.faultsArmed()) {
    // the entries whose whole 4 KiB lies in [vaStart, vaEnd) (a leaf partly inside stays)
    const base = Math.floor(vaStart / PMD_SIZE) * 512;
    return removePteShared(pt, f, Math.ceil(vaStart / 4096) - base, Math.floor(vaEnd / 4096) - 1 - base, altmapId);
  }
  // a run table is read from its pattern; the first entry cleared backs it (assembly: physWrite64)
  let backed = pt.mem.isBacked(table);
  const clear = (i: number): void => {
    if (!backed) {
      const w = pt.mem.frameForWrite(table);
      if (!w) return;
      f = w;
      backed = true;
    }
    f![2 * i] = 0;
    f![2 * i + 1] = 0;
  };
  // descending (see assembly/pgtable.ts removeTable): frees come off the top of the pattern list
  for (let va = vaEnd; va > vaStart; ) {
    // va - 64, not va - 1: these low-57-bit addresses are exact only at 64-byte granularity
    const base = Math.floor((va - 64) / size) * size;
    const from = Math.max(base, vaStart);
    const i = pt.index(from, level);
    const lo = f[2 * i];
    if (lo & PTE_PRESENT) {
      const pfn = entryPfn(lo, f[2 * i + 1]);
      if (level === last || lo & PTE_PSE) {
        if (base >= vaStart && base + size <= vaEnd) {
          if (!direct) {
            const r = freePagetable(pt, pfn, level === last ? 0 : Math.log2(size / 4096), altmapId);
            if (r < 0) return r;
          }
          clear(i);
        }
      } else {
        const whole = base >= vaStart && base + size <= vaEnd;
        // a whole run table: vmemmap leaves released at once; a direct map's has nothing to release
        const run = whole && (level + 1 === pt.pmd || (direct && level + 1 === pt.pud)) && pt.leafTableStride(pfn, pt.shifts[level + 1]) !== 0;
        const compound = whole && level + 1 === pt.pmd && !direct && !run && releaseCompoundRun(pt, pfn, altmapId);
        const r = run ? (direct ? 1 : releaseRunTable(pt, pfn, altmapId)) : compound ? 1 : removeTable(pt, pfn, level + 1, from, va, direct, altmapId);
        if (r < 0) return r;
        if (r === 1 || pt.tableEmpty(pfn)) {
          if (pt.alloc.freePages(pfn, 0, direct ? Purpose.DirectMap : Purpose.PageTable) < 0) return EFAULT;
          clear(i);
        }
      }
    }
    va = from;
  }
  return 0;
}

/**
 * removeTable of the entries [i0, i] of a backed vmemmap PTE table while pages are shared (assembly/
 * pgtable.ts removePteShared), descending: a run of entries mapping one page with shares drops as many
 * of them as it has at once, the rest one by one. 0, or -EFAULT on a Bug.
 */
function removePteShared(pt: PageTable, f: Uint32Array, i0: number, i: number, altmapId: number): number {
  const shares = pt.shares;
  while (i >= i0) {
    const lo = f[2 * i];
    if (lo & PTE_PRESENT) {
      const hi = f[2 * i + 1];
      const pfn = entryPfn(lo, hi);
      let k = 1;
      while (i - k >= i0 && f[2 * (i - k)] === lo && f[2 * (i - k) + 1] === hi) k++;
      const s = k > 1 ? shares.shareCount(pfn) : 0;
      if (s > 0) {
        const d = Math.min(k, s);
        shares.shareDropMany(pfn, d);
        f.fill(0, 2 * (i - d + 1), 2 * (i + 1));
        i -= d;
        continue;
      }
      if (freePagetable(pt, pfn, 0, altmapId) < 0) return EFAULT;
      f[2 * i] = 0;
      f[2 * i + 1] = 0;
    }
    i--;
  }
  return 0;
}

/**
 * removeTable of a whole run table of 2 MiB leaves (assembly/pgtable.ts releaseRunTable): free_pagetable
 * of each leaf, descending, the entries not cleared one by one (the table is freed next). 1, or -EFAULT
 * on a Bug (the entries above it cleared, as removeTable leaves them).
 */
function releaseRunTable(pt: PageTable, table: number, altmapId: number): number {
  const w = pt.mem.tableWords(table)!;
  for (let i = 511; i >= 0; i--) {
    if (freePagetable(pt, entryPfn(w[2 * i], w[2 * i + 1]), 9, altmapId) < 0) {
      for (let k = 511; k > i; k--) pt.write(table, k, 0, 0);
      return EFAULT;
    }
  }
  return 1;
}

/**
 * removeTable of a whole PMD table that is an intact compound run (assembly/pgtable.ts releaseCompoundRun):
 * all its leaves and PTE tables freed at once. False, nothing changed, when it does not apply.
 */
function releaseCompoundRun(pt: PageTable, pmd: number, altmapId: number): boolean {
  const runs = pt.mem.runs;
  if (runs.list.length === 0 || altmapId === LOOKUP_ALTMAP || pt.mem.faultsArmed()) return false;
  const r = runs.find(pmd);
  if (!r || r.base !== pmd || r.explicit || pt.mem.runTablesBacked(r)) return false;
  const shares = runs.tails(r) * runs.tailShares(r);
  pt.shares.shareImplicit(-shares);
  runs.delete(r);
  pt.alloc.purposeMove(pmd + 1, 512, Purpose.PageTable, Purpose.Memmap);
  if (pt.alloc.freePagesRun(pmd + 1, r.frames - 1, Purpose.Memmap) < 0) {
    pt.alloc.purposeMove(pmd + 1, 512, Purpose.Memmap, Purpose.PageTable);
    runs.create(pmd, r.csShift);
    pt.shares.shareImplicit(shares);
    return false;
  }
  return true;
}

/** remove_pagetable over the virtual range [start, end); vmemmap leaves go as `altmapId` says. */
export function removePagetable(pt: PageTable, start: number, end: number, direct: boolean, altmapId: number): number {
  return removeTable(pt, pt.root, 0, start, end, direct, altmapId);
}

/** kernel_physical_mapping_remove(startPfn, endPfn). 0, or -EFAULT after a Bug event. */
export function kernelPhysicalMappingRemove(pt: PageTable, startPfn: number, endPfn: number): number {
  const base = pt.cfg.pageOffset;
  return removePagetable(pt, base + startPfn * 4096, base + endPfn * 4096, true, NO_ALTMAP);
}
