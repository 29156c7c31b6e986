/**
 * x86-64 page tables (twin of assembly/pgtable.ts): entries live in simulated physical memory.
 * Virtual addresses in hot paths are numbers holding the low 57 bits (exact for the 64-byte
 * aligned addresses the model uses); index i of level l is floor(va / 2^shift[l]) % 512.
 */
import { Purpose } from '../core.ts';
import { EFAULT, ENOMEM } from './util.ts';
import type { PhysMem } from './physmem.ts';
import type { PageAlloc } from './pagealloc.ts';

export const PTE_PRESENT = 0x1;
export const PTE_PSE = 0x80;
/** _KERNPG_TABLE */
export const TABLE_FLAGS = 0x63;
/** __PAGE_KERNEL_LARGE (low bits); NX in the high half */
export const LARGE_FLAGS = 0x1e3;
/** __PAGE_KERNEL (low bits) */
export const PAGE_FLAGS = 0x163;
export const NX_HI = 0x80000000;

export const LEVEL_NAMES_4 = ['pgd', 'pud', 'pmd', 'pte'] as const;
export const LEVEL_NAMES_5 = ['pgd', 'p4d', 'pud', 'pmd', 'pte'] as const;

export const SZ_2M = 2 ** 21;
export const SZ_1G = 2 ** 30;

/** The pfn an entry points at. */
export function entryPfn(lo: number, hi: number): number {
  return (lo >>> 12) + (hi & 0xfffff) * 1048576;
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
  /** Scratch for reading entries of unbacked tables. */

  constructor(
    levels: 4 | 5,
    readonly mem: PhysMem,
    readonly alloc: PageAlloc,
  ) {
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
    const f = this.mem.peek(table);
    return f ? f[2 * i] : 0;
  }
  readHi(table: number, i: number): number {
    const f = this.mem.peek(table);
    return f ? f[2 * i + 1] : 0;
  }

  /** Store an entry; backs the table's frame. false on budget exhaustion. */
  write(table: number, i: number, lo: number, hi: number): boolean {
    const f = this.mem.back(table);
    if (!f) return false;
    f[2 * i] = lo >>> 0;
    f[2 * i + 1] = hi >>> 0;
    return true;
  }

  clear(table: number, i: number): void {
    const f = this.mem.peek(table);
    if (f) {
      f[2 * i] = 0;
      f[2 * i + 1] = 0;
    }
  }

  /** Write a leaf entry for pfn with low flags and NX. */
  writeLeaf(table: number, i: number, pfn: number, flags: number): boolean {
    return this.write(table, i, ((pfn % 1048576) * 4096 + flags) >>> 0, (Math.floor(pfn / 1048576) | NX_HI) >>> 0);
  }

  /**
   * The table at `level` for va, allocating missing tables above it (purpose for new ones).
   * Returns the table pfn, -ENOMEM, or -2 when a leaf sits above `level`.
   */
  tableFor(va: number, level: number, purpose: Purpose): number {
    let table = this.root;
    for (let l = 0; l < level; l++) {
      const i = this.index(va, l);
      const lo = this.readLo(table, i);
      if (lo & PTE_PRESENT) {
        if (lo & PTE_PSE) return -2;
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

  /** The table at `level` for va if every level above is present and not a leaf; else -1. */
  findTable(va: number, level: number): number {
    let table = this.root;
    for (let l = 0; l < level; l++) {
      const lo = this.readLo(table, this.index(va, l));
      if (!(lo & PTE_PRESENT) || lo & PTE_PSE) return -1;
      table = entryPfn(lo, this.readHi(table, this.index(va, l)));
    }
    return table;
  }

  /** True when no entry of the table is present. */
  isEmpty(table: number): boolean {
    const f = this.mem.peek(table);
    if (!f) return true;
    for (let i = 0; i < 1024; i++) if (f[i] !== 0) return false;
    return true;
  }

  /**
   * Translate va (low-57-bit number, 64-byte aligned at least) to its backing: returns the
   * physical byte address as a number, with the mapping's page size in `lastSize`; -1 if unmapped.
   */
  lastSize = 0;
  translate(va: number): number {
    let table = this.root;
    const levels = this.shifts.length;
    for (let l = 0; l < levels; l++) {
      const i = this.index(va, l);
      const f = this.mem.peek(table);
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


/** What remove walks do with a leaf they clear: nothing (direct map) or free_pagetable (vmemmap). Returns 0 or an errno. */
export type LeafRelease = (pfn: number, order: number) => number;

/**
 * remove_pagetable: clear leaves wholly inside [vaStart, vaEnd) below `table` at `level`, and free
 * tables left empty (with `tablePurpose`). Stops at the first error from `release`.
 */
export function removeRange(
  pt: PageTable,
  table: number,
  level: number,
  vaStart: number,
  vaEnd: number,
  release: LeafRelease | null,
  tablePurpose: Purpose,
): number {
  const size = 2 ** pt.shifts[level];
  const last = pt.shifts.length - 1;
  const f = pt.mem.peek(table);
  if (!f) return 0; // an unbacked table holds no entries
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
          if (release) {
            const r = release(pfn, level === last ? 0 : Math.log2(size / 4096));
            if (r < 0) return r;
          }
          f[2 * i] = 0;
          f[2 * i + 1] = 0;
        }
      } else {
        const r = removeRange(pt, pfn, level + 1, from, va, release, tablePurpose);
        if (r < 0) return r;
        if (pt.isEmpty(pfn)) {
          if (pt.alloc.freePages(pfn, 0, tablePurpose) < 0) return EFAULT;
          f[2 * i] = 0;
          f[2 * i + 1] = 0;
        }
      }
    }
    va = from;
  }
  return 0;
}

/** Map [va, va + len) to pfn.. with leaves of `level`; existing leaves are kept, existing tables descended. */
export function mapRange(pt: PageTable, va: number, len: number, pfn: number, level: number, purpose: Purpose): number {
  const size = 2 ** pt.shifts[level];
  const last = pt.shifts.length - 1;
  for (let off = 0; off < len; off += size) {
    const a = va + off;
    const t = pt.tableFor(a, level, purpose);
    if (t === -2) continue;
    if (t < 0) return t;
    const i = pt.index(a, level);
    const lo = pt.readLo(t, i);
    const p = pfn + off / 4096;
    if (!(lo & PTE_PRESENT)) {
      if (!pt.writeLeaf(t, i, p, level === last ? PAGE_FLAGS : LARGE_FLAGS)) return ENOMEM;
    } else if (!(lo & PTE_PSE) && level !== last) {
      const r = mapRange(pt, a, size, p, level + 1, purpose);
      if (r < 0) return r;
    }
  }
  return 0;
}
