/**
 * devm_memremap_pages (kernel/memremap.c in v4.5/v4.18; memremap_pages + pagemap_range in mm/memremap.c
 * on v6), its release (devm_memremap_pages_release / memunmap_pages), the pgmap lookup
 * (pgmap_radix keyed by section, later by pfn), find_dev_pagemap, to_vmem_altmap, vmem_altmap_offset.
 */
import { vmemAltmapOffset } from './altmap.ts';
import type { AltmapFields, VmemAltmap } from './altmap.ts';
import type { Device } from './devres.ts';
import { HostMemoryError, KernelError } from './errno.ts';
import type { AltmapArg, MhpParams } from './hotplug.ts';
import type { Kernel } from './kernel.ts';
import { Purpose } from './pagealloc.ts';
import { pr } from './printk.ts';
import { RunMap } from './runmap.ts';
import { PAGES_PER_SECTION, SECTION_SIZE } from './sparse.ts';

/** struct page_map (v4.5) / struct dev_pagemap: the mapping, with copies of the caller's resource and altmap. */
export interface PageMap {
  dev: Device;
  start: bigint;
  /** Inclusive. */
  end: bigint;
  /** This mapping's copy of the caller's altmap, or null. */
  altmap: VmemAltmap | null;
  /** Kernel address of the dev_pagemap (page->pgmap points here). */
  pgmapAddr: bigint;
  /** DRAM page holding the payload. */
  slabPfn: number;
  /** devres_free'd (a lookup entry may still point here: a stale pointer). */
  freed: boolean;
  /** DRAM memmap pages this mapping's hot-add took (map=mem). */
  dramMemmapPages: number;
  /** Sections its hot-add covered. */
  sections: number;
  /** pgmap->vmemmap_shift: compound pages of 2^shift pfns (device-dax on v5.17+), 0 for none. */
  vmemmapShift: number;
}

/** offsetof(struct page_map, pgmap): the copied resource (56 bytes) and the ref pointer precede it. */
const PGMAP_OFFSET = 0x40n;

export class Memremap {
  /** The pgmap lookup, keyed by pfn (v4.5's section-keyed radix stores whole sections). */
  readonly lookup = new RunMap<PageMap>();
  /** Mappings attached to a device (devres added, not yet released). */
  readonly live = new Set<PageMap>();
  /**
   * Live mappings whose lookup keys another call's v4.5 pgmap_radix_release deleted: from then on
   * to_vmem_altmap credits their blocks' frees to whichever pgmap the lookup finds, so no altmap's
   * alloc is checkable against the blocks it mapped (the kernel's own corruption, kept as it is).
   */
  readonly clobbered = new Set<PageMap>();

  constructor(private readonly k: Kernel) {}

  /** to_vmem_altmap as v4.5 does it: the altmap of the pgmap that holds pfn's struct page, or null. */
  readonly toVmemAltmap = (pfn: number): VmemAltmap | null => this.lookup.get(pfn)?.altmap ?? null;

  /** How hotplug receives this era's altmap: passed down, or looked up per section. */
  private altmapArg(pm: PageMap): AltmapArg {
    return this.k.profile.altmapExplicit ? { explicit: true, altmap: pm.altmap } : { explicit: false, lookup: this.toVmemAltmap };
  }

  /** The pgmaps the core's copy of the lookup names, by the id it holds for each (find_dev_pagemap's answer). */
  readonly byId = new Map<number, PageMap>();
  private readonly idOf = new WeakMap<PageMap, number>();
  private nextId = 0;

  /** Mirror the lookup into the core: find_dev_pagemap / to_vmem_altmap answer from there, v4.5's free_pagetable too. */
  private syncLookup(): void {
    const entries = [];
    this.byId.clear();
    for (const r of this.lookup.all()) {
      const pm = r.value;
      let id = this.idOf.get(pm);
      if (id === undefined) this.idOf.set(pm, (id = this.nextId++));
      this.byId.set(id, pm);
      entries.push({ startPfn: r.start, endPfn: r.end, altmapId: pm.altmap !== null ? pm.altmap.id : -1, pgmapId: id });
    }
    // past the core's LOOKUP_MAX ranges: the model's room, not the kernel's (the caller takes its entry back)
    if (this.k.vmemmap.setAltmapLookup(entries) < 0) this.k.hostOom();
  }

  /** find_dev_pagemap / get_dev_pagemap */
  findDevPagemap(phys: bigint): PageMap | null {
    return this.lookup.get(Number(phys >> 12n)) ?? null;
  }

  /** devm_memremap_pages (kernel.md §2.1; pagemap_range on v6): returns __va(res.start) or throws KernelError. */
  devmMemremapPages(dev: Device, start: bigint, end: bigint, altmap: AltmapFields | null, vmemmapShift = 0): bigint {
    const ft = this.k.ftrace;
    if (ft.on) {
      ft.enter('devm_memremap_pages');
      // v5.x+: devm_memremap_pages is a wrapper of memremap_pages (v4.x has no memremap_pages: not listed there)
      ft.enter('memremap_pages');
    }
    try {
      return this.memremapPages(dev, start, end, altmap, vmemmapShift);
    } finally {
      if (ft.on) ft.exit('devm_memremap_pages');
    }
  }

  /** memremap_pages + pagemap_range (mm/memremap.c, v5.x+), devm_memremap_pages' own body on v4.x. */
  private memremapPages(dev: Device, start: bigint, end: bigint, altmap: AltmapFields | null, vmemmapShift: number): bigint {
    const k = this.k;
    const ft = k.ftrace;
    const p = k.profile;
    const size = end - start + 1n;
    const alignStart = start & ~(SECTION_SIZE - 1n);
    const alignEnd = roundUp(start + size, SECTION_SIZE);
    const alignSize = p.addSizeEndAligned ? alignEnd - alignStart : roundUp(size, SECTION_SIZE);

    if (!k.cfg.zoneDevice) {
      k.log.warnOnce('devm_memremap_pages:stub', 'include/linux/memremap.h:90 devm_memremap_pages+0x1e/0x30');
      throw new KernelError('ENXIO', 'devm_memremap_pages: CONFIG_ZONE_DEVICE is not set');
    }
    if (p.conflictCheck !== 'none') this.conflictCheck(dev, p.conflictCheck === 'aligned' ? [alignStart, alignStart + alignSize - 1n] : [start, end]);
    if (ft.on) ft.leaf('region_intersects');
    const isRam = p.mixedCheckAligned ? k.iomem.regionIntersects(alignStart, alignEnd - alignStart, 'System RAM') : k.iomem.regionIntersects(start, size, 'System RAM');
    if (isRam === 'REGION_MIXED' || (isRam === 'REGION_INTERSECTS' && p.refuseRam)) {
      const kind = isRam === 'REGION_MIXED' ? 'mixed' : 'ram';
      const text = p.refuseRam ? `pagemap_range attempted on ${kind} region ${pr(start, end)}` : `devm_memremap_pages attempted on mixed region ${pr(start, end)}`;
      k.log.warnOnce('devm_memremap_pages:mixed', p.refuseRam ? 'mm/memremap.c:191 pagemap_range+0x3a5/0x3c0' : 'kernel/memremap.c:202 devm_memremap_pages+0x3a5/0x3c0', text);
      throw new KernelError('ENXIO', `${text}: System RAM and device memory cannot be mixed`);
    }
    if (isRam === 'REGION_INTERSECTS') return k.va(start);
    if (altmap && !k.cfg.sparsememVmemmap) {
      k.log.printk('err', `${dev.prefix()}devm_memremap_pages: altmap requires CONFIG_SPARSEMEM_VMEMMAP=y`);
      throw new KernelError('ENXIO', 'devm_memremap_pages: altmap requires CONFIG_SPARSEMEM_VMEMMAP=y');
    }

    const pm = this.allocPageMap(dev, start, end, altmap);
    pm.vmemmapShift = vmemmapShift;
    try {
      this.insertLookup(pm, alignStart, alignSize);
    } catch (e) {
      if (e instanceof HostMemoryError) this.unwind(pm);
      throw e;
    }

    const memmapBefore = k.pageAlloc.pagesFor(Purpose.Memmap);
    const a = this.altmapArg(pm);
    const [addStart, addSize] = p.hotplug === 'subsection' ? [start, size] : [alignStart, alignSize];
    const params: MhpParams = { altmap: a, owner: pm, pgmap: vmemmapShift ? { vmemmapShift, startPfn: Number(start >> 12n) } : undefined };
    let err: number;
    try {
      // memremap_pages: nid = dev_to_node(dev), the region's numa_node
      err = k.hotplug.archAddMemory(k.numa.numaNode(start), addStart, addSize, params);
    } catch (e) {
      // the host budget ran out mid hot-add: arch_add_memory took back what it added; the model's limit, not the kernel's
      if (e instanceof HostMemoryError && !k.poisoned) this.unwind(pm);
      throw e;
    }
    pm.dramMemmapPages = k.pageAlloc.pagesFor(Purpose.Memmap) - memmapBefore;
    if (err) {
      if (k.poisoned) throw k.poisonError();
      this.unwind(pm);
      throw KernelError.fromErrno(err, `devm_memremap_pages: arch_add_memory of ${pr(addStart, addStart + addSize - 1n)} failed`);
    }
    if (ft.on) this.traceMemmapInit(pm.altmap !== null);
    try {
      const altmapFields = pm.altmap ? k.altmaps.read(pm.altmap) : null;
      k.memmap.initDevicePages({ start: pm.start, end: pm.end, altmap: altmapFields, vmemmapShift: pm.vmemmapShift, pgmapAddr: pm.pgmapAddr }, addStart, addSize);
    } catch (e) {
      // only the host budget can fail here: take the mapping down again rather than leave it half set up
      if (!(e instanceof HostMemoryError)) throw e;
      k.hotplug.archRemoveMemory(addStart, addSize, a);
      this.unwind(pm);
      throw e;
    }
    pm.sections = Number((roundUp(addStart + addSize, SECTION_SIZE) - (addStart & ~(SECTION_SIZE - 1n))) / SECTION_SIZE);
    this.live.add(pm);
    k.devices.add(dev, { kind: 'page_map', release: () => this.release(pm) });
    return k.va(start);
  }

  /**
   * The memmap's initialisation after the hot-add: move_pfn_range_to_zone (memmap_init_range) and, v4.20+,
   * memmap_init_zone_device; on 6.1 both reach vmem_altmap_offset with an altmap (6.12 inlines it).
   */
  private traceMemmapInit(altmap: boolean): void {
    const ft = this.k.ftrace;
    const zoneDevice = this.k.profile.memmapInit === 'v4.20';
    ft.enter('move_pfn_range_to_zone');
    ft.leaf('memmap_init_range');
    if (altmap && zoneDevice) ft.leaf('vmem_altmap_offset');
    ft.exit('move_pfn_range_to_zone');
    if (!zoneDevice) return;
    ft.enter('memmap_init_zone_device');
    if (altmap) ft.leaf('vmem_altmap_offset');
    ft.exit('memmap_init_zone_device');
  }

  /** ~v4.18+: a pgmap already holding the first or last pfn refuses the mapping. */
  private conflictCheck(dev: Device, [first, last]: [bigint, bigint]): void {
    const k = this.k;
    // get_dev_pagemap of the first pfn, then (no conflict there) of the last
    if (k.ftrace.on) k.ftrace.leaf('get_dev_pagemap');
    const hit = this.findDevPagemap(first) !== null;
    if (!hit && k.ftrace.on) k.ftrace.leaf('get_dev_pagemap');
    if (!hit && !this.findDevPagemap(last)) return;
    if (k.profile.name === 'v4.18') k.log.warn('kernel/memremap.c:183 devm_memremap_pages+0x86/0x3c0', `${dev.prefix()}Conflicting mapping in same section`);
    else k.log.warn('mm/memremap.c:172 pagemap_range+0x4e/0x3c0', 'Conflicting mapping in same section');
    throw new KernelError('ENOMEM', `devm_memremap_pages: conflicting mapping in the same section as ${pr(first, last)}`);
  }

  /** devres_alloc_node of the page_map and the copy of the caller's altmap. */
  private allocPageMap(dev: Device, start: bigint, end: bigint, altmap: AltmapFields | null): PageMap {
    const k = this.k;
    if (k.devresFault > 0 && --k.devresFault === 0) throw new KernelError('ENOMEM', 'devm_memremap_pages: devres_alloc_node failed (injected)');
    const slabPfn = k.pageAlloc.allocPages(0, Purpose.Slab);
    if (slabPfn < 0) throw new KernelError('ENOMEM', 'devm_memremap_pages: cannot allocate the page_map');
    const pm: PageMap = {
      dev,
      start,
      end,
      altmap: null,
      pgmapAddr: k.va(BigInt(slabPfn) << 12n) + PGMAP_OFFSET,
      slabPfn,
      freed: false,
      dramMemmapPages: 0,
      sections: 0,
      vmemmapShift: 0,
    };
    if (altmap) {
      pm.altmap = k.altmaps.create(altmap);
      if (!pm.altmap) {
        k.pageAlloc.freePages(slabPfn, 0, Purpose.Slab);
        throw new KernelError('ENOMEM', 'devm_memremap_pages: cannot allocate the altmap copy');
      }
    }
    return pm;
  }

  /** The lookup insert under pgmap_lock: per section (v4.5, -EBUSY on a duplicate), or the pfn range. */
  private insertLookup(pm: PageMap, alignStart: bigint, alignSize: bigint): void {
    const k = this.k;
    const p = k.profile;
    if (p.lookup === 'pfn') {
      const first = Number(pm.start >> 12n);
      const last = Number(pm.end >> 12n);
      const dup = this.lookup.firstIn(first, last + 1);
      if (dup && p.name === 'v4.18') {
        // __radix_tree_insert finds the slot taken: -EEXIST, and only this call's entries are unwound
        this.lookup.set(first, dup.start, pm);
        k.log.printk('err', `${pm.dev.prefix()}devm_memremap_pages: failed: -17`);
        this.lookup.delete(first, dup.start);
        this.free(pm);
        throw new KernelError('EEXIST', `devm_memremap_pages: ${pr(pm.start, pm.end)} overlaps the mapping of ${dup.value.dev.name}`);
      }
      // xa_store_range replaces whatever was there
      this.lookup.set(first, last + 1, pm);
      this.syncLookup();
      return;
    }
    const keyFirst = Number((p.radixInsertAligned ? alignStart : pm.start) >> 27n);
    const keyLast = p.radixInsertAligned ? Number((alignStart + alignSize - 1n) >> 27n) : lastKey(pm.start, pm.end);
    const dup = this.lookup.firstIn(keyFirst * PAGES_PER_SECTION, (keyLast + 1) * PAGES_PER_SECTION);
    if (dup) {
      const dupSection = Math.floor(dup.start / PAGES_PER_SECTION);
      this.lookup.set(keyFirst * PAGES_PER_SECTION, dupSection * PAGES_PER_SECTION, pm);
      k.log.printk('err', `${pm.dev.prefix()}devm_memremap_pages: ${pr(pm.start, pm.end)} collides with mapping for ${dup.value.dev.name}`);
      this.unwind(pm);
      throw new KernelError('EBUSY', `devm_memremap_pages: ${pr(pm.start, pm.end)} collides with mapping for ${dup.value.dev.name}`);
    }
    this.lookup.set(keyFirst * PAGES_PER_SECTION, (keyLast + 1) * PAGES_PER_SECTION, pm);
    this.syncLookup();
  }

  /** The error unwind: the lookup entries this call's loop would delete, then devres_free. */
  private unwind(pm: PageMap): void {
    this.releaseLookup(pm);
    this.free(pm);
  }

  /** pgmap_radix_release (v4.5: keys res.start, +SECTION_SIZE, ... <= res.end, whoever owns them) / pgmap_array_delete. */
  private releaseLookup(pm: PageMap): void {
    if (this.k.profile.lookup === 'pfn') {
      this.lookup.delete(Number(pm.start >> 12n), Number(pm.end >> 12n) + 1);
      this.syncLookup();
      return;
    }
    const first = Number(pm.start >> 27n) * PAGES_PER_SECTION;
    const end = (lastKey(pm.start, pm.end) + 1) * PAGES_PER_SECTION;
    for (const r of this.lookup.all()) if (r.value !== pm && !r.value.freed && r.start < end && r.end > first) this.clobbered.add(r.value);
    this.lookup.delete(first, end);
    this.syncLookup();
  }

  /** devres_free of the payload; the altmap copy stays while a stale lookup entry still points at it. */
  private free(pm: PageMap): void {
    pm.freed = true;
    this.k.pageAlloc.freePages(pm.slabPfn, 0, Purpose.Slab);
    const stillReferenced = this.lookup.all().some((r) => r.value === pm);
    if (pm.altmap !== null && !stillReferenced) this.k.altmaps.release(pm.altmap);
  }

  /** pfn_first(): the range's first pfn past the altmap's own pages. */
  private pfnFirst(pm: PageMap): number {
    return Number(pm.start >> 12n) + (pm.altmap ? vmemAltmapOffset(this.k.altmaps.read(pm.altmap)) : 0);
  }

  /** Whether the struct page of pfn_first() is mapped (memunmap_pages dereferences it). */
  private firstPageMapped(pm: PageMap): boolean {
    return this.k.memmap.readPage(this.pfnFirst(pm)) !== null;
  }

  /** devm_memremap_pages_release (kernel.md §2.2) / memunmap_pages (v6). */
  release(pm: PageMap): void {
    const ft = this.k.ftrace;
    if (ft.on) {
      ft.enter('devm_memremap_pages_release');
      ft.enter('memunmap_pages');
    }
    try {
      this.memunmapPages(pm);
    } finally {
      if (ft.on) ft.exit('devm_memremap_pages_release');
    }
  }

  /** memunmap_pages (v5.x+; devm_memremap_pages_release's own body on v4.x). */
  private memunmapPages(pm: PageMap): void {
    const k = this.k;
    const p = k.profile;
    this.live.delete(pm);
    const alignStart = pm.start & ~(SECTION_SIZE - 1n);
    const size = pm.end - pm.start + 1n;
    const alignSize = p.releaseSizeEndAligned ? roundUp(pm.start + size, SECTION_SIZE) - alignStart : roundUp(size, SECTION_SIZE);
    const a = this.altmapArg(pm);
    if (p.memmapInit === 'v4.20' && !this.firstPageMapped(pm)) {
      // memunmap_pages reads page_zone(pfn_to_page(pfn_first())) before anything else: a zero-sized
      // 6.1 pfn device has no memmap there (fixture a1G-offset-fsdax-dev-1G on 6.1.192)
      k.pageFaultOops(k.vmemmap.pfnToPage(this.pfnFirst(pm)), 'memunmap_pages+0x1bc/0x2b0', 'ndctl');
      return;
    }
    if (p.releaseLookupFirst) this.releaseLookup(pm);
    // v5.x+: the pages leave ZONE_DEVICE before the hot-remove
    if (k.ftrace.on) k.ftrace.leaf('remove_pfn_range_from_zone');
    if (p.hotplug === 'subsection') k.hotplug.archRemoveMemory(pm.start, size, a);
    else k.hotplug.archRemoveMemory(alignStart, alignSize, a);
    if (k.poisoned) return;
    k.memmap.forgetDevice(Number(pm.start >> 12n), Number((pm.end + 1n) >> 12n));
    if (!p.releaseLookupFirst) this.releaseLookup(pm);
    if (pm.altmap !== null && k.altmaps.read(pm.altmap).alloc !== 0n) {
      if (p.releaseWarn === 'plain') k.log.warnOnce('memunmap_pages:alloc', 'mm/memremap.c:145 memunmap_pages+0x1d2/0x200', 'failed to free all reserved pages');
      else k.log.warnOnce('devm_memremap_pages_release:alloc', 'kernel/memremap.c:154 devm_memremap_pages_release+0x7d/0x90', `${pm.dev.prefix()}devm_memremap_pages_release: failed to free all reserved pages`);
    }
    this.free(pm);
  }
}

function roundUp(x: bigint, a: bigint): bigint {
  return ((x + a - 1n) / a) * a;
}

/** The last key of the loop `for (key = start; key <= end; key += SECTION_SIZE)`. */
function lastKey(start: bigint, end: bigint): number {
  return Number((start + ((end - start) / SECTION_SIZE) * SECTION_SIZE) >> 27n);
}

