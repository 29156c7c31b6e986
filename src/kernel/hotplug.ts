/**
 * Memory hotplug on x86-64 (mm/memory_hotplug.c, mm/sparse.c, arch/x86/mm/init_64.c):
 * arch_add_memory / __add_pages / sparse_add_*section and arch_remove_memory / __remove_pages,
 * per profile: whole sections with to_vmem_altmap lookups (v4.5), whole sections with the altmap
 * passed down (v4.18), 2 MiB sub-sections (v6).
 */
import { ERRNO, HostMemoryError } from './errno.ts';
import { hex, pa } from './printk.ts';
import { BOOT, PAGES_PER_SECTION, PAGES_PER_SUBSECTION, pfnToSection, sectionToPfn } from './sparse.ts';
import { LOOKUP_ALTMAP, NO_ALTMAP, PopulateFlags, vmemmapCanOptimize } from './vmemmap.ts';
import { ZONE_DEVICE } from './memmap.ts';
import type { VmemAltmap } from './altmap.ts';
import type { Kernel } from './kernel.ts';

/** An altmap as the hotplug code receives it: passed down (v4.16+), or looked up per pfn (v4.5's to_vmem_altmap). */
export type AltmapArg = { explicit: true; altmap: VmemAltmap | null } | { explicit: false; lookup: (pfn: number) => VmemAltmap | null };

/** struct mhp_params, with what the model adds: who the sections belong to and the pgmap's compound order. */
export interface MhpParams {
  altmap: AltmapArg;
  /** The mapping (or memory block) that hot-adds the sections; invariants attribute blocks by it. */
  owner: object;
  /** The dev_pagemap of a compound devmap: pgmap->vmemmap_shift and its range's first pfn. */
  pgmap?: { vmemmapShift: number; startPfn: number };
}

/** Memory one arch_add_memory call added, as [first pfn, pages, the altmap id its memmap came from or -1 for none left to free]. */
type AddedRun = [number, number, number | null];

/** add_pages()'s WARN_ON_ONCE(ret) site per Debian build (refuse-map-mem-enomem step 04 on 6.12.117 and 6.1.192). */
const ADD_PAGES_WARN: Partial<Record<string, string>> = {
  v6: 'arch/x86/mm/init_64.c:986 add_pages+0x90/0xa0',
  'v6.1': 'arch/x86/mm/init_64.c:978 add_pages+0x8c/0x90',
};

/**
 * How far one vmemmap_populate_compound_pages call may reach for the whole sections [pfn, batchEnd) so
 * that it does what one call per section does (its trace is per section: callers batch only with ftrace
 * off). Compound pages of a section or less: any whole sections (each section starts a compound page
 * either way). Larger ones: a call starting inside a compound page maps all it covers to the previous
 * tail, so it stops at that page's end; one starting on a compound page steps whole compound pages and
 * does not clip the last to its end, so it ends on a compound page's end (or stays inside the first).
 */
export function compoundBatchEnd(pfn: number, pieceEnd: number, batchEnd: number, nr: number, rangeStartPfn: number): number {
  if (nr <= PAGES_PER_SECTION) return batchEnd;
  const off = (pfn - rangeStartPfn) % nr;
  if (off !== 0) return Math.max(pieceEnd, Math.min(batchEnd, pfn + nr - off));
  if (batchEnd - pfn <= nr) return batchEnd;
  return pfn + Math.floor((batchEnd - pfn) / nr) * nr;
}

export class Hotplug {
  constructor(private readonly k: Kernel) {}

  /** What the current arch_add_memory call has added so far, for undoing it when the host runs out of room. */
  private added: AddedRun[] = [];
  /** The failing section's partly populated memmap (v4.x), freed too when the host ran out of room. */
  private partial: AddedRun | null = null;

  /** The core altmap id to use for pfn's section (-1 for none). */
  private altmapFor(a: AltmapArg, pfn: number): VmemAltmap | null {
    return a.explicit ? a.altmap : a.lookup(pfn);
  }

  /** arch_add_memory: the direct map, then __add_pages; WARN_ON_ONCE on failure. */
  archAddMemory(nid: number, start: bigint, size: bigint, params: MhpParams): number {
    const ft = this.k.ftrace;
    if (!ft.on) return this.archAddMemoryTraced(nid, start, size, params);
    ft.enter('arch_add_memory');
    try {
      return this.archAddMemoryTraced(nid, start, size, params);
    } finally {
      ft.exit('arch_add_memory');
    }
  }

  private archAddMemoryTraced(nid: number, start: bigint, size: bigint, params: MhpParams): number {
    const k = this.k;
    const ft = k.ftrace;
    const startPfn = Number(start >> 12n);
    const nrPages = Number(size >> 12n);
    if (ft.on) {
      ft.enter('init_memory_mapping');
      ft.leaf('kernel_physical_mapping_init');
      ft.exit('init_memory_mapping');
    }
    const hostMark = k.hostFailures();
    if (k.pgtable.directMapAdd(startPfn, startPfn + nrPages) < 0) {
      // out of the model's own room, not the kernel's: no oops, nothing left behind
      if (k.hostFailures() !== hostMark) this.hostOomUndo(startPfn, nrPages);
      // alloc_low_page() returned NULL and phys_*_init dereferences it
      k.bug('unable to handle kernel NULL pointer dereference at (null)', 'phys_pmd_init+0x6e/0x2a0', [
        'init_memory_mapping+0x1a5/0x2c0',
        'arch_add_memory+0x4b/0x100',
        'devm_memremap_pages+0x2f1/0x3c0',
      ]);
      return ERRNO.ENOMEM;
    }
    if (ft.on) {
      // x86's add_pages (v4.14+) around the generic __add_pages
      ft.enter('add_pages');
      ft.enter('__add_pages');
    }
    this.added = [];
    this.partial = null;
    let ret: number;
    try {
      ret = this.addPages(nid, startPfn, nrPages, params);
    } catch (e) {
      // the memmap init of added sections ran out of host room (eagerMemmap, say): the same undo
      if (e instanceof HostMemoryError) this.hostOomUndo(startPfn, nrPages);
      throw e;
    }
    if (ft.on) ft.exit('add_pages');
    if (ret && k.hostFailures() !== hostMark) this.hostOomUndo(startPfn, nrPages);
    this.added = [];
    if (ret) k.log.warnOnce('arch_add_memory', ADD_PAGES_WARN[k.profile.name] ?? 'arch/x86/mm/init_64.c:697 arch_add_memory+0xc2/0xd0');
    return ret;
  }

  /**
   * create_altmaps_and_memory_blocks' arch_add_memory of `count` 128 MiB blocks from `start`, each with its
   * own altmap (memmap_on_memory), as many as the core adds at once (addMemoryBlocks): their sections go
   * present, owned by `owner`. Returns the blocks added (0: the caller goes block by block). Untraced, one
   * node's zonelist for every table, and sections not yet active: what the single calls do then.
   */
  addMemoryBlocks(nid: number, start: bigint, count: number, memmapPages: number, owner: object): number {
    const k = this.k;
    const startPfn = Number(start >> 12n);
    const pages = count * 32768;
    if (k.ftrace.on || k.log.debug || k.profile.hotplug !== 'subsection' || !k.numa.sameZonelist(nid) || k.sparse.anyActive(startPfn, startPfn + pages)) return 0;
    const done = k.numa.onNode(nid, () => k.core.addMemoryBlocks(startPfn, count, memmapPages));
    k.drainEvents();
    if (done < 0) throw new Error(`hotplug: the core refused ${count} memory blocks from ${hex(startPfn)} (${done})`);
    if (done > 0) k.sparse.markPresent(startPfn, startPfn + done * 32768, owner);
    return done;
  }

  /**
   * arch_remove_memory of `count` blocks of blockPages from `start` that the core added at once, each with
   * its altmap { base = the block, free = memmapPages, alloc }, as the single calls do it: the sections go,
   * the memmap in one vmemmap_free (one altmap for them all: vmem_altmap_free only counts), then the
   * direct map (the tables they free are the same; frees commute). Untraced, v5.3+ sub-sections. Whether
   * every block's altmap came back to 0 (remove_memory_blocks_and_altmaps warns when not).
   */
  removeMemoryBlocks(start: bigint, blockPages: number, count: number, memmapPages: number, alloc: number): boolean {
    const k = this.k;
    const startPfn = Number(start >> 12n);
    const pages = count * blockPages;
    k.sparse.markAbsent(startPfn, startPfn + pages);
    const altmap = k.altmaps.create({ basePfn: BigInt(startPfn), reserve: 0n, free: BigInt(count * memmapPages), align: 0n, alloc: BigInt(count * alloc) });
    if (!altmap) return k.hostOom();
    k.vmemmap.free(startPfn, pages, altmap.id);
    k.drainEvents();
    const left = k.altmaps.read(altmap).alloc;
    k.altmaps.drop(altmap);
    k.pgtable.directMapRemove(startPfn, startPfn + pages);
    return left === 0n;
  }

  /** __add_pages: validate the altmap, then add section by section (sub-sections on v6); no rollback. */
  private addPages(nid: number, startPfn: number, nrPages: number, params: MhpParams): number {
    const k = this.k;
    const altmap = this.altmapFor(params.altmap, startPfn);
    // v4.16+ checks the altmap it is passed: vmem_altmap_offset (a function of its own until 6.12 inlined it)
    if (altmap !== null && k.profile.altmapExplicit && k.ftrace.on) k.ftrace.leaf('vmem_altmap_offset');
    if (altmap !== null) {
      const f = k.altmaps.read(altmap);
      if (f.basePfn !== BigInt(startPfn) || f.reserve + f.free > BigInt(nrPages)) {
        k.log.printOnce('__add_pages:invalid', 'warn', 'memory add fail, invalid altmap');
        return ERRNO.EINVAL;
      }
      k.altmaps.resetAlloc(altmap);
    }
    if (k.profile.hotplug === 'subsection' && (startPfn % PAGES_PER_SUBSECTION || nrPages % PAGES_PER_SUBSECTION)) {
      k.log.warn('mm/memory_hotplug.c:390 __add_pages+0x1b0/0x200', `Misaligned __add_pages start: ${hex(startPfn)} end: ${hex(startPfn + nrPages - 1)}`);
      return ERRNO.EINVAL;
    }
    // vmemmap_populate(start, end, nid, altmap): the memmap and its tables come from nid's zonelist
    const err = k.numa.onNode(nid, () => (k.profile.hotplug === 'subsection' ? this.addSubsections(startPfn, nrPages, params) : this.addSections(nid, startPfn, nrPages, params)));
    k.vmemmap.printLast();
    return err;
  }

  /** v4.x: __add_section for every section, -EEXIST tolerated; runs of like sections in one core call. */
  private addSections(nid: number, startPfn: number, nrPages: number, params: MhpParams): number {
    const k = this.k;
    const a = params.altmap;
    const endSec = pfnToSection(startPfn + nrPages - 1);
    for (let sec = pfnToSection(startPfn); sec <= endSec; ) {
      if (k.sparse.pfnValid(sectionToPfn(sec))) {
        sec++; // -EEXIST
        continue;
      }
      // a run of absent sections that resolve to the same altmap
      const altmap = this.altmapFor(a, sectionToPfn(sec));
      let last = sec;
      while (last < endSec && !k.sparse.pfnValid(sectionToPfn(last + 1)) && this.altmapFor(a, sectionToPfn(last + 1)) === altmap) last++;
      const first = sectionToPfn(sec);
      const ret = k.vmemmap.populate(first, (last - sec + 1) * PAGES_PER_SECTION, altmap ? altmap.id : -1, 0);
      k.drainEvents();
      const done = ret < 0 ? k.vmemmap.populatedSections(sec, last) : last - sec + 1;
      const freeId = a.explicit ? (altmap ? altmap.id : NO_ALTMAP) : LOOKUP_ALTMAP;
      if (done > 0) {
        // recorded first: a host failure in their memmap init undoes them too
        this.added.push([first, done * PAGES_PER_SECTION, freeId]);
        this.sectionsAdded(nid, first, done * PAGES_PER_SECTION, params);
      }
      if (ret < 0) {
        // what the failing section's populate got before it failed stays (as v4.x leaves it) unless the host ran out
        this.partial = [first + done * PAGES_PER_SECTION, PAGES_PER_SECTION, freeId];
        return ERRNO.ENOMEM;
      }
      sec = last + 1;
    }
    return 0;
  }

  /** The rest of sparse_add_one_section and __add_zone for sections whose memmap is populated. */
  private sectionsAdded(nid: number, first: number, nrPages: number, params: MhpParams): void {
    const k = this.k;
    k.memmap.zeroSections(first, nrPages);
    k.sparse.markPresent(first, first + nrPages, params.owner);
    const altmap = this.altmapFor(params.altmap, first);
    k.memmap.initHotplugSections(first, nrPages, altmap ? k.altmaps.read(altmap) : null, nid);
  }

  /** v5.3+: sparse_add_section per section piece; a piece under a whole section's memmap gets DRAM base pages. */
  private addSubsections(startPfn: number, nrPages: number, params: MhpParams): number {
    const k = this.k;
    const end = startPfn + nrPages;
    const altmap = this.altmapFor(params.altmap, startPfn);
    // __populate_section_memmap: a compound devmap whose vmemmap can be shared takes the compound path,
    // one section at a time (a section inside a larger compound page reuses the previous one's tail)
    const pgmap = params.pgmap;
    const compound = pgmap !== undefined && vmemmapCanOptimize(altmap !== null, pgmap.vmemmapShift);
    for (let pfn = startPfn; pfn < end; ) {
      const pieceEnd = Math.min(end, sectionToPfn(pfnToSection(pfn) + 1));
      // fill_subsection_map: -EEXIST if any sub-section is already active
      if (k.sparse.anyActive(pfn, pieceEnd)) return ERRNO.EEXIST;
      const whole = pieceEnd - pfn === PAGES_PER_SECTION;
      // section_activate: a piece of an early section uses the memmap boot populated for all of it
      if (!whole && k.sparse.earlySection(pfn)) {
        k.sparse.markPresent(pfn, pieceEnd, params.owner);
        this.added.push([pfn, pieceEnd - pfn, null]);
        pfn = pieceEnd;
        continue;
      }
      // whole sections in one batch, as long as they are whole and inactive (one at a time while an observer
      // steps through the trace, so that each sparse_add_section shows its own section's memmap)
      let batchEnd = pieceEnd;
      if (whole && (compound ? !k.ftrace.on : !k.ftrace.observed)) {
        // up to the first section with an active sub-section, in whole sections (one lookup, not one a section)
        const active = k.sparse.firstActivePfn(batchEnd, end);
        batchEnd += Math.floor((active - batchEnd) / PAGES_PER_SECTION) * PAGES_PER_SECTION;
        if (compound) batchEnd = compoundBatchEnd(pfn, pieceEnd, batchEnd, 2 ** pgmap.vmemmapShift, pgmap.startPfn);
      }
      const flags = whole ? (k.profile.basePagesUseAltmap ? PopulateFlags.BasePagesUseAltmap : 0) : PopulateFlags.BasePages;
      const ret = compound
        ? k.vmemmap.populateCompound(pfn, batchEnd - pfn, 2 ** pgmap.vmemmapShift, pgmap.startPfn)
        : k.vmemmap.populate(pfn, batchEnd - pfn, whole && altmap ? altmap.id : -1, flags);
      k.drainEvents();
      if (k.ftrace.on) {
        const done = ret < 0 ? (whole ? k.vmemmap.populatedSections(pfnToSection(pfn), pfnToSection(batchEnd - 1)) : 0) : (batchEnd - pfn) / PAGES_PER_SECTION;
        if (compound) this.traceCompoundSection(pfn, pieceEnd, pgmap);
        else if (whole) for (let i = 0; i < done; i++) this.traceSection(altmap !== null);
        else this.traceBasePages(pfn, pieceEnd);
        if (ret < 0 && whole && !compound) {
          // the failing section: its sparse_add_section returns the error
          this.k.ftrace.leaf('sparse_add_section');
        }
      }
      if (ret < 0) {
        const done = whole ? k.vmemmap.populatedSections(pfnToSection(pfn), pfnToSection(batchEnd - 1)) : 0;
        if (done > 0) {
          k.sparse.markPresent(pfn, pfn + done * PAGES_PER_SECTION, params.owner);
          this.added.push([pfn, done * PAGES_PER_SECTION, altmap !== null ? altmap.id : NO_ALTMAP]);
        }
        // section_activate's failure path: section_deactivate of the failing piece
        const failAt = pfn + done * PAGES_PER_SECTION;
        const failEnd = whole ? failAt + PAGES_PER_SECTION : pieceEnd;
        k.vmemmap.free(failAt, failEnd - failAt, whole && altmap !== null ? altmap.id : NO_ALTMAP);
        k.drainEvents();
        return ERRNO.ENOMEM;
      }
      k.sparse.markPresent(pfn, batchEnd, params.owner);
      this.added.push([pfn, batchEnd - pfn, whole && altmap !== null ? altmap.id : NO_ALTMAP]);
      pfn = batchEnd;
    }
    return 0;
  }

  /**
   * The host budget (or the core's room) ran out mid hot-add: that is the model's limit, not a kernel
   * condition, so no WARN and nothing left behind. Take back what this call added, newest first, and
   * the direct map, then throw HostMemoryError.
   */
  private hostOomUndo(startPfn: number, nrPages: number): never {
    const k = this.k;
    for (const [pfn, n, altmapId] of this.added.reverse()) {
      k.sparse.markAbsent(pfn, pfn + n);
      if (altmapId !== null) k.vmemmap.free(pfn, n, altmapId);
      k.drainEvents();
    }
    this.added = [];
    if (this.partial) {
      const [pfn, n, altmapId] = this.partial;
      if (altmapId !== null) k.vmemmap.free(pfn, n, altmapId);
      k.drainEvents();
      this.partial = null;
    }
    k.pgtable.directMapRemove(startPfn, startPfn + nrPages);
    return k.hostOom();
  }

  // ---------------------------------------------------------------- ftrace of the per-section work the core does in batches

  /** sparse_add_section of a whole section: vmemmap_populate -> vmemmap_populate_hugepages, one 2 MiB block (and its PMD) for the section's 2 MiB of struct pages. */
  private traceSection(_altmap: boolean): void {
    const ft = this.k.ftrace;
    ft.enter('sparse_add_section');
    ft.enter('__populate_section_memmap');
    ft.enter('vmemmap_populate');
    ft.enter('vmemmap_populate_hugepages');
    // with an altmap the block comes from it: altmap_alloc_block_buf, inlined on 6.12 and __meminit before, is never seen
    ft.leaf('vmemmap_alloc_block_buf');
    ft.leaf('vmemmap_set_pmd');
    ft.exit('sparse_add_section');
  }

  /** sparse_add_section of part of a section: vmemmap_populate_basepages, a vmemmap page per 64 struct pages. */
  private traceBasePages(startPfn: number, endPfn: number): void {
    const ft = this.k.ftrace;
    ft.enter('sparse_add_section');
    ft.enter('__populate_section_memmap');
    ft.enter('vmemmap_populate');
    ft.enter('vmemmap_populate_basepages');
    const pages = Math.ceil(((endPfn - startPfn) * 64) / 4096);
    for (let i = 0; i < pages; i++) ft.leaf('vmemmap_alloc_block_buf');
    ft.exit('sparse_add_section');
  }

  /**
   * sparse_add_section of a compound devmap's section (vmemmap_populate_compound_pages, not a traceable
   * function): each compound page that starts in the section gets its head and first tail vmemmap pages
   * (VMEMMAP_RESERVE_NR = 2), the rest reuse them; a section inside a larger compound page allocates nothing.
   */
  private traceCompoundSection(startPfn: number, endPfn: number, pgmap: { vmemmapShift: number; startPfn: number } | undefined): void {
    const ft = this.k.ftrace;
    const nr = 2 ** (pgmap?.vmemmapShift ?? 0);
    const aligned = (startPfn - (pgmap?.startPfn ?? 0)) % nr === 0;
    ft.enter('sparse_add_section');
    ft.enter('__populate_section_memmap');
    const allocs = aligned ? 2 * Math.ceil((endPfn - startPfn) / nr) : 0;
    for (let i = 0; i < allocs; i++) ft.leaf('vmemmap_alloc_block_buf');
    ft.exit('sparse_add_section');
  }

  /** sparse_remove_section -> section_deactivate -> vmemmap_free -> remove_pagetable (free_pagetable gives altmap blocks back with vmem_altmap_free). */
  private traceRemoveSection(altmap: boolean): void {
    const ft = this.k.ftrace;
    ft.enter('sparse_remove_section');
    ft.enter('section_deactivate');
    ft.enter('vmemmap_free');
    ft.enter('remove_pagetable');
    if (altmap) ft.leaf('vmem_altmap_free');
    ft.exit('sparse_remove_section');
  }

  /** arch_remove_memory: __remove_pages, then the direct map. */
  archRemoveMemory(start: bigint, size: bigint, a: AltmapArg): number {
    const ft = this.k.ftrace;
    if (!ft.on) return this.archRemoveMemoryTraced(start, size, a);
    ft.enter('arch_remove_memory');
    try {
      return this.archRemoveMemoryTraced(start, size, a);
    } finally {
      ft.exit('arch_remove_memory');
    }
  }

  private archRemoveMemoryTraced(start: bigint, size: bigint, a: AltmapArg): number {
    const k = this.k;
    const ft = k.ftrace;
    const startPfn = Number(start >> 12n);
    const nrPages = Number(size >> 12n);
    let ret = 0;
    if (ft.on) {
      ft.enter('__remove_pages');
      // map_offset: 5.x+ asks vmem_altmap_offset whatever the altmap (NULL gives 0); v4.16+ only for an altmap
      const hasAltmap = a.explicit ? a.altmap !== null : a.lookup(startPfn) !== null;
      if (k.profile.hotplug === 'subsection' || (hasAltmap && k.profile.altmapExplicit)) ft.leaf('vmem_altmap_offset');
    }
    if (k.profile.hotplug === 'subsection') this.removeSubsections(startPfn, nrPages, a);
    else {
      // the zone comes from the first data page ("with altmap the first mapped page is offset from @start")
      const altmap = this.altmapFor(a, startPfn);
      const mapOffset = altmap !== null ? k.altmaps.offset(altmap) : 0;
      ret = this.removePages(k.memmap.zoneOf(startPfn + mapOffset), startPfn, nrPages, a);
      if (k.poisoned) return ret;
      if (ret) k.log.warnOnce('arch_remove_memory', 'arch/x86/mm/init_64.c:1030 arch_remove_memory+0xa1/0xb0');
    }
    if (ft.on) {
      ft.exit('__remove_pages');
      // kernel_physical_mapping_remove -> remove_pagetable of the direct map
      ft.leaf('remove_pagetable');
    }
    k.pgtable.directMapRemove(startPfn, startPfn + nrPages);
    return ret;
  }

  /** v4.x __remove_pages: __remove_section per section; the loop stops at the first absent one. */
  private removePages(zone: number, startPfn: number, nrPages: number, a: AltmapArg): number {
    const k = this.k;
    if (zone !== ZONE_DEVICE) {
      // release_mem_region_adjustable: a device range is no "System RAM" child it can trim
      const s = BigInt(startPfn) << 12n;
      const e = s + (BigInt(nrPages) << 12n) - 1n;
      k.log.printk('warn', `Unable to release resource <${pa(s)}-${pa(e)}> (${ERRNO.EINVAL})`);
    }
    // map_offset (clear_hwpoisoned_pages of the first section) has nothing to clear in the model;
    // a run of present sections is freed in one core call
    const nrSections = nrPages / PAGES_PER_SECTION;
    const first = pfnToSection(startPfn);
    let run = 0;
    while (run < nrSections && k.sparse.pfnValid(sectionToPfn(first + run))) run++;
    if (run > 0) {
      if (k.ftrace.on) {
        const altmap = a.explicit ? a.altmap !== null : a.lookup(startPfn) !== null;
        // __remove_section -> sparse_remove_one_section -> __kfree_section_memmap -> vmemmap_free, per section
        for (let i = 0; i < run; i++) {
          k.ftrace.enter('sparse_remove_one_section');
          k.ftrace.enter('vmemmap_free');
          if (altmap) k.ftrace.leaf('vmem_altmap_free');
          k.ftrace.exit('sparse_remove_one_section');
        }
      }
      k.sparse.markAbsent(startPfn, startPfn + run * PAGES_PER_SECTION);
      const altmapId = a.explicit ? (a.altmap ? a.altmap.id : NO_ALTMAP) : LOOKUP_ALTMAP;
      const r = k.vmemmap.free(startPfn, run * PAGES_PER_SECTION, altmapId);
      k.drainEvents();
      if (r < 0) return ERRNO.EFAULT;
    }
    // __remove_section of a section that is not present: -EINVAL, and the loop stops
    return run < nrSections ? ERRNO.EINVAL : 0;
  }

  /** v5.3+ __remove_pages: section_deactivate per piece frees that piece's memmap (whole sections in one call). */
  private removeSubsections(startPfn: number, nrPages: number, a: AltmapArg): void {
    const k = this.k;
    const end = startPfn + nrPages;
    const altmap = a.explicit && a.altmap ? a.altmap.id : NO_ALTMAP;
    for (let pfn = startPfn; pfn < end; ) {
      let pieceEnd = Math.min(end, sectionToPfn(pfnToSection(pfn) + 1));
      const whole = pieceEnd - pfn === PAGES_PER_SECTION;
      if (whole) pieceEnd = pfn + Math.floor((end - pfn) / PAGES_PER_SECTION) * PAGES_PER_SECTION;
      if (k.ftrace.on) for (let s = pfn; s < pieceEnd; s += PAGES_PER_SECTION) this.traceRemoveSection(whole && altmap !== NO_ALTMAP);
      k.sparse.markAbsent(pfn, pieceEnd);
      // section_deactivate: an early section keeps its boot memmap
      if (!whole && k.sparse.earlySection(pfn)) {
        pfn = pieceEnd;
        continue;
      }
      k.vmemmap.free(pfn, pieceEnd - pfn, whole ? altmap : NO_ALTMAP);
      k.drainEvents();
      pfn = pieceEnd;
    }
  }

  /** Boot: every section RAM touches is present, its memmap in DRAM, RAM pfns initialised by zone. */
  bootMemmap(ramRanges: Array<[number, number]>): number {
    const k = this.k;
    for (const [i, [s, e]] of ramRanges.entries()) {
      // sparse_init_nid: a node's memmap from the node's own memory
      const nid = k.numa.ramNodes[i] ?? 0;
      const ok = k.numa.onNode(nid, () => {
        const last = pfnToSection(e - 1);
        for (let sec = pfnToSection(s); sec <= last; ) {
          if (k.sparse.pfnValid(sectionToPfn(sec))) {
            sec++;
            continue;
          }
          // a run of sections not yet present in one call: the same 2 MiB steps in the same order as one
          // call per section (the vmemmap of a section is one PMD entry), so whole GiBs go as run tables
          const end = Math.min(last + 1, pfnToSection(k.sparse.firstActivePfn(sectionToPfn(sec), sectionToPfn(last + 1))));
          if (k.vmemmap.populate(sectionToPfn(sec), (end - sec) * PAGES_PER_SECTION, -1, 0) < 0) return false;
          sec = end;
        }
        return true;
      });
      if (!ok) return ERRNO.ENOMEM;
      // subsection_map_init: only the sub-sections the RAM touches are active (the rest of an early
      // section can be hot-added, as a misaligned Soft Reserved range is: softres-misaligned on 6.1.192)
      k.sparse.markPresent(s, e, BOOT);
      k.memmap.initBootRam(s, e);
    }
    k.drainEvents();
    return 0;
  }
}
