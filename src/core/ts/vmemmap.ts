/** vmemmap_populate / vmemmap_free on x86-64 (twin of assembly/vmemmap.ts). */
import { EINVAL, ENOMEM, EventType, INSPECT_NOT_PAGE, INSPECT_NOT_VMEMMAP, PopulateFlags, Purpose } from '../core.ts';
import type { AltmapTable } from './altmap.ts';
import { crFrames } from './compoundrun.ts';
import {
  entryPfn,
  LARGE_FLAGS,
  LEAF_ABOVE,
  NX_HI,
  PAGE_FLAGS,
  PMD_SIZE,
  PTE_PRESENT,
  PTE_PSE,
  PUD_SIZE,
  removePagetable,
  TABLE_FLAGS,
  vaFull,
  type PageTable,
} from './pgtable.ts';
import type { Shares } from './shares.ts';
import type { Events } from './state.ts';

/** populateRange's `reuse`: no page to reuse, allocate one. */
const NO_REUSE = -1;
const TWO40 = 2 ** 40;

/** Argument check of vmemmapPopulateCompound (the caller's, as in assembly/index.ts): 0 or -EINVAL. */
export function compoundArgsBad(startPfn: number, nrPages: number, compoundPages: number, rangeStartPfn: number): number {
  const int = (x: number, hi: number) => Number.isInteger(x) && x >= 0 && x <= hi;
  if (!int(startPfn, TWO40) || !int(nrPages, TWO40) || !int(rangeStartPfn, startPfn)) return EINVAL;
  if (!int(compoundPages, TWO40) || compoundPages <= 128 || 2 ** Math.round(Math.log2(compoundPages)) !== compoundPages) return EINVAL;
  if (startPfn + nrPages > TWO40 || startPfn % 64 !== 0 || nrPages % 64 !== 0) return EINVAL;
  return 0;
}

export class Vmemmap {
  /** The pfn mapped at the last address populateRange handled (populate_address's pte_page). */
  private lastPfn = 0;

  constructor(
    private readonly pt: PageTable,
    private readonly altmaps: AltmapTable,
    private readonly shares: Shares,
    private readonly events: Events,
    /** VMEMMAP_START, low 57 bits. */
    readonly base: number,
    private readonly pse: boolean,
    private readonly debug: boolean,
  ) {}

  /** The struct page of pfn: vmemmapStart + 64 * pfn. */
  va(pfn: number): number {
    return this.base + pfn * 64;
  }

  /** vmemmap_populate: 0 or -ENOMEM. */
  vmemmapPopulate(startPfn: number, nrPages: number, altmapId: number, flags: number): number {
    const start = this.va(startPfn);
    const end = this.va(startPfn + nrPages);
    if (!this.pse && altmapId >= 0) {
      this.events.emit(EventType.NoPseAltmap, 0n);
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
    // no Pmd events to emit and no armed fault to count attempts for: whole PMD tables may go as runs
    const runs = !this.debug && !pt.mem.faultsArmed();
    for (let addr = start; addr < end; ) {
      const next = Math.min(Math.floor(addr / PMD_SIZE) * PMD_SIZE + PMD_SIZE, end);
      const gib = Math.floor(addr / PUD_SIZE);
      let t = gib === cachedGiB ? cachedTable : -1;
      if (t < 0) {
        t = pt.populateTo(addr, pt.pmd, Purpose.PageTable);
        if (t >= 0) {
          cachedGiB = gib;
          cachedTable = t;
        }
      }
      if (t === LEAF_ABOVE) {
        addr = next;
        continue;
      }
      if (t < 0) return ENOMEM;
      if (runs && addr % PUD_SIZE === 0 && end - addr >= PUD_SIZE && pt.mem.isBlank(t)) {
        const done = this.populatePmdTable(t, altmapId);
        if (done < 0) return ENOMEM;
        // the entries it filled; the loop goes on at the first one it could not (a failed DRAM block)
        addr += done * PMD_SIZE;
        if (done > 0) continue;
      }
      const i = pt.index(addr, pt.pmd);
      const lo = pt.readLo(t, i);
      if (!(lo & PTE_PRESENT)) {
        const block = altmapId >= 0 ? this.altmaps.altmapAlloc(altmapId, 512) : pt.alloc.allocPages(9, Purpose.Memmap);
        if (block >= 0) {
          if (!pt.writeLeaf(t, i, block, LARGE_FLAGS)) {
            this.releaseBlock(block, 9, altmapId);
            return ENOMEM;
          }
          if (this.debug) this.events.emit(EventType.Pmd, vaFull(Math.floor(addr / PMD_SIZE) * PMD_SIZE), BigInt(block) * 4096n);
          addr = next;
          continue;
        }
        if (altmapId >= 0) return ENOMEM;
      } else if (lo & PTE_PSE) {
        addr = next;
        continue;
      }
      this.events.emit(EventType.Fallback, vaFull(addr), lo & PTE_PRESENT ? 0n : 1n);
      const r = this.populateBasepages(addr, next, altmapId, flags);
      if (r < 0) return r;
      addr = next;
    }
    return 0;
  }

  /**
   * The hugepage loop's 512 steps over the blank PMD table of one whole GiB of vmemmap at once (assembly/
   * vmemmap.ts populatePmdTable): blocks in the loop's order; one contiguous run makes the table a run
   * table, else the entries are written as the loop writes them. The entries filled (512, or the index
   * of a DRAM block that failed), or -ENOMEM.
   */
  private populatePmdTable(t: number, altmapId: number): number {
    const pt = this.pt;
    const blocks: number[] = [];
    let contiguous = true;
    // the 512 blocks the loop would take, at once when they are one run (the altmap's when they all fit)
    const run = altmapId >= 0 ? this.altmaps.altmapAllocRun(altmapId, 512, 512) : pt.alloc.allocPagesRun(9, 512, Purpose.Memmap);
    if (run >= 0) for (let i = 0; i < 512; i++) blocks.push(run + 512 * i);
    while (blocks.length < 512) {
      const block = altmapId >= 0 ? this.altmaps.altmapAlloc(altmapId, 512) : pt.alloc.allocPages(9, Purpose.Memmap);
      if (block < 0) break;
      if (blocks.length > 0 && block !== blocks[0] + 512 * blocks.length) contiguous = false;
      blocks.push(block);
    }
    const n = blocks.length;
    if (n === 512 && contiguous && pt.setRunTable(t, blocks[0])) return 512;
    for (let i = 0; i < n; i++) {
      if (!pt.writeLeaf(t, i, blocks[i], LARGE_FLAGS)) {
        // as the loop: this block goes back, and the ones after it were never taken
        for (let k = n; k > i; k--) this.releaseBlock(blocks[k - 1], 9, altmapId);
        return ENOMEM;
      }
    }
    return n < 512 && altmapId >= 0 ? ENOMEM : n;
  }

  /** vmemmap_populate_basepages: 4 KiB pages, from DRAM unless BasePagesUseAltmap. */
  private populateBasepages(start: number, end: number, altmapId: number, flags: number): number {
    const pt = this.pt;
    const useAltmap = altmapId >= 0 && (flags & PopulateFlags.BasePagesUseAltmap) !== 0;
    for (let addr = Math.floor(start / 4096) * 4096; addr < end; addr += 4096) {
      const t = pt.populateTo(addr, pt.pte, Purpose.PageTable);
      if (t === LEAF_ABOVE) continue;
      if (t < 0) return ENOMEM;
      const i = pt.index(addr, pt.pte);
      if (pt.readLo(t, i) & PTE_PRESENT) continue;
      const page = useAltmap ? this.altmaps.altmapAlloc(altmapId, 1) : pt.alloc.allocPages(0, Purpose.Memmap);
      if (page < 0) return ENOMEM;
      if (!pt.writeLeaf(t, i, page, PAGE_FLAGS)) {
        this.releaseBlock(page, 0, useAltmap ? altmapId : -1);
        return ENOMEM;
      }
    }
    return 0;
  }

  /** A block whose leaf could not be stored (budget) goes back where it came from. */
  private releaseBlock(pfn: number, order: number, altmapId: number): void {
    if (altmapId >= 0) this.altmaps.altmapFree(altmapId, 2 ** order);
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
      if (!walked || va % PMD_SIZE === 0) {
        t = pt.populateTo(va, pt.pte, Purpose.PageTable);
        if (t < 0 && t !== LEAF_ABOVE) return ENOMEM;
        walked = true;
      }
      if (t === LEAF_ABOVE) {
        this.lastPfn = Math.floor(pt.translate(va) / 4096);
        continue;
      }
      const tableEnd = va - (va % PMD_SIZE) + PMD_SIZE;
      if (reuse !== NO_REUSE && b >= tableEnd && !pt.mem.faultsArmed() && this.emptyFrom(t, pt.index(va, pt.pte))) {
        // the rest of a PTE table, all empty, all to map `reuse` (a large compound page's tail): at once
        const f = pt.mem.frameForWrite(t);
        if (!f) return ENOMEM; // the first entry's write fails there too
        const lo = ((reuse % 1048576) * 4096 + PAGE_FLAGS) >>> 0;
        const hi = (Math.floor(reuse / 1048576) | NX_HI) >>> 0;
        const from = pt.index(va, pt.pte);
        for (let k = from; k < 512; k++) {
          f[2 * k] = lo;
          f[2 * k + 1] = hi;
        }
        this.shares.shareAddMany(reuse, 512 - from);
        this.lastPfn = reuse;
        va = tableEnd - 4096; // the loop steps to the next table
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
        this.shares.shareAdd(reuse);
        this.lastPfn = reuse;
      }
    }
    return 0;
  }

  /**
   * The step-3 loop over the 2 MiB of VA from `addr` at once when its PTE table is blank (assembly/
   * vmemmap.ts populateCompoundTable): heads and first tails as one allocPagesRun, the frame written
   * once, each tail's shares in one step. 1 done; 0 when it does not apply (the single steps go on);
   * -ENOMEM as populate_address would.
   */
  private populateCompoundTable(addr: number, cs: number): number {
    const pt = this.pt;
    const t = pt.populateTo(addr, pt.pte, Purpose.PageTable);
    if (t === LEAF_ABOVE || !pt.mem.isBlank(t)) return 0;
    if (t < 0) return ENOMEM;
    const m = PMD_SIZE / cs;
    const per = cs / 4096;
    const f = pt.mem.frameForWrite(t);
    if (!f) return 0; // the single steps fail where they fail (the head is allocated first)
    const first = pt.alloc.allocPagesRun(0, 2 * m, Purpose.Memmap);
    if (first < 0) {
      pt.mem.discardFrames(t, t + 1); // blank again, as the single steps find it
      return 0;
    }
    for (let c = 0; c < m; c++) {
      const head = first + 2 * c;
      const hLo = ((head % 1048576) * 4096 + PAGE_FLAGS) >>> 0;
      const hHi = (Math.floor(head / 1048576) | NX_HI) >>> 0;
      const tLo = (((head + 1) % 1048576) * 4096 + PAGE_FLAGS) >>> 0;
      const tHi = (Math.floor((head + 1) / 1048576) | NX_HI) >>> 0;
      const at = 2 * c * per;
      f[at] = hLo;
      f[at + 1] = hHi;
      for (let i = 1; i < per; i++) {
        f[at + 2 * i] = tLo;
        f[at + 2 * i + 1] = tHi;
      }
      this.shares.shareAddMany(head + 1, per - 2);
    }
    this.lastPfn = first + 2 * m - 1;
    return 1;
  }

  /**
   * The compound loop over the GiB of VA from `addr` at once when its PMD table does not exist yet
   * (assembly/vmemmap.ts populateCompoundRun): the PMD table, PTE tables, heads and first tails as one
   * allocPagesRun held as a compound run. 1 done; 0 when it does not apply; -ENOMEM as populate_address.
   */
  private populateCompoundRun(addr: number, cs: number): number {
    const pt = this.pt;
    const pud = pt.populateTo(addr, pt.pud, Purpose.PageTable);
    if (pud === LEAF_ABOVE) return 0;
    if (pud < 0) return ENOMEM;
    const i = pt.index(addr, pt.pud);
    if (pt.readLo(pud, i) !== 0 || pt.readHi(pud, i) !== 0) return 0;
    const csShift = Math.log2(cs);
    const n = crFrames(csShift);
    const base = pt.alloc.allocPagesRun(0, n, Purpose.Memmap);
    if (base < 0) return 0;
    pt.alloc.purposeMove(base, 513, Purpose.Memmap, Purpose.PageTable);
    const r = pt.mem.runs.create(base, csShift);
    if (!pt.write(pud, i, ((base % 1048576) * 4096 + TABLE_FLAGS) >>> 0, Math.floor(base / 1048576))) {
      pt.mem.runs.delete(r);
      pt.alloc.purposeMove(base, 513, Purpose.PageTable, Purpose.Memmap);
      pt.alloc.freePagesRun(base, n, Purpose.Memmap);
      return ENOMEM;
    }
    this.shares.shareImplicit(pt.mem.runs.tails(r) * pt.mem.runs.tailShares(r));
    this.lastPfn = pt.mem.runs.tail(r, pt.mem.runs.tails(r) - 1);
    return 1;
  }

  /** Are the PTE table's entries [i, 512) all empty: a blank table, or a backed one with zeros there? */
  private emptyFrom(t: number, i: number): boolean {
    const f = this.pt.mem.frameWords(t);
    if (!f) return this.pt.mem.isBlank(t);
    for (let k = 2 * i; k < 1024; k++) if (f[k] !== 0) return false;
    return true;
  }

  /** vmemmap_populate_compound_pages (arguments checked by the caller): 0 or -ENOMEM (what was done stays). */
  vmemmapPopulateCompound(startPfn: number, nrPages: number, compoundPages: number, rangeStartPfn: number): number {
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
    const cs = compoundPages * 64;
    const size = Math.min(end - start, cs);
    // compound pages of 2 MiB of vmemmap or less, no fault armed: whole blank PTE tables may go at once
    const tables = cs <= PMD_SIZE && size === cs && !this.pt.mem.faultsArmed();
    // whole compound pages, no fault armed: a whole GiB of vmemmap under a missing PMD table may be one run
    const runs = cs <= PUD_SIZE && size === cs && !this.pt.mem.faultsArmed();
    for (let addr = start; addr < end; addr += size) {
      if (runs && addr % PUD_SIZE === 0 && end - addr >= PUD_SIZE) {
        const r = this.populateCompoundRun(addr, cs);
        if (r < 0) return ENOMEM;
        if (r > 0) {
          addr += PUD_SIZE - size;
          continue;
        }
      }
      if (tables && addr % PMD_SIZE === 0 && end - addr >= PMD_SIZE) {
        const r = this.populateCompoundTable(addr, cs);
        if (r < 0) return ENOMEM;
        if (r > 0) {
          addr += PMD_SIZE - size;
          continue;
        }
      }
      if (this.populateRange(addr, addr + 4096, NO_REUSE) < 0) return ENOMEM;
      if (this.populateRange(addr + 4096, addr + 8192, NO_REUSE) < 0) return ENOMEM;
      if (this.populateRange(addr + 8192, addr + size, this.lastPfn) < 0) return ENOMEM;
    }
    return 0;
  }

  /** vmemmap_free: remove_pagetable(direct = false). 0 or -EFAULT. */
  vmemmapFree(startPfn: number, nrPages: number, altmapId: number): number {
    return removePagetable(this.pt, this.va(startPfn), this.va(startPfn + nrPages), false, altmapId);
  }
}

// ---- pfn_to_page / page_to_pfn and the pgmap lookup behind to_vmem_altmap (as assembly/vmemmap.ts) ----

/** pfn_to_page (SPARSEMEM_VMEMMAP): vmemmap + pfn, 64 bytes a struct page, modulo 2^64. */
export function pfnToPage(vmemmapStart: bigint, pfn: number): bigint {
  return BigInt.asUintN(64, vmemmapStart + BigInt(pfn * 64));
}

/** page_to_pfn: the pfn whose struct page starts at va; INSPECT_NOT_VMEMMAP or INSPECT_NOT_PAGE. */
export function pageToPfn(vmemmapStart: bigint, levels: 4 | 5, va: bigint): number {
  // the vmemmap spans 64 bytes for each pfn of MAX_PHYSMEM_BITS (46, or 52 with 5-level paging)
  const span = 64n << (levels === 5 ? 40n : 34n);
  const v = BigInt.asUintN(64, va);
  if (v < vmemmapStart || v - vmemmapStart >= span) return INSPECT_NOT_VMEMMAP;
  const off = Number(v - vmemmapStart);
  if (off % 64 !== 0) return INSPECT_NOT_PAGE;
  return off / 64;
}

/** to_vmem_altmap(memmap_start): page_to_pfn, then the pgmap lookup: the host's pgmap id, -1, or page_to_pfn's code. */
export function toVmemAltmap(vmemmapStart: bigint, levels: 4 | 5, altmaps: AltmapTable, va: bigint): number {
  const pfn = pageToPfn(vmemmapStart, levels, va);
  return pfn < 0 ? pfn : altmaps.lookupPgmap(pfn);
}
