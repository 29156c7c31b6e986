/** vmemmap_populate / vmemmap_free on x86-64 (twin of assembly/vmemmap.ts). */
import { EventType, LOOKUP_ALTMAP, PopulateFlags, Purpose } from '../core.ts';
import { EINVAL, ENOMEM, vaFull, type Events } from './util.ts';
import { entryPfn, LARGE_FLAGS, PAGE_FLAGS, PTE_PRESENT, PTE_PSE, removeRange, SZ_1G, SZ_2M, type LeafRelease, type PageTable } from './pgtable.ts';
import type { AltmapTable } from './altmap.ts';

/** populateRange's `reuse`: no page to reuse, allocate one. */
const NO_REUSE = -1;
const TWO40 = 2 ** 40;

export class Vmemmap {
  /**
   * Share counts (assembly/shares.ts): per pfn, the extra 4 KiB mappings vmemmapPopulateCompound (or
   * HVO, hvo.ts) made of it (get_page); vmemmapFree drops one per mapping and frees the page with the
   * last one.
   */
  private readonly shares = new Map<number, number>();
  /** The pfn mapped at the last address populateRange handled (populate_address's pte_page). */
  private lastPfn = 0;

  constructor(
    private readonly pt: PageTable,
    private readonly altmaps: AltmapTable,
    private readonly events: Events,
    /** VMEMMAP_START, low 57 bits. */
    readonly base: number,
    private readonly pse: boolean,
    private readonly debug: boolean,
  ) {}

  va(pfn: number): number {
    return this.base + pfn * 64;
  }

  /** vmemmap_populate: 0 or -ENOMEM. */
  populate(startPfn: number, nrPages: number, altmapId: number, flags: number): number {
    const start = this.va(startPfn);
    const end = this.va(startPfn + nrPages);
    if (!this.pse && altmapId >= 0) {
      this.events.push(EventType.NoPseAltmap, 0n);
      return ENOMEM;
    }
    if (!this.pse || flags & PopulateFlags.BasePages) return this.populateBasepages(start, end, altmapId, flags);
    return this.populateHugepages(start, end, altmapId, flags);
  }

  /** vmemmap_populate_hugepages: 2 MiB blocks, no fallback when an altmap is given. */
  private populateHugepages(start: number, end: number, altmapId: number, flags: number): number {
    const pt = this.pt;
    // the PMD table for the current 1 GiB of vmemmap, so each 2 MiB step does not walk from the root
    let cachedGiB = -1;
    let cachedTable = -1;
    for (let addr = start; addr < end; ) {
      const next = Math.min(Math.floor(addr / SZ_2M) * SZ_2M + SZ_2M, end);
      const gib = Math.floor(addr / SZ_1G);
      let t = gib === cachedGiB ? cachedTable : -1;
      if (t < 0) {
        t = pt.tableFor(addr, pt.pmd, Purpose.PageTable);
        if (t >= 0) {
          cachedGiB = gib;
          cachedTable = t;
        }
      }
      if (t === -2) {
        addr = next;
        continue;
      }
      if (t < 0) return ENOMEM;
      const i = pt.index(addr, pt.pmd);
      const lo = pt.readLo(t, i);
      if (!(lo & PTE_PRESENT)) {
        const block = altmapId >= 0 ? this.altmaps.alloc(altmapId, 512) : pt.alloc.allocPages(9, Purpose.Memmap);
        if (block >= 0) {
          if (!pt.writeLeaf(t, i, block, LARGE_FLAGS)) {
            this.releaseBlock(block, 9, altmapId);
            return ENOMEM;
          }
          if (this.debug) this.events.push(EventType.Pmd, vaFull(Math.floor(addr / SZ_2M) * SZ_2M), BigInt(block) * 4096n);
          addr = next;
          continue;
        }
        if (altmapId >= 0) return ENOMEM;
      } else if (lo & PTE_PSE) {
        addr = next;
        continue;
      }
      this.events.push(EventType.Fallback, vaFull(addr), lo & PTE_PRESENT ? 0n : 1n);
      const r = this.populateBasepages(addr, next, altmapId, flags);
      if (r < 0) return r;
      addr = next;
    }
    return 0;
  }

  /** vmemmap_populate_basepages: 4 KiB pages, from DRAM unless BasePagesUseAltmap. */
  private populateBasepages(start: number, end: number, altmapId: number, flags: number): number {
    const pt = this.pt;
    const useAltmap = altmapId >= 0 && (flags & PopulateFlags.BasePagesUseAltmap) !== 0;
    for (let addr = Math.floor(start / 4096) * 4096; addr < end; addr += 4096) {
      const t = pt.tableFor(addr, pt.pte, Purpose.PageTable);
      if (t === -2) continue;
      if (t < 0) return ENOMEM;
      const i = pt.index(addr, pt.pte);
      if (pt.readLo(t, i) & PTE_PRESENT) continue;
      const page = useAltmap ? this.altmaps.alloc(altmapId, 1) : pt.alloc.allocPages(0, Purpose.Memmap);
      if (page < 0) return ENOMEM;
      if (!pt.writeLeaf(t, i, page, PAGE_FLAGS)) {
        this.releaseBlock(page, 0, useAltmap ? altmapId : -1);
        return ENOMEM;
      }
    }
    return 0;
  }

  private releaseBlock(pfn: number, order: number, altmapId: number): void {
    if (altmapId >= 0) this.altmaps.free(altmapId, 2 ** order);
    else this.pt.alloc.freePages(pfn, order, Purpose.Memmap);
  }

  /**
   * vmemmap_populate_range(a, b, reuse): vmemmap_populate_address for every 4 KiB of VA in [a, b),
   * ascending; tables walked once per 2 MiB of VA. A non-empty PTE stays; a leaf above the PTE level
   * means the page is already mapped. An empty PTE maps a new order-0 DRAM page (NO_REUSE) or `reuse`,
   * which then holds one more share. 0 or -ENOMEM.
   */
  private populateRange(a: number, b: number, reuse: number): number {
    const pt = this.pt;
    let t = 0;
    let walked = false;
    for (let va = a; va < b; va += 4096) {
      if (!walked || va % SZ_2M === 0) {
        t = pt.tableFor(va, pt.pte, Purpose.PageTable);
        if (t < 0 && t !== -2) return ENOMEM;
        walked = true;
      }
      if (t === -2) {
        this.lastPfn = Math.floor(pt.translate(va) / 4096);
        continue;
      }
      const i = pt.index(va, pt.pte);
      const lo = pt.readLo(t, i);
      const hi = pt.readHi(t, i);
      if (lo !== 0 || hi !== 0) {
        this.lastPfn = entryPfn(lo, hi);
        continue;
      }
      if (reuse === NO_REUSE) {
        const page = pt.alloc.allocPages(0, Purpose.Memmap);
        if (page < 0) return ENOMEM;
        if (!pt.writeLeaf(t, i, page, PAGE_FLAGS)) {
          pt.alloc.freePages(page, 0, Purpose.Memmap);
          return ENOMEM;
        }
        this.lastPfn = page;
      } else {
        if (!pt.writeLeaf(t, i, reuse, PAGE_FLAGS)) return ENOMEM;
        this.shareAdd(reuse);
        this.lastPfn = reuse;
      }
    }
    return 0;
  }

  /** vmemmap_populate_compound_pages: 0, -ENOMEM, or -EINVAL for arguments outside the contract. */
  populateCompound(startPfn: number, nrPages: number, compoundPages: number, rangeStartPfn: number): number {
    const int = (x: number, hi: number) => Number.isInteger(x) && x >= 0 && x <= hi;
    if (!int(startPfn, TWO40) || !int(nrPages, TWO40) || !int(rangeStartPfn, startPfn)) return EINVAL;
    if (!int(compoundPages, TWO40) || compoundPages <= 128 || 2 ** Math.round(Math.log2(compoundPages)) !== compoundPages) return EINVAL;
    if (startPfn + nrPages > TWO40 || startPfn % 64 !== 0 || nrPages % 64 !== 0) return EINVAL;
    if (nrPages === 0) return 0;
    const start = this.va(startPfn);
    const end = this.va(startPfn + nrPages);
    // reuse_compound_section: a section inside a compound page larger than a sub-section
    if ((startPfn - rangeStartPfn) % compoundPages !== 0 && compoundPages > 512) {
      // compound_section_tail_page: the previous section's last vmemmap page, mapped by a 4 KiB PTE
      const phys = this.pt.translate(start - 4096);
      if (phys < 0 || this.pt.lastSize !== 4096) return ENOMEM;
      return this.populateRange(start, end, Math.floor(phys / 4096));
    }
    const size = Math.min(end - start, compoundPages * 64);
    for (let addr = start; addr < end; addr += size) {
      if (this.populateRange(addr, addr + 4096, NO_REUSE) < 0) return ENOMEM;
      if (this.populateRange(addr + 4096, addr + 8192, NO_REUSE) < 0) return ENOMEM;
      if (this.populateRange(addr + 8192, addr + size, this.lastPfn) < 0) return ENOMEM;
    }
    return 0;
  }

  /** One more share of pfn (an extra 4 KiB vmemmap mapping of it: get_page). */
  shareAdd(pfn: number): void {
    this.shares.set(pfn, (this.shares.get(pfn) ?? 0) + 1);
  }

  /** Drop one share of pfn: true when it had one. */
  shareDrop(pfn: number): boolean {
    const n = this.shares.get(pfn);
    if (n === undefined) return false;
    if (n > 1) this.shares.set(pfn, n - 1);
    else this.shares.delete(pfn);
    return true;
  }

  /** A 4 KiB page with shares loses one instead of going (put_page_testzero); everything else goes to `release`. */
  private withShares(release: LeafRelease): LeafRelease {
    return (pfn, order) => {
      if (order === 0 && this.shares.size !== 0 && this.shareDrop(pfn)) return 0;
      return release(pfn, order);
    };
  }

  /** free_pagetable: back to the altmap that the backing page's lookup finds, else to the page allocator. */
  private freePagetable = (pfn: number, order: number): number => {
    const id = this.altmaps.lookupPfn(pfn);
    if (id >= 0) {
      this.altmaps.free(id, 2 ** order);
      return 0;
    }
    return this.pt.alloc.freePages(pfn, order, Purpose.Memmap);
  };

  /** v4.16+: free_hugepage_table with the altmap passed down; 4 KiB leaves always to the page allocator. */
  private explicitRelease(altmapId: number): (pfn: number, order: number) => number {
    return (pfn, order) => {
      if (order === 9 && altmapId >= 0) {
        this.altmaps.free(altmapId, 512);
        return 0;
      }
      return this.pt.alloc.freePages(pfn, order, Purpose.Memmap);
    };
  }

  /** vmemmap_free: remove_pagetable(direct = false). 0 or -EFAULT. */
  free(startPfn: number, nrPages: number, altmapId: number): number {
    const pt = this.pt;
    const release = this.withShares(altmapId === LOOKUP_ALTMAP ? this.freePagetable : this.explicitRelease(altmapId));
    return removeRange(pt, pt.root, 0, this.va(startPfn), this.va(startPfn + nrPages), release, Purpose.PageTable);
  }
}
