/**
 * Memory hotplug on x86-64 (mm/memory_hotplug.c, mm/sparse.c, arch/x86/mm/init_64.c):
 * arch_add_memory / __add_pages / sparse_add_*section and arch_remove_memory / __remove_pages,
 * per profile: whole sections with to_vmem_altmap lookups (v4.5), whole sections with the altmap
 * passed down (v4.18), 2 MiB sub-sections (v6).
 */
import { LOOKUP_ALTMAP, NO_ALTMAP, PopulateFlags } from '../core/core.ts';
import { ZONE_DEVICE, ZONE_DMA, ZONE_DMA32, ZONE_NORMAL } from '../core/structPage.ts';
import { ERRNO } from './errno.ts';
import { hex, pa } from './printk.ts';
import { RunMap } from './runmap.ts';
import type { Kernel } from './kernel.ts';
import { vmemmapCanOptimize } from './memremap.ts';

/** The owner of the sections present at boot. */
export const BOOT = { boot: true };

export const PAGES_PER_SECTION = 32768;
export const PAGES_PER_SUBSECTION = 512;
export const SECTION_SIZE = 1n << 27n;
const SUBSECTIONS = PAGES_PER_SECTION / PAGES_PER_SUBSECTION;

export const pfnToSection = (pfn: number): number => Math.floor(pfn / PAGES_PER_SECTION);
export const sectionToPfn = (section: number): number => section * PAGES_PER_SECTION;
const subsection = (pfn: number): number => Math.floor(pfn / PAGES_PER_SUBSECTION);

/** The zone of a boot RAM pfn. */
export function bootZone(pfn: number): number {
  if (pfn < 0x1000) return ZONE_DMA;
  if (pfn < 0x100000) return ZONE_DMA32;
  return ZONE_NORMAL;
}

/** An altmap as the hotplug code receives it: looked up per pfn (v4.5) or passed down (v4.16+). */
export type AltmapArg = { explicit: true; id: number | null } | { explicit: false };

export class Hotplug {
  /** Active sub-sections (2 MiB); a whole section is 64 of them. The value is who added them: 'boot' or the mapping. */
  readonly active = new RunMap<object>();
  /** The mapping whose hot-add is running (set by memremap around arch_add_memory). */
  owner: object = BOOT;

  constructor(private readonly k: Kernel) {}

  /** pfn_valid with SPARSEMEM_VMEMMAP: the pfn's section is present. */
  pfnValid(pfn: number): boolean {
    const sec = pfnToSection(pfn);
    return this.active.firstIn(sec * SUBSECTIONS, (sec + 1) * SUBSECTIONS) !== null;
  }

  /** Present sections as runs [first, last], boot RAM and device sections apart. */
  presentSections(): Array<[number, number]> {
    const out: Array<[number, number, boolean]> = [];
    for (const r of this.active.all()) {
      const a = Math.floor(r.start / SUBSECTIONS);
      const b = Math.floor((r.end - 1) / SUBSECTIONS);
      const boot = r.value === BOOT;
      const last = out.at(-1);
      if (last && last[2] === boot && last[1] >= a - 1) last[1] = Math.max(last[1], b);
      else out.push([a, b, boot]);
    }
    return out.map(([a, b]) => [a, b]);
  }

  private markPresent(startPfn: number, endPfn: number, owner: object): void {
    this.active.set(subsection(startPfn), subsection(endPfn - 1) + 1, owner);
  }

  /** Who hot-added pfn's sub-section ('boot' at boot), or undefined when it is not present. */
  ownerOf(pfn: number): object | undefined {
    return this.active.get(subsection(pfn));
  }

  /** The core altmap id to use for pfn's section. */
  private altmapFor(a: AltmapArg, pfn: number): number | null {
    return a.explicit ? a.id : this.k.memremap.altmapOfPfn(pfn);
  }

  /** arch_add_memory: the direct map, then __add_pages; WARN_ON_ONCE on failure. */
  archAddMemory(nid: number, start: bigint, size: bigint, altmap: AltmapArg): number {
    const k = this.k;
    const startPfn = Number(start >> 12n);
    const nrPages = Number(size >> 12n);
    if (k.core.directMapAdd(startPfn, startPfn + nrPages) < 0) {
      // alloc_low_page() returned NULL and phys_*_init dereferences it
      k.bug('unable to handle kernel NULL pointer dereference at (null)', 'phys_pmd_init+0x6e/0x2a0', [
        'init_memory_mapping+0x1a5/0x2c0',
        'arch_add_memory+0x4b/0x100',
        'devm_memremap_pages+0x2f1/0x3c0',
      ]);
      return ERRNO.ENOMEM;
    }
    const ret = this.addPages(nid, startPfn, nrPages, altmap);
    if (ret) k.log.warnOnce('arch_add_memory', 'arch/x86/mm/init_64.c:697 arch_add_memory+0xc2/0xd0');
    return ret;
  }

  /** __add_pages: validate the altmap, then add section by section (sub-sections on v6); no rollback. */
  addPages(nid: number, startPfn: number, nrPages: number, a: AltmapArg): number {
    const k = this.k;
    const altmap = this.altmapFor(a, startPfn);
    if (altmap !== null) {
      const f = k.core.altmapRead(altmap);
      if (f.basePfn !== BigInt(startPfn) || f.reserve + f.free > BigInt(nrPages)) {
        k.log.printOnce('__add_pages:invalid', 'warn', 'memory add fail, invalid altmap');
        return ERRNO.EINVAL;
      }
      k.core.altmapWrite(altmap, 'alloc', 0n);
    }
    if (k.profile.hotplug === 'subsection' && (startPfn % PAGES_PER_SUBSECTION || nrPages % PAGES_PER_SUBSECTION)) {
      k.log.warn('mm/memory_hotplug.c:390 __add_pages+0x1b0/0x200', `Misaligned __add_pages start: ${hex(startPfn)} end: ${hex(startPfn + nrPages - 1)}`);
      return ERRNO.EINVAL;
    }
    const err = k.profile.hotplug === 'subsection' ? this.addSubsections(startPfn, nrPages, a) : this.addSections(nid, startPfn, nrPages, a);
    k.vmemmapPrintLast();
    return err;
  }

  /** v4.x: __add_section for every section, -EEXIST tolerated; runs of like sections in one core call. */
  private addSections(nid: number, startPfn: number, nrPages: number, a: AltmapArg): number {
    const k = this.k;
    const endSec = pfnToSection(startPfn + nrPages - 1);
    for (let sec = pfnToSection(startPfn); sec <= endSec; ) {
      if (this.pfnValid(sectionToPfn(sec))) {
        sec++; // -EEXIST
        continue;
      }
      // a run of absent sections that resolve to the same altmap
      const altmap = this.altmapFor(a, sectionToPfn(sec));
      let last = sec;
      while (last < endSec && !this.pfnValid(sectionToPfn(last + 1)) && this.altmapFor(a, sectionToPfn(last + 1)) === altmap) last++;
      const first = sectionToPfn(sec);
      const ret = k.core.vmemmapPopulate(first, (last - sec + 1) * PAGES_PER_SECTION, altmap ?? -1, 0);
      k.drainEvents();
      const done = ret < 0 ? this.populatedSections(sec, last) : last - sec + 1;
      if (done > 0) this.sectionsAdded(nid, first, done, a);
      if (ret < 0) return ERRNO.ENOMEM;
      sec = last + 1;
    }
    return 0;
  }

  /** After a failed batch populate: how many sections from `first` were fully populated. */
  private populatedSections(first: number, last: number): number {
    const mapped = (sec: number) => this.k.core.walk(this.k.vmemmapVa(sectionToPfn(sec) + PAGES_PER_SECTION - 1)).mapped;
    let lo = first;
    let hi = last + 1; // first section whose memmap is incomplete lies in [lo, hi)
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (mapped(mid)) lo = mid + 1;
      else hi = mid;
    }
    return lo - first;
  }

  /** The rest of sparse_add_one_section and __add_zone for sections whose memmap is populated. */
  private sectionsAdded(nid: number, first: number, nrSections: number, a: AltmapArg): void {
    const k = this.k;
    const n = nrSections * PAGES_PER_SECTION;
    if (k.profile.zeroMemmapOnAdd && k.core.memmapZero(first, n) < 0) k.hostOom();
    this.markPresent(first, first + n, this.owner);
    if (k.profile.memmapInit !== 'v4.5') return;
    // memmap_init_zone per section (MEMMAP_HOTPLUG); kernel.md §2.10's reserve rule
    let from = first;
    if (k.cfg.memmapInit === 'as-intended') {
      const altmap = this.altmapFor(a, first);
      if (altmap !== null) {
        const f = k.core.altmapRead(altmap);
        if (BigInt(first) === f.basePfn) from += Number(f.reserve);
      }
    }
    // as shipped, to_vmem_altmap() is handed a physical address and never finds the altmap
    if (from < first + n && k.memmapInit(from, first + n - from, ZONE_DEVICE, nid) < 0) k.hostOom();
  }

  /** v5.3+: sparse_add_section per section piece; a piece under a whole section's memmap gets DRAM base pages. */
  private addSubsections(startPfn: number, nrPages: number, a: AltmapArg): number {
    const k = this.k;
    const end = startPfn + nrPages;
    const altmap = this.altmapFor(a, startPfn);
    for (let pfn = startPfn; pfn < end; ) {
      const pieceEnd = Math.min(end, sectionToPfn(pfnToSection(pfn) + 1));
      // fill_subsection_map: -EEXIST if any sub-section is already active
      if (this.active.firstIn(subsection(pfn), subsection(pieceEnd - 1) + 1)) return ERRNO.EEXIST;
      const whole = pieceEnd - pfn === PAGES_PER_SECTION;
      // __populate_section_memmap: a compound devmap whose vmemmap can be shared takes the compound path,
      // one section at a time (a section inside a larger compound page reuses the previous one's tail)
      const pm = this.owner as { vmemmapShift?: number; start?: bigint };
      const compound = pm.vmemmapShift !== undefined && vmemmapCanOptimize(altmap !== null, pm.vmemmapShift);
      // whole sections in one batch, as long as they are whole and inactive
      let batchEnd = pieceEnd;
      if (whole && !compound) {
        while (batchEnd + PAGES_PER_SECTION <= end && !this.active.firstIn(subsection(batchEnd), subsection(batchEnd + PAGES_PER_SECTION - 1) + 1)) batchEnd += PAGES_PER_SECTION;
      }
      const flags = whole ? (k.profile.basePagesUseAltmap ? PopulateFlags.BasePagesUseAltmap : 0) : PopulateFlags.BasePages;
      const ret = compound
        ? k.core.vmemmapPopulateCompound(pfn, batchEnd - pfn, 2 ** pm.vmemmapShift!, Number(pm.start! >> 12n))
        : k.core.vmemmapPopulate(pfn, batchEnd - pfn, whole ? (altmap ?? -1) : -1, flags);
      k.drainEvents();
      if (ret < 0) {
        const done = whole ? this.populatedSections(pfnToSection(pfn), pfnToSection(batchEnd - 1)) : 0;
        if (done > 0) this.markPresent(pfn, pfn + done * PAGES_PER_SECTION, this.owner);
        // section_activate's failure path: section_deactivate of the failing piece
        const failAt = pfn + done * PAGES_PER_SECTION;
        const failEnd = whole ? failAt + PAGES_PER_SECTION : pieceEnd;
        k.core.vmemmapFree(failAt, failEnd - failAt, whole && altmap !== null ? altmap : NO_ALTMAP);
        k.drainEvents();
        return ERRNO.ENOMEM;
      }
      this.markPresent(pfn, batchEnd, this.owner);
      pfn = batchEnd;
    }
    return 0;
  }

  /** arch_remove_memory: __remove_pages, then the direct map. */
  archRemoveMemory(start: bigint, size: bigint, a: AltmapArg): number {
    const k = this.k;
    const startPfn = Number(start >> 12n);
    const nrPages = Number(size >> 12n);
    let ret = 0;
    if (k.profile.hotplug === 'subsection') this.removeSubsections(startPfn, nrPages, a);
    else {
      // the zone comes from the first data page ("with altmap the first mapped page is offset from @start")
      let pagePfn = startPfn;
      const altmap = this.altmapFor(a, startPfn);
      if (altmap !== null) pagePfn += k.memremap.altmapOffset(altmap);
      const words = k.core.readPage(pagePfn);
      const zone = words ? Number((words[0] >> 55n) & 7n) : 0;
      ret = this.removePages(zone, startPfn, nrPages, a);
      if (k.poisoned) return ret;
      if (ret) k.log.warnOnce('arch_remove_memory', 'arch/x86/mm/init_64.c:1030 arch_remove_memory+0xa1/0xb0');
    }
    k.core.directMapRemove(startPfn, startPfn + nrPages);
    return ret;
  }

  /** v4.x __remove_pages: map_offset (the altmap's offset) applies to the first section only. */
  private removePages(zone: number, startPfn: number, nrPages: number, a: AltmapArg): number {
    const k = this.k;
    let mapOffset = 0;
    if (zone === ZONE_DEVICE) {
      const altmap = this.altmapFor(a, startPfn);
      if (altmap !== null) mapOffset = k.memremap.altmapOffset(altmap);
    } else {
      // release_mem_region_adjustable: a device range is no "System RAM" child it can trim
      const s = BigInt(startPfn) << 12n;
      const e = s + (BigInt(nrPages) << 12n) - 1n;
      k.log.printk('warn', `Unable to release resource <${pa(s)}-${pa(e)}> (${ERRNO.EINVAL})`);
    }
    // __remove_section per section, map_offset on the first only; a run of present sections is freed in one core call
    const nrSections = nrPages / PAGES_PER_SECTION;
    const first = pfnToSection(startPfn);
    let run = 0;
    while (run < nrSections && this.pfnValid(sectionToPfn(first + run))) run++;
    if (run > 0) {
      // clear_hwpoisoned_pages(memmap + map_offset, PAGES_PER_SECTION - map_offset) takes an int count that is
      // negative, a no-op, when map_offset > PAGES_PER_SECTION; the model has no hwpoison to clear
      void mapOffset;
      this.active.delete(subsection(startPfn), subsection(startPfn) + run * SUBSECTIONS);
      const r = k.core.vmemmapFree(startPfn, run * PAGES_PER_SECTION, a.explicit ? (a.id ?? NO_ALTMAP) : LOOKUP_ALTMAP);
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
    const altmap = a.explicit && a.id !== null ? a.id : NO_ALTMAP;
    for (let pfn = startPfn; pfn < end; ) {
      let pieceEnd = Math.min(end, sectionToPfn(pfnToSection(pfn) + 1));
      const whole = pieceEnd - pfn === PAGES_PER_SECTION;
      if (whole) while (pieceEnd + PAGES_PER_SECTION <= end) pieceEnd += PAGES_PER_SECTION;
      this.active.delete(subsection(pfn), subsection(pieceEnd - 1) + 1);
      k.core.vmemmapFree(pfn, pieceEnd - pfn, whole ? altmap : NO_ALTMAP);
      k.drainEvents();
      pfn = pieceEnd;
    }
  }

  /** Boot: every section RAM touches is present, its memmap in DRAM, RAM pfns initialised by zone. */
  bootMemmap(ramRanges: Array<[number, number]>): number {
    const k = this.k;
    for (const [s, e] of ramRanges) {
      for (let sec = pfnToSection(s); sec <= pfnToSection(e - 1); sec++) {
        if (this.pfnValid(sectionToPfn(sec))) continue;
        if (k.core.vmemmapPopulate(sectionToPfn(sec), PAGES_PER_SECTION, -1, 0) < 0) return ERRNO.ENOMEM;
        this.markPresent(sectionToPfn(sec), sectionToPfn(sec + 1), BOOT);
      }
      const cuts = [s, Math.max(s, Math.min(e, 0x1000)), Math.max(s, Math.min(e, 0x100000)), e];
      for (let i = 0; i < 3; i++) {
        if (cuts[i + 1] > cuts[i] && k.memmapInit(cuts[i], cuts[i + 1] - cuts[i], bootZone(cuts[i]), 0) < 0) return ERRNO.ENOMEM;
      }
    }
    k.drainEvents();
    return 0;
  }
}
