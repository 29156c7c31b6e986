/**
 * Memory hotplug on x86-64 (mm/memory_hotplug.c, mm/sparse.c, arch/x86/mm/init_64.c):
 * arch_add_memory / __add_pages / __add_section and arch_remove_memory / __remove_pages.
 */
import { FaultKind, Purpose } from '../core/core.ts';
import { ZONE_DEVICE, ZONE_DMA, ZONE_DMA32, ZONE_NORMAL } from '../core/structPage.ts';
import { ERRNO } from './errno.ts';
import { pa } from './printk.ts';
import { RunMap } from './runmap.ts';
import type { Kernel } from './kernel.ts';

export const PAGES_PER_SECTION = 32768;
export const SECTION_SIZE = 1n << 27n;
export const PFN_SECTION_SHIFT = 15;

export const pfnToSection = (pfn: number): number => Math.floor(pfn / PAGES_PER_SECTION);
export const sectionToPfn = (section: number): number => section * PAGES_PER_SECTION;

/** The zone of a boot RAM pfn. */
export function bootZone(pfn: number): number {
  if (pfn < 0x1000) return ZONE_DMA;
  if (pfn < 0x100000) return ZONE_DMA32;
  return ZONE_NORMAL;
}

export class Hotplug {
  /** Present sections (SECTION_MARKED_PRESENT); the value is the zone they were added to. */
  readonly present = new RunMap<number>();
  /** DRAM memmap pages taken by the last __add_pages (for per-device accounting). */

  constructor(private readonly k: Kernel) {}

  /** pfn_valid with SPARSEMEM_VMEMMAP: the section is present. */
  pfnValid(pfn: number): boolean {
    return this.present.has(pfnToSection(pfn));
  }

  /** arch_add_memory: direct map, then __add_pages; WARN_ON_ONCE on failure. */
  archAddMemory(nid: number, start: bigint, size: bigint, forDevice: boolean): number {
    const k = this.k;
    const startPfn = Number(start >> 12n);
    const nrPages = Number(size >> 12n);
    if (k.core.directMapAdd(startPfn, startPfn + nrPages) < 0) {
      // alloc_low_page() returned NULL: phys_*_init dereferences it
      k.bug('unable to handle kernel NULL pointer dereference at (null)', 'phys_pmd_init+0x6e/0x2a0', [
        'init_memory_mapping+0x1a5/0x2c0',
        'arch_add_memory+0x4b/0x100',
        'devm_memremap_pages+0x2f1/0x3c0',
      ]);
      return ERRNO.ENOMEM;
    }
    const zone = forDevice ? ZONE_DEVICE : ZONE_NORMAL;
    const ret = this.addPages(nid, zone, startPfn, nrPages);
    if (ret) k.log.warnOnce('arch_add_memory', 'arch/x86/mm/init_64.c:697 arch_add_memory+0xc2/0xd0');
    return ret;
  }

  /** __add_pages: the altmap validation, then __add_section per section; no rollback. */
  addPages(nid: number, zone: number, startPfn: number, nrPages: number): number {
    const k = this.k;
    const startSec = pfnToSection(startPfn);
    const endSec = pfnToSection(startPfn + nrPages - 1);
    const altmap = k.memremap.altmapOfPfn(startPfn);
    if (altmap !== null) {
      const f = k.core.altmapRead(altmap);
      if (f.basePfn !== BigInt(startPfn) || f.reserve + f.free > BigInt(nrPages)) {
        k.log.printOnce('__add_pages:invalid', 'warn', 'memory add fail, invalid altmap');
        return ERRNO.EINVAL;
      }
      k.core.altmapWrite(altmap, 'alloc', 0n);
    }
    let err = 0;
    for (let sec = startSec; sec <= endSec; sec++) {
      err = this.addSection(nid, zone, sectionToPfn(sec));
      if (err === ERRNO.EEXIST) err = 0;
      if (err) break;
    }
    k.vmemmapPrintLast();
    return err;
  }

  /** __add_section: sparse_add_one_section, then __add_zone (memmap_init_zone). */
  private addSection(nid: number, zone: number, pfn: number): number {
    const k = this.k;
    if (this.pfnValid(pfn)) return ERRNO.EEXIST;
    // sparse_add_one_section: kmalloc_section_memmap -> vmemmap_populate
    const altmap = k.memremap.altmapOfPfn(pfn);
    const ret = k.core.vmemmapPopulate(pfn, PAGES_PER_SECTION, altmap ?? -1, 0);
    k.drainEvents();
    if (ret < 0) return ERRNO.ENOMEM;
    if (k.core.memmapZero(pfn, PAGES_PER_SECTION) < 0) return k.hostOom();
    this.present.set(pfnToSection(pfn), pfnToSection(pfn) + 1, zone);
    return this.memmapInitZone(PAGES_PER_SECTION, nid, zone, pfn);
  }

  /** memmap_init_zone (MEMMAP_HOTPLUG) with the altmap reserve rule (kernel.md §2.10). */
  private memmapInitZone(size: number, nid: number, zone: number, startPfn: number): number {
    const k = this.k;
    const end = startPfn + size;
    let pfn = startPfn;
    if (k.cfg.memmapInit === 'as-intended') {
      const altmap = k.memremap.altmapOfPfn(startPfn);
      if (altmap !== null) {
        const f = k.core.altmapRead(altmap);
        if (BigInt(startPfn) === f.basePfn) pfn += Number(f.reserve);
      }
    }
    // as shipped, to_vmem_altmap() is handed a physical address and never finds the altmap
    if (pfn < end && k.core.memmapInit(pfn, end - pfn, zone, nid) < 0) return k.hostOom();
    return 0;
  }

  /** arch_remove_memory: zone from the first data page, __remove_pages, then the direct map. */
  archRemoveMemory(start: bigint, size: bigint): number {
    const k = this.k;
    const startPfn = Number(start >> 12n);
    const nrPages = Number(size >> 12n);
    let pagePfn = startPfn;
    const altmap = k.memremap.altmapOfPfn(startPfn);
    if (altmap !== null) pagePfn += k.memremap.altmapOffset(altmap);
    const words = k.core.readPage(pagePfn);
    const zone = words ? Number((words[0] >> 55n) & 7n) : 0;
    const ret = this.removePages(zone, startPfn, nrPages);
    if (k.poisoned) return ret;
    if (ret) k.log.warnOnce('arch_remove_memory', 'arch/x86/mm/init_64.c:1030 arch_remove_memory+0xa1/0xb0');
    k.core.directMapRemove(startPfn, startPfn + nrPages);
    return ret;
  }

  /** __remove_pages: map_offset (the altmap's offset) applies to the first section only. */
  removePages(zone: number, startPfn: number, nrPages: number): number {
    const k = this.k;
    let mapOffset = 0;
    if (zone === ZONE_DEVICE) {
      const altmap = k.memremap.altmapOfPfn(startPfn);
      if (altmap !== null) mapOffset = k.memremap.altmapOffset(altmap);
    } else {
      // release_mem_region_adjustable: device ranges are not "System RAM" children it can trim
      const s = BigInt(startPfn) << 12n;
      const e = s + (BigInt(nrPages) << 12n) - 1n;
      k.log.printk('warn', `Unable to release resource <${pa(s)}-${pa(e)}> (${ERRNO.EINVAL})`);
    }
    let ret = 0;
    for (let i = 0; i < nrPages / PAGES_PER_SECTION; i++) {
      ret = this.removeSection(startPfn + i * PAGES_PER_SECTION, mapOffset);
      mapOffset = 0;
      if (ret || k.poisoned) break;
    }
    return ret;
  }

  /** __remove_section -> sparse_remove_one_section: detach, hwpoison clear from map_offset, vmemmap_free. */
  private removeSection(pfn: number, mapOffset: number): number {
    const k = this.k;
    const sec = pfnToSection(pfn);
    if (!this.present.has(sec)) return ERRNO.EINVAL;
    this.present.delete(sec, sec + 1);
    // clear_hwpoisoned_pages(memmap + map_offset, PAGES_PER_SECTION - map_offset): an int count,
    // negative (a no-op) when map_offset > PAGES_PER_SECTION; the model has no hwpoison to clear
    void mapOffset;
    const r = k.core.vmemmapFree(pfn, PAGES_PER_SECTION);
    k.drainEvents();
    return r < 0 ? ERRNO.EFAULT : 0;
  }

  /** Boot: every section RAM touches is present, its memmap in DRAM, RAM pfns initialised by zone. */
  bootMemmap(ramRanges: Array<[number, number]>): number {
    const k = this.k;
    for (const [s, e] of ramRanges) {
      for (let sec = pfnToSection(s); sec <= pfnToSection(e - 1); sec++) {
        if (this.present.has(sec)) continue;
        if (k.core.vmemmapPopulate(sectionToPfn(sec), PAGES_PER_SECTION, -1, 0) < 0) return ERRNO.ENOMEM;
        this.present.set(sec, sec + 1, ZONE_NORMAL);
      }
      const cuts = [s, Math.max(s, Math.min(e, 0x1000)), Math.max(s, Math.min(e, 0x100000)), e];
      for (let i = 0; i < 3; i++) {
        if (cuts[i + 1] > cuts[i] && k.core.memmapInit(cuts[i], cuts[i + 1] - cuts[i], bootZone(cuts[i]), 0) < 0) return ERRNO.ENOMEM;
      }
    }
    k.drainEvents();
    return 0;
  }
}

export { FaultKind, Purpose };
