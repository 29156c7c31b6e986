/**
 * kernel/memremap.c (v4.5): devm_memremap_pages, its devres release, the section-keyed pgmap
 * lookup (pgmap_radix), find_dev_pagemap, to_vmem_altmap, vmem_altmap_offset / vmem_altmap_free.
 */
import { Purpose, type AltmapFields } from '../core/core.ts';
import { ERRNO, KernelError } from './errno.ts';
import { pr } from './printk.ts';
import { PAGES_PER_SECTION, pfnToSection, SECTION_SIZE } from './hotplug.ts';
import { RunMap } from './runmap.ts';
import type { Device } from './devres.ts';
import type { Kernel } from './kernel.ts';

/** struct page_map: the devres payload, with copies of the caller's resource and altmap. */
export interface PageMap {
  dev: Device;
  start: bigint;
  /** Inclusive. */
  end: bigint;
  /** The core altmap holding this page_map's copy, or null. */
  altmapId: number | null;
  altmapGen: number;
  /** Kernel address of the embedded dev_pagemap (page->pgmap points here). */
  pgmapAddr: bigint;
  /** DRAM page holding the payload. */
  slabPfn: number;
  /** devres_free'd (a lookup entry may still point here: a stale pointer). */
  freed: boolean;
  /** DRAM memmap pages this mapping's hot-add took (map=mem). */
  dramMemmapPages: number;
  /** Sections its hot-add covered. */
  sections: number;
}

/** offsetof(struct page_map, pgmap): the copied resource (56 bytes) and the ref pointer precede it. */
const PGMAP_OFFSET = 0x40n;

export class Memremap {
  /** pgmap_radix: section number -> page_map. */
  readonly radix = new RunMap<PageMap>();
  /** page_maps attached to a device (devres_add'ed, not yet released). */
  readonly live = new Set<PageMap>();

  constructor(private readonly k: Kernel) {}

  /** The altmap (core id) that to_vmem_altmap finds for pfn's struct page, or null. */
  altmapOfPfn(pfn: number): number | null {
    const pm = this.radix.get(pfnToSection(pfn));
    return pm ? pm.altmapId : null;
  }

  /** vmem_altmap_offset: reserve + free. */
  altmapOffset(id: number): number {
    const f = this.k.core.altmapRead(id);
    return Number(BigInt.asUintN(64, f.reserve + f.free));
  }

  /** Mirror the lookup into the core, where free_pagetable consults it. */
  syncLookup(): void {
    const entries = [];
    for (const r of this.radix.all()) {
      if (r.value.altmapId !== null) entries.push({ startPfn: r.start * PAGES_PER_SECTION, endPfn: r.end * PAGES_PER_SECTION, altmapId: r.value.altmapId });
    }
    this.k.core.setAltmapLookup(entries);
  }

  /** find_dev_pagemap: the page_map whose lookup entry holds phys's section. */
  findDevPagemap(phys: bigint): PageMap | null {
    return this.radix.get(Number(phys >> 27n)) ?? null;
  }

  /** devm_memremap_pages (kernel.md §2.1): returns __va(res.start) or throws KernelError. */
  devmMemremapPages(dev: Device, start: bigint, end: bigint, altmap: AltmapFields | null): bigint {
    const k = this.k;
    const p = k.profile;
    const size = end - start + 1n;
    const alignStart = start & ~(SECTION_SIZE - 1n);
    const alignEnd = roundUp(start + size, SECTION_SIZE);
    const alignSize = p.addSizeEndAligned ? alignEnd - alignStart : roundUp(size, SECTION_SIZE);
    const isRam = p.mixedCheckAligned
      ? k.iomem.regionIntersects(alignStart, alignEnd - alignStart, 'System RAM')
      : k.iomem.regionIntersects(start, size, 'System RAM');

    if (!k.cfg.zoneDevice) {
      k.log.warnOnce('devm_memremap_pages:stub', 'include/linux/memremap.h:90 devm_memremap_pages+0x1e/0x30');
      throw new KernelError('ENXIO', 'devm_memremap_pages: CONFIG_ZONE_DEVICE is not set');
    }
    if (isRam === 'REGION_MIXED') {
      k.log.warnOnce('devm_memremap_pages:mixed', 'kernel/memremap.c:202 devm_memremap_pages+0x3a5/0x3c0', `devm_memremap_pages attempted on mixed region ${pr(start, end)}`);
      throw new KernelError('ENXIO', `devm_memremap_pages: ${pr(start, end)} mixes System RAM with other memory`);
    }
    if (isRam === 'REGION_INTERSECTS') return k.va(start);
    if (altmap && !k.cfg.sparsememVmemmap) {
      k.log.printk('err', `${dev.prefix()}devm_memremap_pages: altmap requires CONFIG_SPARSEMEM_VMEMMAP=y`);
      throw new KernelError('ENXIO', 'devm_memremap_pages: altmap requires CONFIG_SPARSEMEM_VMEMMAP=y');
    }

    // devres_alloc_node(): the page_map payload
    const slabPfn = k.core.allocPages(0, Purpose.Slab);
    if (slabPfn < 0) throw new KernelError('ENOMEM', 'devm_memremap_pages: cannot allocate the page_map');
    const pm: PageMap = {
      dev,
      start,
      end,
      altmapId: null,
      altmapGen: 0,
      pgmapAddr: k.va(BigInt(slabPfn) << 12n) + PGMAP_OFFSET,
      slabPfn,
      freed: false,
      dramMemmapPages: 0,
      sections: 0,
    };
    if (altmap) {
      const made = k.altmapCreate(altmap);
      if (!made) {
        k.core.freePages(slabPfn, 0, Purpose.Slab);
        throw new KernelError('ENOMEM', 'devm_memremap_pages: cannot allocate the altmap copy');
      }
      pm.altmapId = made.id;
      pm.altmapGen = made.gen;
    }
    const altmapId = pm.altmapId;

    // the lookup: one entry per section, under pgmap_lock
    const keyFirst = Number((p.radixInsertAligned ? alignStart : start) >> 27n);
    const keyLast = p.radixInsertAligned ? Number((alignStart + alignSize - 1n) >> 27n) : lastKey(start, end);
    const dup = this.radix.firstIn(keyFirst, keyLast + 1);
    if (dup) {
      this.radix.set(keyFirst, dup.start, pm);
      k.log.printk('err', `${dev.prefix()}devm_memremap_pages: ${pr(start, end)} collides with mapping for ${dup.value.dev.name}`);
      this.unwind(pm);
      throw new KernelError('EBUSY', `devm_memremap_pages: ${pr(start, end)} collides with mapping for ${dup.value.dev.name}`);
    }
    this.radix.set(keyFirst, keyLast + 1, pm);
    this.syncLookup();

    const memmapBefore = k.core.dramStats().byPurpose[Purpose.Memmap];
    const err = k.hotplug.archAddMemory(0, alignStart, alignSize, true);
    pm.dramMemmapPages = k.core.dramStats().byPurpose[Purpose.Memmap] - memmapBefore;
    if (err) {
      if (k.poisoned) throw k.poisonError();
      this.unwind(pm);
      throw KernelError.fromErrno(err, `devm_memremap_pages: arch_add_memory of ${pr(alignStart, alignStart + alignSize - 1n)} failed`);
    }
    if (p.pgmapPageInit) {
      // for_each_device_pfn: page->pgmap = pgmap, lru poisoned
      const first = altmapId !== null ? Number(k.core.altmapRead(altmapId).basePfn) + this.altmapOffset(altmapId) : Number(start >> 12n);
      const last = Number((end + 1n) >> 12n);
      if (last > first && k.core.memmapSetPgmap(first, last - first, pm.pgmapAddr) < 0) k.hostOom();
    }
    pm.sections = Number(alignSize / SECTION_SIZE);
    this.live.add(pm);
    k.devices.add(dev, { kind: 'page_map', release: () => this.release(pm) });
    return k.va(start);
  }

  /** The error unwind: pgmap_radix_release(res) over the unaligned res, then devres_free. */
  private unwind(pm: PageMap): void {
    this.radixRelease(pm);
    this.free(pm);
  }

  /** pgmap_radix_release: delete keys res.start, +SECTION_SIZE, ... <= res.end — whoever owns them. */
  private radixRelease(pm: PageMap): void {
    this.radix.delete(Number(pm.start >> 27n), lastKey(pm.start, pm.end) + 1);
    this.syncLookup();
  }

  /** devres_free of the payload; the altmap copy stays while a stale lookup entry still points at it. */
  private free(pm: PageMap): void {
    pm.freed = true;
    this.k.core.freePages(pm.slabPfn, 0, Purpose.Slab);
    const stillReferenced = this.radix.all().some((r) => r.value === pm);
    if (pm.altmapId !== null && !stillReferenced) this.k.altmapRelease(pm.altmapId);
  }

  /** devm_memremap_pages_release (kernel.md §2.2). */
  release(pm: PageMap): void {
    const k = this.k;
    this.live.delete(pm);
    const alignStart = pm.start & ~(SECTION_SIZE - 1n);
    const alignSize = roundUp(pm.end - pm.start + 1n, SECTION_SIZE);
    if (k.profile.releaseLookupFirst) this.radixRelease(pm);
    k.hotplug.archRemoveMemory(alignStart, alignSize);
    if (k.poisoned) return;
    if (!k.profile.releaseLookupFirst) this.radixRelease(pm);
    if (pm.altmapId !== null && k.core.altmapRead(pm.altmapId).alloc !== 0n) {
      k.log.warnOnce(
        'devm_memremap_pages_release:alloc',
        'kernel/memremap.c:154 devm_memremap_pages_release+0x7d/0x90',
        `${pm.dev.prefix()}devm_memremap_pages_release: failed to free all reserved pages`,
      );
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
