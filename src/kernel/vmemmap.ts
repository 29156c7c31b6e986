/**
 * The virtual memmap (mm/sparse-vmemmap.c, arch/x86/mm/init_64.c): pfn_to_page / page_to_pfn,
 * vmemmap_populate and vmemmap_free over the core, vmemmap_can_optimize, and the PMD-run debug line
 * of vmemmap_populate_print_last.
 */
import { PopulateFlags, type Core, type LookupEntryInput } from '../core/core.ts';
import { STRUCT_PAGE_SIZE } from '../core/structPage.ts';
import type { Printk } from './printk.ts';
import { PAGES_PER_SECTION, sectionToPfn } from './sparse.ts';

export { LOOKUP_ALTMAP, NO_ALTMAP, PopulateFlags } from '../core/core.ts';

const PMD_SIZE = 0x200000n;
const PAGE_SIZE = 4096;

/** vmemmap_can_optimize: no altmap, and a compound page needs more than VMEMMAP_RESERVE_NR (2) vmemmap pages. */
export function vmemmapCanOptimize(altmap: boolean, vmemmapShift: number): boolean {
  const nrVmemmapPages = (2 ** vmemmapShift * STRUCT_PAGE_SIZE) / PAGE_SIZE;
  return !altmap && vmemmapShift > 0 && nrVmemmapPages > 2;
}

export class Vmemmap {
  /** The PMD run vmemmap_populate_hugepages is tracking for its debug line (addr_start..p_end). */
  private run: { addrStart: bigint; addrEnd: bigint; pStart: bigint; pEnd: bigint; node: number } | null = null;
  private readonly span: bigint;

  constructor(
    private readonly core: Core,
    private readonly log: Printk,
    /** VMEMMAP_START */
    readonly start: bigint,
    physBits: number,
    /** __va, for the debug line's physical side. */
    private readonly va: (phys: bigint) => bigint,
  ) {
    this.span = BigInt(STRUCT_PAGE_SIZE) << BigInt(physBits - 12);
  }

  /** pfn_to_page: the struct page's address in the vmemmap. */
  pfnToPage(pfn: number): bigint {
    return BigInt.asUintN(64, this.start + BigInt(STRUCT_PAGE_SIZE) * BigInt(pfn));
  }

  /** page_to_pfn; null when va is not the start of a struct page in the vmemmap. */
  pageToPfn(va: bigint): number | null {
    const off = va - this.start;
    if (off < 0n || off >= this.span || off % BigInt(STRUCT_PAGE_SIZE) !== 0n) return null;
    return Number(off / BigInt(STRUCT_PAGE_SIZE));
  }

  /** The vmemmap's address range [start, end]. */
  range(): { start: bigint; end: bigint } {
    return { start: this.start, end: this.start + this.span - 1n };
  }

  /** vmemmap_populate (or the base-page path) for the struct pages of [startPfn, +nrPages). */
  populate(startPfn: number, nrPages: number, altmapId: number, flags: PopulateFlags | 0): number {
    return this.core.vmemmapPopulate(startPfn, nrPages, altmapId, flags);
  }

  /** vmemmap_populate_compound_pages */
  populateCompound(startPfn: number, nrPages: number, compoundPages: number, rangeStartPfn: number): number {
    return this.core.vmemmapPopulateCompound(startPfn, nrPages, compoundPages, rangeStartPfn);
  }

  /** vmemmap_free */
  free(startPfn: number, nrPages: number, altmapId: number): number {
    return this.core.vmemmapFree(startPfn, nrPages, altmapId);
  }

  /** hugetlb_vmemmap_optimize_folio: vmemmap pages freed, or a negative errno. */
  optimizeHuge(startPfn: number, nrPages: number): number {
    return this.core.vmemmapOptimizeHuge(startPfn, nrPages);
  }

  /** hugetlb_vmemmap_restore_folio: pages allocated, or a negative errno. */
  restoreHuge(startPfn: number, nrPages: number): number {
    return this.core.vmemmapRestoreHuge(startPfn, nrPages);
  }

  /** find_dev_pagemap, to_vmem_altmap and v4.5's free_pagetable resolve through the pgmap lookup: the core keeps a copy of it. */
  setAltmapLookup(entries: LookupEntryInput[]): number {
    return this.core.setAltmapLookup(entries);
  }

  /** The struct pages of the section are all mapped. */
  sectionMapped(section: number): boolean {
    return this.core.walk(this.pfnToPage(sectionToPfn(section) + PAGES_PER_SECTION - 1)).mapped;
  }

  /** After a failed batch populate of sections [first, last]: how many from `first` are fully mapped. */
  populatedSections(first: number, last: number): number {
    let lo = first;
    let hi = last + 1; // the first section whose memmap is incomplete lies in [lo, hi)
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.sectionMapped(mid)) lo = mid + 1;
      else hi = mid;
    }
    return lo - first;
  }

  /** The node vmemmap_populate is called for (node.ts onNode): the PMD runs print it. */
  node = 0;

  /** vmemmap_populate_hugepages' contiguous-run tracking: a 2 MiB leaf at va backed at phys. */
  trackPmd(addr: bigint, phys: bigint): void {
    const p = this.va(phys);
    if (this.run && this.run.pEnd === p && this.run.node === this.node) {
      this.run.addrEnd = addr + PMD_SIZE;
      this.run.pEnd = p + PMD_SIZE;
      return;
    }
    this.printLast();
    this.run = { addrStart: addr, addrEnd: addr + PMD_SIZE, pStart: p, pEnd: p + PMD_SIZE, node: this.node };
  }

  /** vmemmap_populate_print_last */
  printLast(): void {
    const r = this.run;
    if (!r) return;
    const h = (x: bigint) => x.toString(16);
    // v4.5's %p printed the pointer; later kernels print the same run with no_hash_pointers
    this.log.printk('debug', ` [${h(r.addrStart)}-${h(r.addrEnd - 1n)}] PMD -> [${h(r.pStart)}-${h(r.pEnd - 1n)}] on node ${r.node}`);
    this.run = null;
  }
}
