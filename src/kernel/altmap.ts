/**
 * struct vmem_altmap (include/linux/memremap.h, mm/sparse-vmemmap.c): the kernel's handles to the
 * altmaps the core holds, and their arithmetic: vmem_altmap_offset, vmem_altmap_next_pfn,
 * vmem_altmap_nr_free, vmem_altmap_alloc / altmap_alloc_block_buf, vmem_altmap_free.
 */
import type { AltmapFields, Core } from '../core/core.ts';

export type { AltmapFields } from '../core/core.ts';

/** A struct vmem_altmap: its core slot, and the generation that tells a reused slot from this one. */
export interface VmemAltmap {
  readonly id: number;
  readonly gen: number;
}

/** The counters of a struct vmem_altmap, with the derived next_pfn and nr_free. */
export interface AltmapCounters {
  /** base_pfn: the first pfn of the whole dev_pagemap range. */
  basePfn: number;
  /** reserve: pfns mapped but kept for the driver (the info block), from base_pfn; in pages. */
  reserve: number;
  /** free: pages set aside after the reserve for memmap storage (the pool). */
  free: number;
  /** align: pool pages skipped to meet allocation alignments. */
  align: number;
  /** alloc: pool pages consumed by vmemmap_populate. */
  alloc: number;
  /** vmem_altmap_next_pfn: base_pfn + reserve + alloc + align, the pfn the next allocation starts at. */
  nextPfn: number;
  /** vmem_altmap_nr_free: free - (alloc + align), 0 when used up; in pages. */
  nrFree: number;
}

/** vmem_altmap_offset: the pfns the altmap keeps from the start of the range (reserve + free). */
export function vmemAltmapOffset(f: AltmapFields): number {
  return Number(BigInt.asUintN(64, f.reserve + f.free));
}

/** vmem_altmap_next_pfn */
export function vmemAltmapNextPfn(f: AltmapFields): number {
  return Number(BigInt.asUintN(64, f.basePfn + f.reserve + f.alloc + f.align));
}

/** vmem_altmap_nr_free */
export function vmemAltmapNrFree(f: AltmapFields): number {
  const used = BigInt.asUintN(64, f.alloc + f.align);
  return f.free > used ? Number(f.free - used) : 0;
}

/** The fields as numbers, with next_pfn and nr_free. */
export function altmapCounters(f: AltmapFields): AltmapCounters {
  return {
    basePfn: Number(f.basePfn),
    reserve: Number(f.reserve),
    free: Number(f.free),
    align: Number(f.align),
    alloc: Number(f.alloc),
    nextPfn: vmemAltmapNextPfn(f),
    nrFree: vmemAltmapNrFree(f),
  };
}

/** The live altmaps, and the last fields of freed ones (a crash-dump reader can still see them). */
export class Altmaps {
  private readonly genOf = new Map<number, number>();
  private readonly retired = new Map<number, AltmapFields>();
  private nextGen = 1;

  constructor(private readonly core: Core) {}

  /** A new altmap with these fields, or null when the core has no room. */
  create(f: AltmapFields): VmemAltmap | null {
    const id = this.core.altmapCreate(f);
    if (id < 0) return null;
    const gen = this.nextGen++;
    this.genOf.set(id, gen);
    return { id, gen };
  }

  release(a: VmemAltmap): void {
    if (!this.alive(a)) return;
    this.retired.set(a.gen, this.core.altmapRead(a.id));
    this.genOf.delete(a.id);
    this.core.altmapRelease(a.id);
  }

  /** Free an altmap no one can ask about afterwards (a memory block's own): nothing kept of it. */
  drop(a: VmemAltmap): void {
    if (!this.alive(a)) return;
    this.genOf.delete(a.id);
    this.core.altmapRelease(a.id);
  }

  alive(a: VmemAltmap): boolean {
    return this.genOf.get(a.id) === a.gen;
  }

  /** The live fields, or the last ones of a freed altmap, or null for one this kernel never made. */
  fields(a: VmemAltmap): AltmapFields | null {
    return this.alive(a) ? this.core.altmapRead(a.id) : (this.retired.get(a.gen) ?? null);
  }

  read(a: VmemAltmap): AltmapFields {
    return this.core.altmapRead(a.id);
  }

  /** vmem_altmap_offset of a live altmap. */
  offset(a: VmemAltmap): number {
    return vmemAltmapOffset(this.core.altmapRead(a.id));
  }

  /** __add_pages resets the allocator before the hot-add uses it. */
  resetAlloc(a: VmemAltmap): void {
    this.core.altmapWrite(a.id, 'alloc', 0n);
  }

  /** vmem_altmap_alloc: the first pfn of nrPfns pfns, or -1. */
  alloc(a: VmemAltmap, nrPfns: number): number {
    return this.core.altmapAlloc(a.id, nrPfns);
  }

  /** vmem_altmap_free: alloc -= nrPfns (no checks, as in the kernel; unsigned wrap). */
  free(a: VmemAltmap, nrPfns: number): void {
    this.core.altmapFree(a.id, nrPfns);
  }
}
