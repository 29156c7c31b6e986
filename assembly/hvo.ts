/**
 * HugeTLB Vmemmap Optimization (HVO, v5.14+; Linux 6.12 mm/hugetlb_vmemmap.c): docs/core.md
 * "vmemmapOptimizeHuge" and "vmemmapRestoreHuge", kernel.md §4.2 and T45.
 *
 * The vmemmap of a HugeTLB page's struct pages [startPfn, startPfn + nrPages) is the VA range
 * [start, end); its first 4 KiB page is the reuse page. Optimize (vmemmap_remap_split, then
 * vmemmap_remap_free) splits the PMD leaves of the range into PTE tables, frees the page behind every
 * further vmemmap page and maps the reuse page there read-only; each such mapping is a share of the
 * reuse page (shares.ts), so vmemmapFree frees it once. Restore (vmemmap_remap_alloc) gives every
 * read-only mapping of the reuse page a fresh DRAM page holding a copy of it, mapped read-write.
 *
 * Lists that the kernel keeps on struct page lru (the PMDs split so far, the pages allocated for a
 * restore) live in IO for the duration of the call: nrPages <= 2^23 bounds them to 1 MiB.
 */
import { EFAULT, EINVAL, ENOMEM, PURPOSE_MEMMAP, PURPOSE_PAGE_TABLE } from './abi';
import { IO } from './layout';
import { allocPages, freePages } from './pagealloc';
import { frameForWrite, physCopyFrame, physRead64, physWrite64 } from './physmem';
import {
  findTable,
  NO_TABLE,
  PAGE_LEAF_BITS,
  PMD_SIZE,
  PTE_NX,
  PTE_PFN_MASK,
  PTE_PRESENT,
  PTE_PSE,
  TABLE_BITS,
} from './pgtable';
import { shareAdd, shareDrop, shareReserve, shareUnreserve } from './shares';
import { cfgVmemmapStart } from './state';

/** _PAGE_RW. */
const PTE_RW: u64 = 0x2;
/** PAGE_KERNEL_RO as docs/core.md fixes it (+ NX): __PAGE_KERNEL without _PAGE_RW. */
const PAGE_RO_BITS: u64 = 0x121 | PTE_NX; // 6.12 PAGE_KERNEL_RO: present, accessed, global, NX (no RW, no dirty since v6.6)
/** The largest nrPages (32 GiB HugeTLB pages; the lists in IO hold 2^17 entries). */
const HUGE_MAX_PAGES: f64 = 8388608;
/** Argument check of vmemmapOptimizeHuge / vmemmapRestoreHuge: 0 or -EINVAL. */
export function hugeArgsBad(startPfn: f64, nrPages: f64): i32 {
  const lim: f64 = 1099511627776; // 2^40
  if (!(startPfn >= 0 && startPfn <= lim && floor(startPfn) == startPfn)) return EINVAL;
  if (!(nrPages >= 128 && nrPages <= HUGE_MAX_PAGES && floor(nrPages) == nrPages)) return EINVAL;
  if (startPfn + nrPages > lim) return EINVAL;
  if ((<u64>startPfn & 63) != 0 || (<u64>nrPages & 63) != 0) return EINVAL;
  return 0;
}

// ---- split: vmemmap_remap_split / vmemmap_split_pmd ----
/** A split of this call, in IO: the PMD entry's address, the leaf it held, the new PTE table's pfn. */
@unmanaged
class Split {
  entry: u64;
  leaf: u64;
  ptePfn: u64;
}

@inline
function splitAt(i: u32): Split {
  return changetype<Split>(IO + <usize>i * offsetof<Split>());
}

/** Put back the first n splits of this call, last first: the PMD leaf returns, the PTE table goes. */
function undoSplits(n: u32): void {
  while (n != 0) {
    n--;
    const r = splitAt(n);
    physWrite64(r.entry, r.leaf);
    freePages(r.ptePfn, 0, PURPOSE_PAGE_TABLE);
  }
}

/**
 * Every PMD leaf met by the 2 MiB steps of [start, start + len) becomes a PTE table of 512 4 KiB
 * leaves onto the same block, ascending. 0, or -ENOMEM with this call's splits undone.
 */
function splitRange(start: u64, len: u64): i32 {
  let n: u32 = 0;
  let addr = start;
  let left = len;
  while (left != 0) {
    let step = PMD_SIZE - (addr & (PMD_SIZE - 1));
    if (step > left) step = left;
    const t = findTable(addr, 21);
    if (t != NO_TABLE) {
      const ea = t + (((addr >> 21) & 511) << 3);
      const e = physRead64(ea);
      if ((e & PTE_PRESENT) != 0 && (e & PTE_PSE) != 0) {
        const p = allocPages(0, PURPOSE_PAGE_TABLE);
        if (p < 0) {
          undoSplits(n);
          return ENOMEM;
        }
        const pfn = <u64>p;
        const a = frameForWrite(pfn);
        if (a == 0) {
          freePages(pfn, 0, PURPOSE_PAGE_TABLE);
          undoSplits(n);
          return ENOMEM;
        }
        const block = e & PTE_PFN_MASK & ~(PMD_SIZE - 1);
        for (let i: usize = 0; i < 512; i++) store<u64>(a + (i << 3), (block + (<u64>i << 12)) | PAGE_LEAF_BITS);
        const r = splitAt(n);
        r.entry = ea;
        r.leaf = e;
        r.ptePfn = pfn;
        n++;
        // the PMD table is backed (it holds the leaf): this store cannot fail
        physWrite64(ea, (pfn << 12) | TABLE_BITS);
      }
    }
    addr += step;
    left -= step;
  }
  return 0;
}

// ---- the PTEs of the vmemmap pages after the first ----
/** tailPte's PTE table of the current 2 MiB of VA. */
let tailTable: u64 = NO_TABLE;

/**
 * The address of the PTE that maps vmemmap page va, for an ascending walk over [start + 4096, end) that
 * starts with `first` (the PTE table is looked up there and at each 2 MiB boundary); NO_TABLE when no
 * PTE table holds it.
 */
@inline
function tailPte(va: u64, first: bool): u64 {
  if (first || (va & (PMD_SIZE - 1)) == 0) tailTable = findTable(va, 12);
  return tailTable == NO_TABLE ? NO_TABLE : tailTable + (((va >> 12) & 511) << 3);
}

/** A PTE that maps the reuse page read-only (what vmemmapOptimizeHuge made of it). */
@inline
function remapped(e: u64, reuse: u64): bool {
  return (e & PTE_PRESENT) != 0 && (e & PTE_RW) == 0 && (e & PTE_PFN_MASK) >> 12 == reuse;
}

// ---- remap: vmemmap_remap_free / vmemmap_remap_pte ----
/**
 * hugetlb_vmemmap_optimize_folio for the struct pages of pfns [startPfn, startPfn + nrPages) (arguments
 * checked by the caller). The number of vmemmap pages freed, -ENOMEM (nothing changes), -EINVAL when
 * the first vmemmap page is not mapped by a PMD leaf or a PTE, or -EFAULT after a Bug event.
 */
export function vmemmapOptimizeHuge(startPfn: u64, nrPages: u64): i32 {
  const start = cfgVmemmapStart + (startPfn << 6);
  const pages = nrPages >> 6;
  // the reuse page: what the first vmemmap page maps (after the split: the same frame)
  const pmdT = findTable(start, 21);
  if (pmdT == NO_TABLE) return EINVAL;
  const pmdE = physRead64(pmdT + (((start >> 21) & 511) << 3));
  if ((pmdE & PTE_PRESENT) == 0) return EINVAL;
  let reuse: u64;
  if ((pmdE & PTE_PSE) != 0) {
    reuse = ((pmdE & PTE_PFN_MASK & ~(PMD_SIZE - 1)) >> 12) + ((start >> 12) & 511);
  } else {
    const pte = physRead64((pmdE & PTE_PFN_MASK) + (((start >> 12) & 511) << 3));
    if ((pte & PTE_PRESENT) == 0) return EINVAL;
    reuse = (pte & PTE_PFN_MASK) >> 12;
  }
  if (!shareReserve(reuse)) return ENOMEM;
  if (splitRange(start, pages << 12) < 0) {
    shareUnreserve(reuse);
    return ENOMEM;
  }
  let freed: i32 = 0;
  let result: i32 = 0;
  let va = start + 4096;
  for (let k: u64 = 1; k < pages; k++, va += 4096) {
    const ea = tailPte(va, k == 1);
    if (ea == NO_TABLE) continue;
    const e = physRead64(ea);
    if ((e & PTE_PRESENT) == 0) continue;
    const pfn = (e & PTE_PFN_MASK) >> 12;
    if (pfn == reuse) continue; // already remapped (a second optimize)
    if (!shareAdd(reuse)) {
      result = ENOMEM; // not reached: the count's room was reserved and nrPages bounds it
      break;
    }
    if (freePages(pfn, 0, PURPOSE_MEMMAP) < 0) {
      shareDrop(reuse);
      result = EFAULT;
      break;
    }
    physWrite64(ea, (reuse << 12) | PAGE_RO_BITS); // the PTE table is backed
    freed++;
  }
  shareUnreserve(reuse);
  return result < 0 ? result : freed;
}

// ---- restore: vmemmap_remap_alloc / vmemmap_restore_pte ----
/**
 * hugetlb_vmemmap_restore_folio: every PTE of [start + 4096, end) that maps the reuse page read-only
 * gets a new order-0 DRAM page (Memmap) holding a copy of the reuse page, read-write; the reuse page
 * loses that share. All pages are allocated (and filled) first. The number of pages, or -ENOMEM
 * (nothing changes).
 */
export function vmemmapRestoreHuge(startPfn: u64, nrPages: u64): i32 {
  const start = cfgVmemmapStart + (startPfn << 6);
  const pages = nrPages >> 6;
  const t0 = findTable(start, 12);
  if (t0 == NO_TABLE) return 0;
  const e0 = physRead64(t0 + (((start >> 12) & 511) << 3));
  if ((e0 & PTE_PRESENT) == 0) return 0;
  const reuse = (e0 & PTE_PFN_MASK) >> 12;
  // count the read-only mappings of the reuse page
  let n: u32 = 0;
  let va = start + 4096;
  for (let k: u64 = 1; k < pages; k++, va += 4096) {
    const ea = tailPte(va, k == 1);
    if (ea != NO_TABLE && remapped(physRead64(ea), reuse)) n++;
  }
  if (n == 0) return 0;
  // alloc_vmemmap_page_list: every page first, each filled with the copy at once
  for (let i: u32 = 0; i < n; i++) {
    const p = allocPages(0, PURPOSE_MEMMAP);
    let ok = p >= 0;
    if (ok && !physCopyFrame(<u64>p, reuse)) {
      freePages(<u64>p, 0, PURPOSE_MEMMAP);
      ok = false;
    }
    if (!ok) {
      for (let j: u32 = 0; j < i; j++) freePages(load<u64>(IO + (<usize>j << 3)), 0, PURPOSE_MEMMAP);
      return ENOMEM;
    }
    store<u64>(IO + (<usize>i << 3), <u64>p);
  }
  // install them in ascending order of VA
  let i: u32 = 0;
  va = start + 4096;
  for (let k: u64 = 1; k < pages; k++, va += 4096) {
    const ea = tailPte(va, k == 1);
    if (ea == NO_TABLE || !remapped(physRead64(ea), reuse)) continue;
    physWrite64(ea, (load<u64>(IO + (<usize>i << 3)) << 12) | PAGE_LEAF_BITS); // the PTE table is backed
    shareDrop(reuse);
    i++;
  }
  return <i32>n;
}
