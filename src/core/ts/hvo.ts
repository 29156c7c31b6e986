/**
 * HugeTLB Vmemmap Optimization (twin of assembly/hvo.ts; docs/core.md "vmemmapOptimizeHuge",
 * "vmemmapRestoreHuge"): split the PMD leaves of a HugeTLB page's vmemmap, free every vmemmap page after
 * the first and map the first there read-only (shares of it), and the way back.
 */
import { EFAULT, EINVAL, ENOMEM, Purpose } from '../core.ts';
import { entryPfn, NX_HI, PAGE_FLAGS, PMD_SIZE, PTE_PRESENT, PTE_PSE, TABLE_FLAGS, type PageTable } from './pgtable.ts';
import type { Shares } from './shares.ts';
import type { Vmemmap } from './vmemmap.ts';

/** PAGE_KERNEL_RO as docs/core.md fixes it (low bits; NX in the high half): __PAGE_KERNEL without _PAGE_RW. */
const PAGE_RO_FLAGS = 0x121; // 6.12 PAGE_KERNEL_RO: present, accessed, global (+ NX); no RW, no dirty since v6.6
const PTE_RW = 0x2;
/** The largest nrPages (as the Wasm core, whose lists live in its 1 MiB IO block). */
const HUGE_MAX_PAGES = 2 ** 23;
const TWO40 = 2 ** 40;

/** Argument check of vmemmapOptimizeHuge / vmemmapRestoreHuge (the caller's, as in assembly/index.ts): 0 or -EINVAL. */
export function hugeArgsBad(startPfn: number, nrPages: number): number {
  if (!Number.isInteger(startPfn) || startPfn < 0 || startPfn > TWO40) return EINVAL;
  if (!Number.isInteger(nrPages) || nrPages < 128 || nrPages > HUGE_MAX_PAGES) return EINVAL;
  if (startPfn + nrPages > TWO40 || startPfn % 64 !== 0 || nrPages % 64 !== 0) return EINVAL;
  return 0;
}

/** A split made by this call: the PMD table and index, the leaf it held, the new PTE table. */
interface Split {
  table: number;
  index: number;
  lo: number;
  hi: number;
  pte: number;
}

export class Hvo {
  constructor(
    private readonly pt: PageTable,
    private readonly vm: Vmemmap,
    private readonly shares: Shares,
  ) {}

  /** Put back this call's splits, last first. */
  private undoSplits(splits: Split[]): void {
    const pt = this.pt;
    for (let k = splits.length - 1; k >= 0; k--) {
      const s = splits[k];
      pt.write(s.table, s.index, s.lo, s.hi);
      pt.alloc.freePages(s.pte, 0, Purpose.PageTable);
    }
  }

  /** vmemmap_remap_split: every PMD leaf met by the 2 MiB steps of [start, end) becomes a PTE table. 0 or -ENOMEM (undone). */
  private splitRange(start: number, end: number): number {
    const pt = this.pt;
    const splits: Split[] = [];
    for (let addr = start; addr < end; addr = Math.floor(addr / PMD_SIZE) * PMD_SIZE + PMD_SIZE) {
      const t = pt.findTable(addr, pt.pmd);
      if (t < 0) continue;
      const i = pt.index(addr, pt.pmd);
      const lo = pt.readLo(t, i);
      if (!(lo & PTE_PRESENT) || !(lo & PTE_PSE)) continue;
      const hi = pt.readHi(t, i);
      const page = pt.alloc.allocPages(0, Purpose.PageTable);
      if (page < 0) {
        this.undoSplits(splits);
        return ENOMEM;
      }
      const f = pt.mem.frameForWrite(page);
      if (!f) {
        pt.alloc.freePages(page, 0, Purpose.PageTable);
        this.undoSplits(splits);
        return ENOMEM;
      }
      const e = entryPfn(lo, hi);
      const block = e - (e % 512);
      for (let k = 0; k < 512; k++) {
        const p = block + k;
        f[2 * k] = ((p % 1048576) * 4096 + PAGE_FLAGS) >>> 0;
        f[2 * k + 1] = (Math.floor(p / 1048576) | NX_HI) >>> 0;
      }
      splits.push({ table: t, index: i, lo, hi, pte: page });
      // the PMD table is backed (it holds the leaf): this store cannot fail
      pt.write(t, i, ((page % 1048576) * 4096 + TABLE_FLAGS) >>> 0, Math.floor(page / 1048576));
    }
    return 0;
  }

  /** hugetlb_vmemmap_optimize_folio (arguments checked by the caller): pages freed, -ENOMEM (nothing changes), -EINVAL, or -EFAULT after a Bug. */
  vmemmapOptimizeHuge(startPfn: number, nrPages: number): number {
    const pt = this.pt;
    const start = this.vm.va(startPfn);
    const end = this.vm.va(startPfn + nrPages);
    // the reuse page: what the first vmemmap page maps (after the split: the same frame)
    const pmdT = pt.findTable(start, pt.pmd);
    if (pmdT < 0) return EINVAL;
    const pi = pt.index(start, pt.pmd);
    const plo = pt.readLo(pmdT, pi);
    if (!(plo & PTE_PRESENT)) return EINVAL;
    let reuse: number;
    const e = entryPfn(plo, pt.readHi(pmdT, pi));
    if (plo & PTE_PSE) {
      reuse = e - (e % 512) + pt.index(start, pt.pte);
    } else {
      const ti = pt.index(start, pt.pte);
      const lo = pt.readLo(e, ti);
      if (!(lo & PTE_PRESENT)) return EINVAL;
      reuse = entryPfn(lo, pt.readHi(e, ti));
    }
    if (this.splitRange(start, end) < 0) return ENOMEM;
    let freed = 0;
    let result = 0;
    this.tailPtes(start, end, (t, i, lo) => {
      const pfn = entryPfn(lo, pt.readHi(t, i));
      if (pfn === reuse) return true; // already remapped (a second optimize)
      if (pt.alloc.freePages(pfn, 0, Purpose.Memmap) < 0) {
        result = EFAULT;
        return false;
      }
      pt.writeLeaf(t, i, reuse, PAGE_RO_FLAGS); // the PTE table is backed
      this.shares.shareAdd(reuse);
      freed++;
      return true;
    });
    return result < 0 ? result : freed;
  }

  /**
   * The present PTEs of the vmemmap pages in [start + 4096, end), ascending (the PTE table looked up at
   * the first and at each 2 MiB boundary): visit(table, index, low half); false stops the walk.
   */
  private tailPtes(start: number, end: number, visit: (t: number, i: number, lo: number) => boolean): void {
    const pt = this.pt;
    let t = -1;
    for (let va = start + 4096; va < end; va += 4096) {
      if (va === start + 4096 || va % PMD_SIZE === 0) t = pt.findTable(va, pt.pte);
      if (t < 0) continue;
      const i = pt.index(va, pt.pte);
      const lo = pt.readLo(t, i);
      if (lo & PTE_PRESENT && !visit(t, i, lo)) return;
    }
  }

  /** The PTEs of [start + 4096, end) that map `reuse` read-only (vmemmapOptimizeHuge's), ascending. */
  private remapped(start: number, end: number, reuse: number, visit: (t: number, i: number) => void): void {
    const pt = this.pt;
    this.tailPtes(start, end, (t, i, lo) => {
      if (!(lo & PTE_RW) && entryPfn(lo, pt.readHi(t, i)) === reuse) visit(t, i);
      return true;
    });
  }

  /** hugetlb_vmemmap_restore_folio (arguments checked by the caller): pages allocated, -ENOMEM (nothing changes) or -EINVAL. */
  vmemmapRestoreHuge(startPfn: number, nrPages: number): number {
    const pt = this.pt;
    const start = this.vm.va(startPfn);
    const end = this.vm.va(startPfn + nrPages);
    const t0 = pt.findTable(start, pt.pte);
    if (t0 < 0) return 0;
    const i0 = pt.index(start, pt.pte);
    const lo0 = pt.readLo(t0, i0);
    if (!(lo0 & PTE_PRESENT)) return 0;
    const reuse = entryPfn(lo0, pt.readHi(t0, i0));
    let n = 0;
    this.remapped(start, end, reuse, () => n++);
    if (n === 0) return 0;
    // alloc_vmemmap_page_list: every page first, each filled with the copy at once
    const pages: number[] = [];
    for (let k = 0; k < n; k++) {
      const p = pt.alloc.allocPages(0, Purpose.Memmap);
      const f = p < 0 ? null : pt.mem.frameForWrite(p);
      if (!f) {
        if (p >= 0) pt.alloc.freePages(p, 0, Purpose.Memmap);
        for (const q of pages) pt.alloc.freePages(q, 0, Purpose.Memmap);
        return ENOMEM;
      }
      pt.mem.readFrame(reuse, f);
      pages.push(p);
    }
    let k = 0;
    this.remapped(start, end, reuse, (t, i) => {
      pt.writeLeaf(t, i, pages[k++], PAGE_FLAGS); // the PTE table is backed
      this.shares.shareDrop(reuse);
    });
    return n;
  }
}
