/**
 * vmemmap_populate (x86, v4.5) and vmemmap_free (docs/core.md "vmemmap", kernel.md §2.8, §2.11).
 * The struct page of pfn P lives at va(P) = vmemmapStart + 64 * P.
 */
import {
  EINVAL,
  ENOMEM,
  EVENT_FALLBACK,
  INSPECT_NOT_PAGE,
  INSPECT_NOT_VMEMMAP,
  EVENT_NO_PSE_ALTMAP,
  EVENT_PMD,
  POPULATE_BASE_PAGES,
  POPULATE_BASE_PAGES_USE_ALTMAP,
  PURPOSE_MEMMAP,
  PURPOSE_PAGE_TABLE,
} from './abi';
import { altmapAlloc, altmapAllocRun, ALTMAP_FAIL, altmapFree, lookupPgmap } from './altmap';
import { IO } from './layout';
import { crCreate, crDelete, crFrames, crTail, crTails, crTailShares } from './compoundrun';
import { allocPages, allocPagesRun, freePages, freePagesRun, purposeMove } from './pagealloc';
import { discardFrames, frameAddr, frameForWrite, physRead64, physWrite64 } from './physmem';
import {
  LARGE_LEAF_BITS,
  PAGE_LEAF_BITS,
  PMD_SIZE,
  popStatus,
  populateTo,
  PTE_PFN_MASK,
  PTE_PSE,
  removePagetable,
  setRunTable,
  TABLE_BITS,
  tableBlank,
  translate,
  trPhys,
  trSize,
} from './pgtable';
import { shareAdd, shareAddMany, shareDrop, shareImplicit, shareReserve, shareUnreserve } from './shares';
import { cfgDebug, cfgLevels, cfgPse, cfgVmemmapStart, emit, faultsArmed } from './state';

/** A block whose leaf could not be stored (budget) goes back where it came from. */
function releaseBlock(pfn: u64, order: u32, altmapId: i32): void {
  if (altmapId >= 0) altmapFree(altmapId, <u64>1 << order);
  else freePages(pfn, <i32>order, PURPOSE_MEMMAP);
}

/**
 * vmemmap_populate_basepages over the VA bytes [start, start + len): every 4 KiB page touching it,
 * ascending. Tables from DRAM (PageTable); an empty PTE gets a page from the altmap (with
 * POPULATE_BASE_PAGES_USE_ALTMAP) or DRAM (Memmap). A page under a larger leaf is already mapped.
 */
function populateBasepages(start: u64, len: u64, altmapId: i32, flags: u32): i32 {
  let va = start & ~(<u64>4095);
  let pages = ((start & 4095) + len + 4095) >> 12;
  const useAltmap = (flags & POPULATE_BASE_PAGES_USE_ALTMAP) != 0 && altmapId >= 0;
  for (; pages != 0; pages--, va += 4096) {
    const pte = populateTo(va, 12, PURPOSE_PAGE_TABLE);
    if (popStatus < 0) return ENOMEM;
    if (popStatus > 0) continue;
    const ea = pte + (((va >> 12) & 511) << 3);
    if (physRead64(ea) != 0) continue;
    let pfn: u64;
    if (useAltmap) {
      pfn = altmapAlloc(altmapId, 1);
      if (pfn == ALTMAP_FAIL) return ENOMEM;
    } else {
      const p = allocPages(0, PURPOSE_MEMMAP);
      if (p < 0) return ENOMEM;
      pfn = <u64>p;
    }
    if (!physWrite64(ea, (pfn << 12) | PAGE_LEAF_BITS)) {
      releaseBlock(pfn, 0, useAltmap ? altmapId : -1);
      return ENOMEM;
    }
  }
  return 0;
}

/** vmemmap_populate for the struct pages of pfns [startPfn, startPfn + nrPages). 0 or -ENOMEM. */
export function vmemmapPopulate(startPfn: u64, nrPages: u64, altmapId: i32, flags: u32): i32 {
  if (!cfgPse && altmapId >= 0) {
    emit(EVENT_NO_PSE_ALTMAP, 0, 0, 0, 0);
    return ENOMEM;
  }
  const start = cfgVmemmapStart + (startPfn << 6);
  const len = nrPages << 6;
  if (len == 0) return 0;
  if (!cfgPse || (flags & POPULATE_BASE_PAGES) != 0) return populateBasepages(start, len, altmapId, flags);
  return populateHugepages(start, len, altmapId, flags);
}

/**
 * vmemmap_populate_hugepages over the VA bytes [start, start + len), in 2 MiB steps: a 2 MiB block from
 * the altmap (no fallback) or DRAM, else a Fallback event and base pages for the step. 0 or -ENOMEM.
 */
function populateHugepages(start: u64, len: u64, altmapId: i32, flags: u32): i32 {
  let addr = start;
  let left = len;
  // no Pmd events to emit and no armed fault to count attempts for: whole PMD tables may go as runs
  const runs = !cfgDebug && !faultsArmed();
  while (left != 0) {
    let step = PMD_SIZE - (addr & (PMD_SIZE - 1));
    if (step > left) step = left;
    const pmdTable = populateTo(addr, 21, PURPOSE_PAGE_TABLE);
    if (popStatus < 0) return ENOMEM;
    if (popStatus == 0 && runs && (addr & (PUD_SIZE - 1)) == 0 && left >= PUD_SIZE && tableBlank(pmdTable)) {
      const done = populatePmdTable(pmdTable, addr, altmapId);
      if (done < 0) return ENOMEM;
      // the entries it filled; the loop goes on at the first one it could not (a failed DRAM block)
      addr += <u64>done << 21;
      left -= <u64>done << 21;
      if (done == 512) continue;
      step = PMD_SIZE;
    }
    if (popStatus == 0) {
      const ea = pmdTable + (((addr >> 21) & 511) << 3);
      const e = physRead64(ea);
      let fallback = false;
      let blockFailed: u64 = 0;
      if (e == 0) {
        let block: u64 = 0;
        let got = false;
        if (altmapId >= 0) {
          const pfn = altmapAlloc(altmapId, 512);
          got = pfn != ALTMAP_FAIL;
          block = pfn << 12;
        } else {
          const pfn = allocPages(9, PURPOSE_MEMMAP);
          got = pfn >= 0;
          block = <u64>pfn << 12;
        }
        if (got) {
          if (!physWrite64(ea, block | LARGE_LEAF_BITS)) {
            releaseBlock(block >> 12, 9, altmapId);
            return ENOMEM;
          }
          if (cfgDebug) emit(EVENT_PMD, addr & ~(PMD_SIZE - 1), block, 0, 0);
        } else if (altmapId >= 0) {
          return ENOMEM; // no fallback with an altmap
        } else {
          fallback = true;
          blockFailed = 1;
        }
      } else if ((e & PTE_PSE) == 0) {
        fallback = true; // the PMD holds a PTE table
      }
      if (fallback) {
        emit(EVENT_FALLBACK, addr, blockFailed, 0, 0);
        const r = populateBasepages(addr, step, altmapId, flags);
        if (r < 0) return r;
      }
    }
    addr += step;
    left -= step;
  }
  return 0;
}

/** Bytes a PUD entry (a PMD table) maps. */
const PUD_SIZE: u64 = PMD_SIZE << 9;

/**
 * The hugepage loop's 512 steps over the blank PMD table of one whole GiB of vmemmap, at once: the
 * blocks are allocated in the loop's order; when all 512 are one contiguous run (the altmap's and a
 * fresh allocator's always are) the table becomes a run table (pgtable.ts: one pattern, no backed
 * frame), else the entries are written as the loop writes them. Returns the entries filled (512, or
 * the index of a DRAM block that failed: the loop handles that one, so the fallback is as before), or
 * -ENOMEM (an altmap that ran out, with the entries before it filled, or an entry that could not be stored).
 */
function populatePmdTable(table: u64, addr: u64, altmapId: i32): i32 {
  let n: u32 = 0;
  let contiguous = true;
  let first: u64 = 0;
  // a run's blocks are first + n * 2 MiB: IO gets them only when the table is written entry by entry
  let run = false;
  const blocks = IO; // one u64 phys per entry; IO is free during a core call
  if (altmapId >= 0) {
    // the 512 altmap blocks at once when they all fit (the usual case); else one by one below
    const pfn0 = altmapAllocRun(altmapId, 512, 512);
    if (pfn0 != ALTMAP_FAIL) {
      first = pfn0 << 12;
      n = 512;
      run = true;
    }
  } else {
    // the 512 DRAM blocks the loop would take, at once when they are one run
    const p = allocPagesRun(9, 512, PURPOSE_MEMMAP, 0);
    if (p >= 0) {
      first = <u64>p << 12;
      n = 512;
      run = true;
    }
  }
  for (; n < 512; n++) {
    let block: u64;
    if (altmapId >= 0) {
      const pfn = altmapAlloc(altmapId, 512);
      if (pfn == ALTMAP_FAIL) break;
      block = pfn << 12;
    } else {
      const pfn = allocPages(9, PURPOSE_MEMMAP);
      if (pfn < 0) break;
      block = <u64>pfn << 12;
    }
    if (n == 0) first = block;
    else if (block != first + (<u64>n << 21)) contiguous = false;
    store<u64>(blocks + (<usize>n << 3), block);
  }
  if (n == 512 && contiguous && setRunTable(table, 21, first, LARGE_LEAF_BITS)) return 512;
  if (run) for (let i: u32 = 0; i < 512; i++) store<u64>(blocks + (<usize>i << 3), first + (<u64>i << 21));
  for (let i: u32 = 0; i < n; i++) {
    if (!physWrite64(table + (<u64>i << 3), load<u64>(blocks + (<usize>i << 3)) | LARGE_LEAF_BITS)) {
      // as the loop: this block goes back, and the ones after it were never taken
      for (let k = n; k > i; k--) releaseBlock(load<u64>(blocks + (<usize>(k - 1) << 3)) >> 12, 9, altmapId);
      return ENOMEM;
    }
  }
  if (n < 512 && altmapId >= 0) return ENOMEM;
  return <i32>n;
}

// ---- compound devmaps (v5.17+, mm/sparse-vmemmap.c vmemmap_populate_compound_pages) ----
/** No page to reuse: populate_address allocates one. */
const NO_REUSE: u64 = ~(<u64>0);
/** The pfn mapped at the last address populateRange handled (populate_address's pte_page). */
let lastPfn: u64 = 0;

/**
 * vmemmap_populate_range(a, b, reuse): vmemmap_populate_address for every 4 KiB of VA in [a, b),
 * ascending. Tables as in the base-page path (populateTo, Purpose.PageTable), walked once per 2 MiB
 * of VA (later pages of the same PMD find every table present). A non-empty PTE stays (pte_none false);
 * a leaf above the PTE level means the page is already mapped. An empty PTE maps a new order-0 DRAM
 * page (reuse == NO_REUSE) or `reuse`, which then holds one more share. 0 or -ENOMEM.
 */
function populateRange(a: u64, b: u64, reuse: u64): i32 {
  let table: u64 = 0;
  let status: i32 = 0;
  let walked = false;
  for (let va = a; va < b; va += 4096) {
    if (!walked || (va & (PMD_SIZE - 1)) == 0) {
      table = populateTo(va, 12, PURPOSE_PAGE_TABLE);
      status = popStatus;
      if (status < 0) return ENOMEM;
      walked = true;
    }
    if (status > 0) {
      translate(va);
      lastPfn = trPhys >> 12;
      continue;
    }
    if (reuse != NO_REUSE && b - va >= PMD_SIZE - (va & (PMD_SIZE - 1)) && !faultsArmed() && emptyFrom(table, <u32>(va >> 12) & 511)) {
      // the rest of a PTE table, all empty, all to map `reuse` (a large compound page's tail): at once
      const r = populateReuseTable(table, <u32>(va >> 12) & 511, reuse);
      if (r < 0) return ENOMEM;
      if (r > 0) {
        lastPfn = reuse;
        va = (va | (PMD_SIZE - 1)) - 4095; // the table's last page: the loop steps to the next table
        continue;
      }
    }
    const ea = table + (((va >> 12) & 511) << 3);
    const e = physRead64(ea);
    if (e != 0) {
      lastPfn = (e & PTE_PFN_MASK) >> 12;
      continue;
    }
    if (reuse == NO_REUSE) {
      const p = allocPages(0, PURPOSE_MEMMAP);
      if (p < 0) return ENOMEM;
      const pfn = <u64>p;
      if (!physWrite64(ea, (pfn << 12) | PAGE_LEAF_BITS)) {
        freePages(pfn, 0, PURPOSE_MEMMAP);
        return ENOMEM;
      }
      lastPfn = pfn;
    } else {
      if (!shareAdd(reuse)) return ENOMEM;
      if (!physWrite64(ea, (reuse << 12) | PAGE_LEAF_BITS)) {
        shareDrop(reuse);
        return ENOMEM;
      }
      lastPfn = reuse;
    }
  }
  return 0;
}

/** Are the PTE table's entries [i, 512) all empty: a blank table, or a backed one with zeros there? */
function emptyFrom(table: u64, i: u32): bool {
  const a = frameAddr(table >> 12);
  if (a == 0) return tableBlank(table);
  for (let k = i; k < 512; k++) if (load<u64>(a + (<usize>k << 3)) != 0) return false;
  return true;
}

/**
 * populateRange's steps over the empty entries [i, 512) of a PTE table that all map `reuse`, at once:
 * their shares, the frame backed once (if it is not) and filled. 1 done; 0 when the shares cannot all be
 * added (overflow, no room: the single steps then fail where they fail); -ENOMEM when the frame cannot
 * be backed (the first step's write fails there too, its share dropped again).
 */
function populateReuseTable(table: u64, i: u32, reuse: u64): i32 {
  const n: u32 = 512 - i;
  if (!shareAddMany(reuse, n)) return 0;
  const a = frameForWrite(table >> 12);
  if (a == 0) {
    for (let k: u32 = 0; k < n; k++) shareDrop(reuse);
    return ENOMEM;
  }
  const e = (reuse << 12) | PAGE_LEAF_BITS;
  for (let k = i; k < 512; k++) store<u64>(a + (<usize>k << 3), e);
  return 1;
}

/**
 * vmemmap_populate_compound_pages for the struct pages of pfns [startPfn, startPfn + nrPages) of a
 * pgmap range starting at rangeStartPfn, compound pages of `compoundPages` pfns (pgmap_vmemmap_nr).
 * The arguments are checked by the caller (index.ts). 0 or -ENOMEM (what was done stays).
 */
export function vmemmapPopulateCompound(startPfn: u64, nrPages: u64, compoundPages: u64, rangeStartPfn: u64): i32 {
  if (nrPages == 0) return 0;
  const start = cfgVmemmapStart + (startPfn << 6);
  const end = start + (nrPages << 6);
  // reuse_compound_section: a section inside a compound page larger than a sub-section
  if (((startPfn - rangeStartPfn) & (compoundPages - 1)) != 0 && compoundPages > 512) {
    // compound_section_tail_page: the previous section's last vmemmap page
    if (!translate(start - 4096) || trSize != 4096) return ENOMEM;
    return populateRange(start, end, trPhys >> 12);
  }
  const cs = compoundPages << 6;
  const size = end - start < cs ? end - start : cs;
  // compound pages of 2 MiB of vmemmap or less, no fault armed: whole blank PTE tables may go at once
  const tables = cs <= PMD_SIZE && size == cs && !faultsArmed();
  // whole compound pages, no fault armed: a whole GiB of vmemmap under a missing PMD table may be one run
  const runs = cs <= PUD_SIZE && size == cs && !faultsArmed();
  for (let addr = start; addr < end; addr += size) {
    if (runs && (addr & (PUD_SIZE - 1)) == 0 && end - addr >= PUD_SIZE) {
      const r = populateCompoundRun(addr, cs);
      if (r < 0) return ENOMEM;
      if (r > 0) {
        addr += PUD_SIZE - size;
        continue;
      }
    }
    if (tables && (addr & (PMD_SIZE - 1)) == 0 && end - addr >= PMD_SIZE) {
      const r = populateCompoundTable(addr, cs);
      if (r < 0) return ENOMEM;
      if (r > 0) {
        addr += PMD_SIZE - size;
        continue;
      }
    }
    // the head page's vmemmap page, then the first tail page's
    if (populateRange(addr, addr + 4096, NO_REUSE) < 0) return ENOMEM;
    if (populateRange(addr + 4096, addr + 8192, NO_REUSE) < 0) return ENOMEM;
    // every further vmemmap page of the compound page maps the tail page
    if (populateRange(addr + 8192, addr + size, lastPfn) < 0) return ENOMEM;
  }
  return 0;
}

/**
 * The step-3 loop over the 2 MiB of VA from `addr` (compound pages of `cs` bytes of vmemmap, cs <= 2 MiB)
 * at once, when its PTE table is blank: the table and the levels above as populate_address(addr) makes
 * them, then all heads and first tails as one allocPagesRun (they are the loop's next 2 * 2 MiB / cs
 * order-0 allocations, one contiguous run when memory is fresh), the frame backed once, each tail's
 * cs / 4096 - 2 shares in one step. 1 done; 0 when it does not apply (nothing changed but the tables
 * above: the single steps go on from there and make the same ones); -ENOMEM as populate_address would.
 */
function populateCompoundTable(addr: u64, cs: u64): i32 {
  const table = populateTo(addr, 12, PURPOSE_PAGE_TABLE);
  if (popStatus < 0) return ENOMEM;
  if (popStatus > 0 || !tableBlank(table)) return 0;
  const m = <u32>(PMD_SIZE / cs); // compound pages in the table
  const per = <u32>(cs >> 12); // entries a compound page
  const frame = table >> 12;
  const a = frameForWrite(frame);
  if (a == 0) return 0; // the single steps fail where they fail (the head is allocated first)
  const p = allocPagesRun(0, <u64>m << 1, PURPOSE_MEMMAP, 0);
  if (p < 0) {
    discardFrames(frame, frame + 1); // blank again, as the single steps find it
    return 0;
  }
  const first = <u64>p;
  // room for every tail's count first (Wasm: the tree may be out of room), else the single steps
  for (let c: u32 = 0; c < m; c++) {
    if (!shareReserve(first + (<u64>c << 1) + 1)) {
      for (let k: u32 = 0; k < c; k++) shareUnreserve(first + (<u64>k << 1) + 1);
      for (let k = (<u64>m << 1); k > 0; k--) freePages(first + k - 1, 0, PURPOSE_MEMMAP);
      discardFrames(frame, frame + 1);
      return 0;
    }
  }
  for (let c: u32 = 0; c < m; c++) {
    const head = first + (<u64>c << 1);
    const he = (head << 12) | PAGE_LEAF_BITS;
    const te = ((head + 1) << 12) | PAGE_LEAF_BITS;
    const at = a + (<usize>(c * per) << 3);
    store<u64>(at, he);
    for (let i: u32 = 1; i < per; i++) store<u64>(at + (<usize>i << 3), te);
    if (per > 2) shareAddMany(head + 1, per - 2);
  }
  lastPfn = first + (<u64>m << 1) - 1;
  return 1;
}

/**
 * The compound loop over the GiB of VA from `addr` (whole compound pages of `cs` bytes of vmemmap) at
 * once, when its PMD table does not exist yet: the levels above as populate_address makes them, then
 * the PMD table, every PTE table and every head and first-tail page (the loop's next crFrames
 * order-0 allocations, in its order) as one allocPagesRun, held as a compound run (compoundrun.ts):
 * nothing backed, no share count stored. 1 done; 0 when it does not apply (the DRAM is not one run, no
 * room for the record: nothing changed but the tables above, and the loop goes on from there and makes
 * the same ones); -ENOMEM as populate_address would (the PUD entry cannot be stored).
 */
function populateCompoundRun(addr: u64, cs: u64): i32 {
  const pud = populateTo(addr, 30, PURPOSE_PAGE_TABLE);
  if (popStatus < 0) return ENOMEM;
  if (popStatus > 0) return 0;
  const ea = pud + (((addr >> 30) & 511) << 3);
  if (physRead64(ea) != 0) return 0;
  const csShift = <u32>ctz(cs);
  const n = crFrames(csShift);
  const p = allocPagesRun(0, n, PURPOSE_MEMMAP, 0);
  if (p < 0) return 0;
  const base = <u64>p;
  purposeMove(base, 513, PURPOSE_MEMMAP, PURPOSE_PAGE_TABLE); // the PMD table and the 512 PTE tables
  const i = crCreate(base, csShift);
  if (i < 0 || !physWrite64(ea, (base << 12) | TABLE_BITS)) {
    // as populate_address: the PMD table goes back (and the pages after it were never taken)
    if (i >= 0) crDelete(i);
    purposeMove(base, 513, PURPOSE_PAGE_TABLE, PURPOSE_MEMMAP);
    freePagesRun(base, n, PURPOSE_MEMMAP);
    return i < 0 ? 0 : ENOMEM;
  }
  shareImplicit(<i64>(crTails(i) * <u64>crTailShares(i)));
  lastPfn = crTail(i, crTails(i) - 1);
  return 1;
}

/** Argument check of vmemmapPopulateCompound: 0 or -EINVAL. */
export function compoundArgsBad(startPfn: f64, nrPages: f64, compoundPages: f64, rangeStartPfn: f64): i32 {
  const lim: f64 = 1099511627776; // 2^40
  if (!(startPfn >= 0 && startPfn <= lim && floor(startPfn) == startPfn)) return EINVAL;
  if (!(nrPages >= 0 && nrPages <= lim && floor(nrPages) == nrPages)) return EINVAL;
  if (!(rangeStartPfn >= 0 && rangeStartPfn <= startPfn && floor(rangeStartPfn) == rangeStartPfn)) return EINVAL;
  if (!(compoundPages > 128 && compoundPages <= lim && floor(compoundPages) == compoundPages)) return EINVAL;
  const c = <u64>compoundPages;
  if ((c & (c - 1)) != 0) return EINVAL;
  if (startPfn + nrPages > lim) return EINVAL;
  if ((<u64>startPfn & 63) != 0 || (<u64>nrPages & 63) != 0) return EINVAL;
  return 0;
}

/**
 * vmemmap_free / remove_pagetable(direct = false) for the same span. altmapId: LOOKUP_ALTMAP sends
 * every leaf through the lookup table; NO_ALTMAP or an id passes the altmap down (v4.16+).
 * 0, or -EFAULT after a Bug event.
 */
export function vmemmapFree(startPfn: u64, nrPages: u64, altmapId: i32): i32 {
  return removePagetable(cfgVmemmapStart + (startPfn << 6), nrPages << 6, false, altmapId);
}

// ---- pfn_to_page / page_to_pfn and the pgmap lookup behind to_vmem_altmap (the inspection hot path) ----

/** pfn_to_page (SPARSEMEM_VMEMMAP): vmemmap + pfn, 64 bytes a struct page, modulo 2^64. */
export function pfnToPage(pfn: u64): u64 {
  return cfgVmemmapStart + (pfn << 6);
}

/** page_to_pfn: the pfn whose struct page starts at va; INSPECT_NOT_VMEMMAP or INSPECT_NOT_PAGE. */
export function pageToPfn(va: u64): i64 {
  const off = va - cfgVmemmapStart;
  // the vmemmap spans 64 bytes for each pfn of MAX_PHYSMEM_BITS (46, or 52 with 5-level paging)
  const span: u64 = <u64>64 << (cfgLevels == 5 ? 40 : 34);
  if (va < cfgVmemmapStart || off >= span) return INSPECT_NOT_VMEMMAP;
  if ((off & 63) != 0) return INSPECT_NOT_PAGE;
  return <i64>(off >> 6);
}

/** to_vmem_altmap(memmap_start): page_to_pfn, then the pgmap lookup: the host's pgmap id, -1, or page_to_pfn's code. */
export function toVmemAltmap(va: u64): i32 {
  const pfn = pageToPfn(va);
  return pfn < 0 ? <i32>pfn : lookupPgmap(<u64>pfn);
}

/** n u64 struct page addresses in IO become i32 pgmap ids (toVmemAltmap's) in IO; index of the first negative code below -1, or -1. */
export function toVmemAltmapManyIo(n: u32): i32 {
  let bad: i32 = -1;
  for (let i: u32 = 0; i < n; i++) {
    const r = toVmemAltmap(load<u64>(IO + (<usize>i << 3)));
    if (r < -1 && bad < 0) bad = <i32>i;
    store<i32>(IO + (<usize>i << 2), r);
  }
  return bad;
}
