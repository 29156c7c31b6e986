/**
 * Struct page initialisation per era (mm/page_alloc.c, mm/mm_init.c, mm/memremap.c):
 * memmap_init_zone at boot and on hot-add (v4.5 per section, v4.16 over the hot-added range),
 * memmap_init_zone_device and its compound variant (v4.20+), the pgmap back-pointers, and the
 * memmap of hot-plugged System RAM (mhp_init_memmap_on_memory + online_pages).
 */
import {
  compoundFirstTailOp,
  compoundTailOp,
  initPageOp,
  setPgmapOp,
  STRUCT_PAGE_LAYOUTS,
  zoneDevicePageOp,
  ZONE_DEVICE,
  ZONE_DMA,
  ZONE_DMA32,
  ZONE_MOVABLE,
  ZONE_NORMAL,
  type PageOp,
  type StructPageLayout,
} from '../core/structPage.ts';
import { vmemAltmapOffset, type AltmapFields } from './altmap.ts';
import type { Kernel } from './kernel.ts';
import { RunMap } from './runmap.ts';
import { vmemmapCanOptimize } from './vmemmap.ts';

export { ZONES, ZONE_DEVICE, ZONE_DMA, ZONE_DMA32, ZONE_MOVABLE, ZONE_NORMAL, type ZoneName } from '../core/structPage.ts';

/** The zone of a boot RAM pfn. */
export function bootZone(pfn: number): number {
  if (pfn < 0x1000) return ZONE_DMA;
  if (pfn < 0x100000) return ZONE_DMA32;
  return ZONE_NORMAL;
}

/** What memmap init needs to know of a ZONE_DEVICE mapping. */
export interface DeviceMemmap {
  /** The resource, inclusive. */
  start: bigint;
  end: bigint;
  altmap: AltmapFields | null;
  vmemmapShift: number;
  /** page->pgmap */
  pgmapAddr: bigint;
}

export class Memmap {
  /** Struct pages memmap init has set up since boot (the init-time proxy the planner reports). */
  pagesInitialised = 0;

  /** This era's struct page. */
  readonly layout: StructPageLayout;

  /** The one tail op a compound devmap's memmap is stored as, per node (compound_head's head bits left to readPage). */
  private tailTemplate(nid: number): readonly bigint[] {
    let t = this.tailTemplates.get(nid);
    if (!t) this.tailTemplates.set(nid, (t = compoundTailOp(this.layout, ZONE_DEVICE, nid, 0n).words));
    return t;
  }
  private readonly tailTemplates = new Map<number, readonly bigint[]>();

  constructor(private readonly k: Kernel) {
    this.layout = STRUCT_PAGE_LAYOUTS[k.profile.structPage];
  }

  /** Store an op into the struct pages of [pfn, +nrPages). */
  private write(pfn: number, nrPages: number, op: PageOp): void {
    if (nrPages > 0 && this.k.core.memmapWrite(pfn, nrPages, op) < 0) this.k.hostOom();
  }

  /** memmap_init_zone's per-page work over [pfn, +nrPages), counted. */
  private init(pfn: number, nrPages: number, zone: number, nid: number): void {
    if (nrPages <= 0) return;
    this.pagesInitialised += nrPages;
    this.write(pfn, nrPages, initPageOp(this.layout, zone, nid));
  }

  private setPgmap(pfn: number, nrPages: number, pgmap: bigint): void {
    this.write(pfn, nrPages, setPgmapOp(this.layout, pgmap));
  }

  /**
   * Compound devmaps' pages (memmap_init_compound), by pfn range: the core holds one uniform tail
   * template for all of them (so that a 1 TiB device stays a few fill patterns, not a backed frame per
   * compound page), and readPage() draws the head, the first tail's folio fields and compound_head from
   * the page's position, wherever the template is still what is stored.
   */
  private readonly compound = new RunMap<{ order: number; firstPfn: number; pgmap: bigint; nid: number }>();

  /** memmap_init_zone_device's pages [pfn, +nrPages) of one compound page (or all of them, order 0). */
  private initDeviceRange(pfn: number, nrPages: number, order: number, pgmap: bigint): void {
    if (nrPages <= 0) return;
    this.pagesInitialised += nrPages;
    const l = this.layout;
    if (l.pgmapBy === 'poison') {
      // v4.5's layout keeps pgmap in lru.next: the v4.20 loop's init, then the pgmap
      this.write(pfn, nrPages, initPageOp(l, ZONE_DEVICE, this.devNode(pfn)));
      return this.setPgmap(pfn, nrPages, pgmap);
    }
    this.write(pfn, nrPages, order === 0 ? zoneDevicePageOp(l, ZONE_DEVICE, this.devNode(pfn), pgmap) : { words: [...this.tailTemplate(this.devNode(pfn))], mask: 0xff, self: 0 });
  }

  /** initDeviceRange of [pfn, +min(per, end - pfn)) for every compound page from `first` on (`step` pfns each): one core call. */
  private initDeviceEvery(first: number, end: number, step: number, per: number, order: number, pgmap: bigint): void {
    if (end <= first) return;
    if (this.layout.pgmapBy === 'poison' || order === 0) {
      for (let pfn = first; pfn < end; pfn += step) this.initDeviceRange(pfn, Math.min(per, end - pfn), order, pgmap);
      return;
    }
    const whole = Math.floor((end - first) / step);
    this.pagesInitialised += whole * per + Math.min(per, end - first - whole * step);
    if (this.k.core.memmapWriteEvery(first, end, step, per, { words: [...this.tailTemplate(this.devNode(first))], mask: 0xff, self: 0 }) < 0) this.k.hostOom();
  }

  /** What memmap_init_compound left in pfn's struct page, drawn from its position in the compound page. */
  private compoundWords(pfn: number, stored: BigUint64Array): BigUint64Array {
    const c = this.compound.get(pfn);
    if (!c) return stored;
    const l = this.layout;
    if (!this.tailTemplate(c.nid).every((w, i) => stored[i] === w)) return stored; // written since: the bytes win
    const headPfn = c.firstPfn + Math.floor((pfn - c.firstPfn) / 2 ** c.order) * 2 ** c.order;
    const head = this.k.vmemmap.pfnToPage(headPfn);
    const pos = pfn - headPfn;
    const op = pos === 0 ? zoneDevicePageOp(l, ZONE_DEVICE, c.nid, c.pgmap, true) : pos === 1 ? compoundFirstTailOp(l, ZONE_DEVICE, c.nid, head, c.order) : compoundTailOp(l, ZONE_DEVICE, c.nid, head);
    return BigUint64Array.from(op.words);
  }

  /** memunmap_pages: the compound pages of [startPfn, endPfn) are gone with their memmap. */
  forgetDevice(startPfn: number, endPfn: number): void {
    this.compound.delete(startPfn, endPfn);
  }

  /** The 8 words of pfn's struct page, or null when its vmemmap is not mapped. */
  readPage(pfn: number): BigUint64Array | null {
    const w = this.k.core.readPage(pfn);
    return w && this.compound.all().length ? this.compoundWords(pfn, w) : w;
  }

  /** The zone a struct page records (the first data page's, on removal). */
  zoneOf(pfn: number): number {
    const words = this.k.core.readPage(pfn);
    return words ? Number((words[0]! >> this.layout.zonesPgShift) & 7n) : 0;
  }

  /** free_area_init: boot RAM [startPfn, endPfn), zone by zone. */
  initBootRam(startPfn: number, endPfn: number): void {
    const cuts = [startPfn, Math.max(startPfn, Math.min(endPfn, 0x1000)), Math.max(startPfn, Math.min(endPfn, 0x100000)), endPfn];
    const nid = this.k.numa.targetNode(BigInt(startPfn) << 12n);
    for (let i = 0; i < 3; i++) this.init(cuts[i], cuts[i + 1] - cuts[i], bootZone(cuts[i]), nid);
  }

  /** A device page's node: its pgmap's (memremap_pages' nid = dev_to_node, the region's numa_node). */
  private devNode(pfn: number): number {
    return this.k.numa.numaNode(BigInt(pfn) << 12n);
  }

  /** sparse_add_one_section's memset of the new memmap (before v5.3). */
  zeroSections(firstPfn: number, nrPages: number): void {
    if (this.k.profile.zeroMemmapOnAdd && this.k.core.memmapZero(firstPfn, nrPages) < 0) this.k.hostOom();
  }

  /**
   * v4.5 __add_zone: memmap_init_zone per hot-added section (MEMMAP_HOTPLUG). kernel.md §2.10's
   * reserve rule: as shipped, to_vmem_altmap() is handed a physical address and never finds the
   * altmap, so every page is initialised; as intended the reserve pfns of the first section are not.
   */
  initHotplugSections(firstPfn: number, nrPages: number, altmap: AltmapFields | null, nid: number): void {
    if (this.k.profile.memmapInit !== 'v4.5') return;
    let from = firstPfn;
    if (this.k.cfg.memmapInit === 'as-intended' && altmap && BigInt(firstPfn) === altmap.basePfn) from += Number(altmap.reserve);
    this.init(from, firstPfn + nrPages - from, ZONE_DEVICE, nid);
  }

  /** The struct pages of a ZONE_DEVICE mapping after its hot-add, as each era sets them up. */
  initDevicePages(d: DeviceMemmap, addStart: bigint, addSize: bigint): void {
    const p = this.k.profile;
    const resFirst = Number(d.start >> 12n);
    const resEnd = Number((d.end + 1n) >> 12n);
    const f = d.altmap;
    const offset = f ? vmemAltmapOffset(f) : 0;
    const base = f ? Number(f.basePfn) : resFirst;
    if (p.memmapInit === 'v4.16') {
      // move_pfn_range_to_zone -> memmap_init_zone over the hot-added range, the altmap's reserve skipped
      let from = Number(addStart >> 12n);
      const end = from + Number(addSize >> 12n);
      if (f && BigInt(from) === f.basePfn) from += Number(f.reserve);
      this.init(from, end - from, ZONE_DEVICE, this.devNode(from));
    }
    if (p.memmapInit === 'v4.20') return this.initZoneDevice(d, resFirst, resEnd, f, base, offset);
    // for_each_device_pfn: page->pgmap = pgmap, lru poisoned
    if (p.pgmapInit === 'none') return;
    const first = (p.pgmapInit === 'base' ? base : resFirst) + offset;
    this.setPgmap(first, resEnd - first, d.pgmapAddr);
  }

  /** v4.20+ memmap_init_range for the altmap's own pages, then memmap_init_zone_device (compound-aware). */
  private initZoneDevice(d: DeviceMemmap, resFirst: number, resEnd: number, f: AltmapFields | null, base: number, offset: number): void {
    if (f) {
      const from = base + Number(f.reserve);
      this.init(from, base + offset - from, ZONE_DEVICE, this.devNode(from));
    }
    const first = f ? base + offset : resFirst;
    const n = resEnd - first;
    // a compound page whose vmemmap is shared needs only its head and first tail vmemmap pages set up
    const step = d.vmemmapShift > 0 ? 2 ** d.vmemmapShift : n;
    const per = vmemmapCanOptimize(f !== null, d.vmemmapShift) ? 2 * (4096 / 64) : step;
    // without a shared vmemmap every compound page gets the same stored op over all its pages: one write
    // for the whole range (the same struct pages as one a compound page, in O(extents))
    if (per === step) this.initDeviceRange(first, Math.max(n, 0), d.vmemmapShift, d.pgmapAddr);
    else this.initDeviceEvery(first, resEnd, step, per, d.vmemmapShift, d.pgmapAddr);
    if (d.vmemmapShift > 0 && this.layout.folio !== null && n > 0) this.compound.set(first, resEnd, { order: d.vmemmapShift, firstPfn: first, pgmap: d.pgmapAddr, nid: this.devNode(first) });
    // the kernel's own figure: ~9.5 ns per page (4194304 pages in 40 ms, kernel.md §4.4)
    const pages = Math.max(n, 0);
    this.k.log.tick(Math.round((pages * 9.54) / 1000));
    this.k.log.printk('debug', `memmap_init_zone_device initialised ${pages} pages in ${Math.round((pages * 9.54) / 1e6)}ms`);
  }

  /** mhp_init_memmap_on_memory: a hot-plugged block's vmemmap pages get their own struct pages. */
  initMemoryBlock(startPfn: number, memmapPages: number): void {
    this.init(startPfn, memmapPages, ZONE_NORMAL, this.k.numa.targetNode(BigInt(startPfn) << 12n));
  }

  /**
   * memmap_init_range over `count` adjacent blocks of blockPages from startPfn (one node), each block's pages
   * [skip, skip + nrPages): what initMemoryBlock or onlinePages per block does, in one write.
   */
  private initEvery(startPfn: number, blockPages: number, count: number, skip: number, nrPages: number, zone: number): void {
    if (count <= 0 || nrPages <= 0) return;
    this.pagesInitialised += count * nrPages;
    const op = initPageOp(this.layout, zone, this.k.numa.targetNode(BigInt(startPfn) << 12n));
    if (this.k.core.memmapWriteEvery(startPfn + skip, startPfn + (count - 1) * blockPages + skip + nrPages, blockPages, nrPages, op) < 0) this.k.hostOom();
  }

  /** mhp_init_memmap_on_memory for `count` adjacent blocks of blockPages: each block's first memmapPages. */
  initMemoryBlocks(startPfn: number, blockPages: number, count: number, memmapPages: number): void {
    this.initEvery(startPfn, blockPages, count, 0, memmapPages, ZONE_NORMAL);
  }

  /** online_pages for `count` adjacent blocks of blockPages: each block's pages after its first `skip` (its own memmap). */
  onlineBlocks(startPfn: number, blockPages: number, count: number, skip: number, movable: boolean): void {
    this.initEvery(startPfn, blockPages, count, skip, blockPages - skip, movable ? ZONE_MOVABLE : ZONE_NORMAL);
  }

  /** online_pages -> move_pfn_range_to_zone: the struct pages of the pages going online, in their zone. */
  onlinePages(startPfn: number, nrPages: number, movable: boolean): void {
    this.init(startPfn, nrPages, movable ? ZONE_MOVABLE : ZONE_NORMAL, this.k.numa.targetNode(BigInt(startPfn) << 12n));
  }
}
