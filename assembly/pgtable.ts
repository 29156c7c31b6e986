/**
 * x86-64 page tables, 4 or 5 levels (docs/core.md "Page tables"). Tables are DRAM pages whose bytes live
 * in physmem; entries are little-endian u64 read and written through physRead64/physWrite64.
 *
 * Depth d = 0 is the root (PGD); the entry at depth d covers 2^shift bytes with
 * shift = 12 + 9 * (levels - 1 - d): PGD 39 (4-level) / 48 (5-level), P4D 39, PUD 30, PMD 21, PTE 12.
 */
import { EFAULT, ENOMEM, INSPECT_NONE, INSPECT_NOT_CANONICAL, LOOKUP_ALTMAP, WALK_RES_ENTRIES, WALK_RES_LEVELS, WALK_RES_ROOT, WALK_RES_SIZE, NO_ALTMAP, PURPOSE_DIRECT_MAP, PURPOSE_MEMMAP, PURPOSE_PAGE_TABLE } from './abi';
import { altmapFree, lookupAltmap } from './altmap';
import { IO, RES, SCRATCH } from './layout';
import { crBase, crCount, crCreate, crCsShift, crDelete, crExplicit, crFind, crFrameCount, crTails, crTailShares } from './compoundrun';
import { allocPages, freePages, freePagesRun, purposeMove } from './pagealloc';
import { opMask, opSelf, opShift, opWord, patApply, patFind, patSelfShift, patWord, setOp, setOpShift, setOpWord } from './patterns';
import { frameAddr, physRead64, physWrite64, runTablesBacked } from './physmem';
import { strCount, strFind } from './strides';
import { shareCount, shareDrop, shareDropMany, shareImplicit, shareTotal } from './shares';
import { cfgGbpages, cfgLevels, cfgPageOffset, cfgPse, faultsArmed } from './state';

export const PTE_PRESENT: u64 = 0x1;
export const PTE_PSE: u64 = 0x80;
export const PTE_NX: u64 = <u64>1 << 63;
export const PTE_PFN_MASK: u64 = 0x000f_ffff_ffff_f000;
/** Bytes a PMD entry maps. */
export const PMD_SIZE: u64 = 1 << 21;
/** _PAGE_TABLE: present, rw, user, accessed, dirty. */
export const TABLE_BITS: u64 = 0x63;
/** __PAGE_KERNEL_LARGE (+ NX): 1 GiB and 2 MiB leaves. */
export const LARGE_LEAF_BITS: u64 = 0x1e3 | PTE_NX;
/** __PAGE_KERNEL (+ NX): 4 KiB leaves. */
export const PAGE_LEAF_BITS: u64 = 0x163 | PTE_NX;

/** Physical address of the root table (PGD). */
let rootPhys: u64 = 0;

export function setRoot(phys: u64): void {
  rootPhys = phys;
}

@inline
function topShift(): u32 {
  return 12 + 9 * (cfgLevels - 1);
}

/** A present entry at this level that maps memory (PTE; PUD/PMD with the large bit). */
@inline
function isLeaf(e: u64, shift: u32): bool {
  return shift == 12 || ((shift == 21 || shift == 30) && (e & PTE_PSE) != 0);
}

@inline
export function entryAddr(table: u64, va: u64, shift: u32): u64 {
  return table + (((va >> shift) & 511) << 3);
}

// ---- populate ----
/** populateTo's outcome: 0 = tables down to the level exist, 1 = a leaf above already maps va, -12 = -ENOMEM. */
export let popStatus: i32 = 0;

/**
 * Populate every level above `leafShift` for va ("populate level L": an empty entry gets a new order-0
 * page of `purpose` as table), top-down. When the entry cannot be stored (budget), the page goes back. Returns the physical address of the table holding va's entry
 * at `leafShift`; see popStatus.
 */
export function populateTo(va: u64, leafShift: u32, purpose: i32): u64 {
  let table = rootPhys;
  let shift = topShift();
  while (shift > leafShift) {
    const ea = entryAddr(table, va, shift);
    let e = physRead64(ea);
    if (e == 0) {
      const pfn = allocPages(0, purpose);
      if (pfn < 0) {
        popStatus = ENOMEM;
        return 0;
      }
      e = (<u64>pfn << 12) | TABLE_BITS;
      if (!physWrite64(ea, e)) {
        freePages(<u64>pfn, 0, purpose); // the entry could not be stored (budget): give the page back
        popStatus = ENOMEM;
        return 0;
      }
    } else if (isLeaf(e, shift)) {
      popStatus = 1;
      return 0;
    }
    table = e & PTE_PFN_MASK;
    shift -= 9;
  }
  popStatus = 0;
  return table;
}

// ---- translate / walk ----
/** translate's result: leaf size (or, unmapped, the size of the hole at the level that stopped), and phys. */
export let trSize: u64 = 0;
export let trPhys: u64 = 0;
/** The table holding the entry translate stopped at (the leaf's, when mapped). */
export let trTable: u64 = 0;

/** Walk va; true with trPhys (leaf base + offset) and trSize when mapped, else false with trSize = hole size. */
export function translate(va: u64): bool {
  return translateFrom(rootPhys, topShift(), va);
}

/** translate, from the table holding va's entry at `shift` on. */
@inline
function translateFrom(table: u64, shift: u32, va: u64): bool {
  while (true) {
    const e = physRead64(entryAddr(table, va, shift));
    const size = <u64>1 << shift;
    if ((e & PTE_PRESENT) == 0) {
      trSize = size;
      return false;
    }
    if (isLeaf(e, shift)) {
      trTable = table;
      trSize = size;
      trPhys = (e & PTE_PFN_MASK & ~(size - 1)) + (va & (size - 1));
      return true;
    }
    table = e & PTE_PFN_MASK;
    shift -= 9;
  }
  return false;
}

// ---- run tables: a table whose 512 entries are one arithmetic run of leaves, held as one table pattern ----
/** The selfShift of a table pattern whose entries are 2^shift bytes apart (8 entries per pattern step). */
@inline
function runShift(shift: u32): u32 {
  return shift + 3;
}

/**
 * The table at `table` (entries of 2^shift bytes) as a *leaf table*: one unbacked table pattern whose
 * entries are present leaves, each 2^stride bytes after the previous one's. Returns stride (shift for a
 * run table; 27 for memmap_on_memory's vmemmap table, hotplug.ts: leaves 128 MiB apart), or 0 for none.
 */
export function leafTableStride(table: u64, shift: u32): u32 {
  const f = table >> 12;
  if (frameAddr(f) != 0 || (crCount != 0 && crFind(f) >= 0)) return 0;
  const p = patFind(f);
  if (p < 0 || patSelfShift(<u32>p) < runShift(shift)) return 0;
  const stride = patSelfShift(<u32>p) - 3;
  const e0 = patWord(<u32>p, f, 0);
  if (!isLeaf(e0, shift) || (e0 & PTE_PRESENT) == 0) return 0;
  // words 1..7 of each step continue word 0 (the step itself adds 8 << stride)
  for (let i: u32 = 1; i < 8; i++) if (patWord(<u32>p, f, i << 3) != e0 + (<u64>i << stride)) return 0;
  return stride;
}

/** Is the table an unbacked run table: a leaf table whose entries each map the 2^shift bytes after the previous one's? */
export function isRunTable(table: u64, shift: u32): bool {
  return leafTableStride(table, shift) == shift;
}

/** Does the table hold nothing, not even a pattern (a page fresh from allocPages)? */
export function tableBlank(table: u64): bool {
  const f = table >> 12;
  return frameAddr(f) == 0 && patFind(f) < 0 && (crCount == 0 || crFind(f) < 0) && (strCount == 0 || strFind(f) < 0);
}

/**
 * Make the blank table at `table` (entries of 2^shift bytes) a run table: entry i = (phys + i << shift)
 * | bits, without backing its frame. False when the pattern list has no room (the caller writes the
 * entries instead). The memmap op the patterns module holds is kept.
 */
export function setRunTable(table: u64, shift: u32, phys: u64, bits: u64, frames: u64 = 1): bool {
  const s = runShift(shift);
  const low = (<u64>1 << s) - 1;
  const m = opMask;
  const sf = opSelf;
  const sh = opShift;
  const w0 = opWord(0), w1 = opWord(1), w2 = opWord(2), w3 = opWord(3), w4 = opWord(4), w5 = opWord(5), w6 = opWord(6), w7 = opWord(7);
  for (let i: u32 = 0; i < 8; i++) setOpWord(i, (phys & low) + (<u64>i << shift) + bits);
  setOp(0xff, 0xff);
  setOpShift(s);
  // `frames` consecutive tables of consecutive runs (each maps the 512 << shift bytes after the previous): one pattern
  const ok = patApply(table >> 12, (table >> 12) + frames, phys >> s);
  setOp(m, sf);
  setOpShift(sh);
  setOpWord(0, w0); setOpWord(1, w1); setOpWord(2, w2); setOpWord(3, w3);
  setOpWord(4, w4); setOpWord(5, w5); setOpWord(6, w6); setOpWord(7, w7);
  return ok;
}

/** translateRun's result: bytes from va on that map physically contiguous memory (at least to the leaf's end). */
export let trRun: u64 = 0;

/**
 * translate, and how far the mapping continues contiguously from va: to the leaf's end, or to the
 * end of its table when the table is a run table (so memmap ops over a huge vmemmap go a table at a time).
 */
export function translateRun(va: u64): bool {
  if (!translate(va)) return false;
  trRun = trSize - (va & (trSize - 1));
  if (trSize == PMD_SIZE && isRunTable(trTable, 21)) trRun = (PMD_SIZE << 9) - (va & ((PMD_SIZE << 9) - 1));
  return true;
}

/** findTable: no table (a level above is not present, or is a leaf). */
export const NO_TABLE: u64 = ~(<u64>0);

/** Physical address of the table holding va's entry at `leafShift`, walking without allocating; NO_TABLE when there is none. */
export function findTable(va: u64, leafShift: u32): u64 {
  let table = rootPhys;
  let shift = topShift();
  while (shift > leafShift) {
    const e = physRead64(entryAddr(table, va, shift));
    if ((e & PTE_PRESENT) == 0 || isLeaf(e, shift)) return NO_TABLE;
    table = e & PTE_PFN_MASK;
    shift -= 9;
  }
  return table;
}

/** walk's result in RES (src/core/wasm.ts reads it): levels visited, mapped, and the leaf's phys and size. */
@unmanaged
class WalkResult {
  levels: u32;
  mapped: u32;
  phys: u64;
  pageSize: u64;
  pad: u64;
}
/** One visited level, from RES + WALK_LEVELS on: the entry's shift and index, the entry, its table's phys. */
@unmanaged
class WalkLevel {
  shift: u32;
  index: u32;
  entry: u64;
  table: u64;
  pad: u64;
}
const WALK_LEVELS: usize = offsetof<WalkResult>();
if (WALK_LEVELS != 32 || offsetof<WalkLevel>() != 32) ERROR('walk records must be 32 bytes (src/core/wasm.ts walk)');

/** walk(va) into RES: a WalkResult, then one WalkLevel per level visited, top first. */
export function walkToRes(va: u64): void {
  const res = changetype<WalkResult>(RES);
  let table = rootPhys;
  let shift = topShift();
  let n: u32 = 0;
  res.mapped = 0;
  res.phys = 0;
  res.pageSize = 0;
  while (true) {
    const idx = (va >> shift) & 511;
    const e = physRead64(table + (idx << 3));
    const rec = changetype<WalkLevel>(RES + WALK_LEVELS + (<usize>n << 5));
    rec.shift = shift;
    rec.index = <u32>idx;
    rec.entry = e;
    rec.table = table;
    n++;
    if ((e & PTE_PRESENT) == 0) break;
    if (isLeaf(e, shift)) {
      const size = <u64>1 << shift;
      res.mapped = 1;
      res.phys = (e & PTE_PFN_MASK & ~(size - 1)) + (va & (size - 1));
      res.pageSize = size;
      break;
    }
    table = e & PTE_PFN_MASK;
    shift -= 9;
  }
  res.levels = n;
}

/** Bits 63..(47 or 56) all equal bit 47 (4-level) or 56 (5-level): the address is canonical. */
@inline
export function canonical(va: u64): bool {
  const drop: u64 = cfgLevels == 5 ? 7 : 16;
  return <u64>((<i64>(va << drop)) >> <i64>drop) == va;
}

/** Low 52 bits of an entry: a physical address with its flags, exact as an f64 (walkLeafToRes). */
const LOW52: u64 = (<u64>1 << 52) - 1;

/**
 * The lean walk (the public walk's one crossing): the physical address va maps to, INSPECT_NONE when not
 * mapped, INSPECT_NOT_CANONICAL. RES gets f64s the host keeps as the walk's levels: the levels read, the
 * leaf's size, the root table's phys, then per level the entry's low 52 bits and its bits 63..52.
 */
export function walkLeafToRes(va: u64): i64 {
  if (!canonical(va)) return INSPECT_NOT_CANONICAL;
  let table = rootPhys;
  let shift = topShift();
  let n: usize = 0;
  const entries = RES + (<usize>WALK_RES_ENTRIES << 3);
  store<f64>(RES + (<usize>WALK_RES_ROOT << 3), <f64>table);
  while (true) {
    const e = physRead64(table + (((va >> shift) & 511) << 3));
    store<f64>(entries + (n << 4), <f64>(e & LOW52));
    store<f64>(entries + (n << 4) + 8, <f64>(e >> 52));
    n++;
    if ((e & PTE_PRESENT) == 0) break;
    if (isLeaf(e, shift)) {
      const size = <u64>1 << shift;
      store<f64>(RES + (<usize>WALK_RES_LEVELS << 3), <f64>n);
      store<f64>(RES + (<usize>WALK_RES_SIZE << 3), <f64>size);
      return <i64>((e & PTE_PFN_MASK & ~(size - 1)) + (va & (size - 1)));
    }
    table = e & PTE_PFN_MASK;
    shift -= 9;
  }
  store<f64>(RES + (<usize>WALK_RES_LEVELS << 3), <f64>n);
  store<f64>(RES + (<usize>WALK_RES_SIZE << 3), 0);
  return INSPECT_NONE;
}

/** All ones: walkMany's "not mapped". */
export const UNMAPPED: u64 = ~(<u64>0);

/** walkManyIo's paging-structure cache: 256 slots of (1 GiB region + 1, the PMD table mapping it), in SCRATCH. */
const PSC_SLOTS: usize = 256;

/**
 * Batch walk: n u64 virtual addresses in IO become the physical addresses they map to, or UNMAPPED.
 * Returns the index of the first address that is not canonical (left as UNMAPPED), or -1. Like the
 * CPU's paging-structure caches, it keeps the PMD table of the 1 GiB regions it walked (the tables
 * cannot change during the batch), so a walk in a known region reads only its PMD and PTE entries.
 */
export function walkManyIo(n: u32): i32 {
  let bad: i32 = -1;
  memory.fill(SCRATCH, 0, PSC_SLOTS << 4);
  for (let i: u32 = 0; i < n; i++) {
    const at = IO + (<usize>i << 3);
    const va = load<u64>(at);
    if (!canonical(va)) {
      if (bad < 0) bad = <i32>i;
      store<u64>(at, UNMAPPED);
      continue;
    }
    const key = va >> 30;
    const slot = SCRATCH + ((<usize>key & (PSC_SLOTS - 1)) << 4);
    let pmd: u64;
    if (load<u64>(slot) == key + 1) {
      pmd = load<u64>(slot + 8);
    } else {
      pmd = findTable(va, 21);
      if (pmd == NO_TABLE) {
        // a 1 GiB leaf or a hole above the PMD level: the plain walk
        store<u64>(at, translate(va) ? trPhys : UNMAPPED);
        continue;
      }
      store<u64>(slot, key + 1);
      store<u64>(slot + 8, pmd);
    }
    store<u64>(at, translateFrom(pmd, 21, va) ? trPhys : UNMAPPED);
  }
  return bad;
}

// ---- direct map: init_memory_mapping ----
/** Map [va, va + 2^shift) -> phys at the table holding the level-`shift` entry; descend into tables. */
function mapEntry(table: u64, shift: u32, va: u64, phys: u64): i32 {
  const ea = entryAddr(table, va, shift);
  const e = physRead64(ea);
  if (e == 0) return physWrite64(ea, phys | (shift == 12 ? PAGE_LEAF_BITS : LARGE_LEAF_BITS)) ? 0 : ENOMEM;
  if (isLeaf(e, shift)) return 0; // an existing leaf is kept
  const child = e & PTE_PFN_MASK;
  const sub = shift - 9;
  const step = <u64>1 << sub;
  for (let k: u64 = 0; k < 512; k++) {
    const r = mapEntry(child, sub, va + k * step, phys + k * step);
    if (r < 0) return r;
  }
  return 0;
}

/** kernel_physical_mapping_init: map pfns [s, e) with leaves of 2^shift bytes, ascending. */
export function kernelPhysicalMappingInit(s: u64, e: u64, shift: u32): i32 {
  const step = <u64>1 << (shift - 12);
  // a whole blank table of 2 MiB or 1 GiB leaves is one run table (docs/core.md "Run tables"); not while
  // a fault is armed (the per-entry writes are Backing attempts)
  const runs = shift > 12 && !faultsArmed();
  for (let pfn = s; pfn < e; pfn += step) {
    const phys = pfn << 12;
    const va = cfgPageOffset + phys;
    const table = populateTo(va, shift, PURPOSE_DIRECT_MAP);
    if (popStatus < 0) return popStatus;
    if (popStatus > 0) continue; // a larger leaf already maps it
    if (runs && (va & ((<u64>512 << shift) - 1)) == 0 && e - pfn >= step << 9 && tableBlank(table) && setRunTable(table, shift, phys, LARGE_LEAF_BITS)) {
      pfn += (step << 9) - step;
      continue;
    }
    const r = mapEntry(table, shift, va, phys);
    if (r < 0) return r;
  }
  return 0;
}

@inline
function roundUp(x: u64, a: u64): u64 {
  return (x + a - 1) & ~(a - 1);
}
@inline
function roundDown(x: u64, a: u64): u64 {
  return x & ~(a - 1);
}

/** init_memory_mapping(startPfn, endPfn): split_mem_range's pieces, ascending. 0 or -ENOMEM. */
export function initMemoryMapping(startPfn: u64, endPfn: u64): i32 {
  if (endPfn <= startPfn) return 0;
  const P2M: u64 = 512;
  const P1G: u64 = 512 * 512;
  const s2M: u32 = cfgPse ? 21 : 12;
  const s1G: u32 = cfgGbpages && cfgPse ? 30 : s2M;
  const limit = endPfn;
  let pfn = startPfn;
  let r: i32 = 0;
  // head: 4 KiB up to the first 2 MiB boundary
  let s = pfn;
  let e = roundUp(pfn, P2M);
  if (e > limit) e = limit;
  if (s < e) {
    r = kernelPhysicalMappingInit(s, e, 12);
    if (r < 0) return r;
    pfn = e;
  }
  // 2 MiB up to the first 1 GiB boundary
  s = roundUp(pfn, P2M);
  e = roundUp(pfn, P1G);
  if (e > roundDown(limit, P2M)) e = roundDown(limit, P2M);
  if (s < e) {
    r = kernelPhysicalMappingInit(s, e, s2M);
    if (r < 0) return r;
    pfn = e;
  }
  // 1 GiB body
  s = roundUp(pfn, P1G);
  e = roundDown(limit, P1G);
  if (s < e) {
    r = kernelPhysicalMappingInit(s, e, s1G);
    if (r < 0) return r;
    pfn = e;
  }
  // 2 MiB tail
  s = roundUp(pfn, P2M);
  e = roundDown(limit, P2M);
  if (s < e) {
    r = kernelPhysicalMappingInit(s, e, s2M);
    if (r < 0) return r;
    pfn = e;
  }
  // 4 KiB tail
  if (pfn < limit) {
    r = kernelPhysicalMappingInit(pfn, limit, 12);
    if (r < 0) return r;
  }
  return 0;
}

// ---- removal: remove_pagetable ----
/** Every entry of the table zero? */
function tableEmpty(table: u64): bool {
  const a = frameAddr(table >> 12);
  if (a != 0) {
    for (let o: usize = 0; o < 4096; o += 16) {
      if ((load<u64>(a + o) | load<u64>(a + o, 8)) != 0) return false;
    }
    return true;
  }
  for (let o: u64 = 0; o < 4096; o += 8) if (physRead64(table + o) != 0) return false;
  return true;
}

/** How removeTable releases vmemmap leaves: LOOKUP_ALTMAP, NO_ALTMAP or an explicit altmap id. */
let releaseAltmap: i32 = LOOKUP_ALTMAP;

/**
 * Release the backing of a vmemmap leaf of 2^order pages (a Bug event and -EFAULT when the page
 * allocator does not own it). A 4 KiB page that vmemmapPopulateCompound shared loses one share instead
 * and stays (put_page_testzero). LOOKUP_ALTMAP, v4.5's free_pagetable: the lookup table decides, found ->
 * vmem_altmap_free, else the page allocator. Explicit (v4.16+): a 2 MiB leaf goes to the altmap when
 * there is one, everything else to the page allocator (Purpose.Memmap).
 */
function freePagetable(pfn: u64, order: u32): i32 {
  if (order == 0 && shareTotal != 0 && shareDrop(pfn)) return 0;
  let id = releaseAltmap;
  if (id == LOOKUP_ALTMAP) id = lookupAltmap(pfn);
  else if (order != 9) id = NO_ALTMAP;
  if (id >= 0) {
    altmapFree(id, <u64>1 << order);
    return 0;
  }
  return freePages(pfn, <i32>order, PURPOSE_MEMMAP);
}

/**
 * Remove the mappings of [lo, hi] (inclusive) held by `table` (entries of 2^shift bytes), ascending.
 * A leaf wholly inside goes (direct map: cleared; vmemmap: free_pagetable, then cleared); a leaf partly
 * inside stays. A child table left all-empty is freed to DRAM and its entry cleared. -EFAULT on a Bug.
 */
function removeTable(table: u64, shift: u32, lo: u64, hi: u64, direct: bool): i32 {
  if (shift == 12 && !direct && shareTotal != 0 && !faultsArmed()) {
    const a = frameAddr(table >> 12);
    if (a != 0) {
      // the entries whose whole 4 KiB lies in [lo, hi] (a leaf partly inside stays)
      const base = <i64>((lo >> 21) << 9);
      return removePteShared(a, <i32>(<i64>((lo + 4095) >> 12) - base), <i32>(<i64>((hi + 1) >> 12) - 1 - base));
    }
  }
  // descending: the pages a walk frees come off the top of the fill-pattern list, so freeing a big
  // compound-devmap memmap costs O(n), not O(n^2) (the order is not observable: frees commute)
  const size = <u64>1 << shift;
  let va = hi;
  while (true) {
    const ea = entryAddr(table, va, shift);
    const eStart = va & ~(size - 1);
    const eLast = eStart + (size - 1);
    const subLo = lo > eStart ? lo : eStart;
    const e = physRead64(ea);
    if ((e & PTE_PRESENT) != 0) {
      if (isLeaf(e, shift)) {
        if (subLo == eStart && va == eLast) {
          if (!direct) {
            const r = freePagetable((e & PTE_PFN_MASK & ~(size - 1)) >> 12, shift - 12);
            if (r < 0) return EFAULT;
          }
          physWrite64(ea, 0);
        }
      } else {
        const child = e & PTE_PFN_MASK;
        const whole = subLo == eStart && va == eLast;
        const sub = shift - 9;
        const stride = whole && (sub == 21 || (direct && sub == 30)) ? leafTableStride(child, sub) : 0;
        const run = stride != 0;
        const compound = whole && sub == 21 && !direct && !run && releaseCompoundRun(child);
        const r = run ? (direct ? 1 : releaseRunTable(child, stride)) : compound ? 1 : removeTable(child, sub, subLo, va, direct);
        if (r < 0) return r;
        if (r == 1 || tableEmpty(child)) {
          if (freePages(child >> 12, 0, direct ? PURPOSE_DIRECT_MAP : PURPOSE_PAGE_TABLE) < 0) return EFAULT;
          physWrite64(ea, 0);
        }
      }
    }
    if (subLo <= lo) break;
    va = eStart - 1;
  }
  return 0;
}

/**
 * removeTable of the entries [i0, i] of a backed vmemmap PTE table (at `a`) while pages are shared,
 * descending: a run of entries mapping one page with shares drops as many of them as it has at once
 * (each entry of the run would drop one, until the page's last mapping frees it), the rest one by one.
 * No fault is armed (Bug is the only way out, as per entry). 0, or -EFAULT on a Bug.
 */
function removePteShared(a: usize, i0: i32, i: i32): i32 {
  while (i >= i0) {
    const at = a + (<usize>i << 3);
    const e = load<u64>(at);
    if ((e & PTE_PRESENT) != 0) {
      const pfn = (e & PTE_PFN_MASK) >> 12;
      let k: i32 = 1;
      while (i - k >= i0 && load<u64>(at - (<usize>k << 3)) == e) k++;
      const s = k > 1 ? shareCount(pfn) : 0;
      if (s > 0) {
        const d = <i32>min<u32>(<u32>k, s);
        shareDropMany(pfn, <u32>d);
        memory.fill(at - (<usize>(d - 1) << 3), 0, <usize>d << 3);
        i -= d;
        continue;
      }
      if (freePagetable(pfn, 0) < 0) return EFAULT;
      store<u64>(at, 0);
    }
    i--;
  }
  return 0;
}

/**
 * removeTable of a whole leaf table (leafTableStride) of 2 MiB vmemmap leaves (a direct-map run table has nothing to
 * release: its table is just freed): free_pagetable of each leaf, descending as
 * removeTable goes, without clearing the entries one by one (the table is freed next, which discards
 * its pattern). 1 (the table is empty), or -EFAULT on a Bug (the entries not yet released stay).
 */
function releaseRunTable(table: u64, stride: u32): i32 {
  const first = physRead64(table) & PTE_PFN_MASK;
  for (let i: i32 = 511; i >= 0; i--) {
    if (freePagetable((first + (<u64>i << stride)) >> 12, 9) < 0) {
      // the kernel stops at the Bug: the entries from i on are the ones it cleared (as removeTable does)
      for (let k: i32 = 511; k > i; k--) physWrite64(table + (<u64>k << 3), 0);
      return EFAULT;
    }
  }
  return 1;
}

/**
 * removeTable of a whole PMD table that is an intact compound run (compoundrun.ts: no table of it backed
 * since, every share still implicit, so each tail has exactly the mappings the run made): every leaf's
 * free_pagetable and every PTE table's free at once, as the walk would do them (a tail's last mapping
 * frees it). The PMD table itself is the caller's to free. False, with nothing changed, when it does not
 * apply: the walk goes entry by entry.
 */
function releaseCompoundRun(pmd: u64): bool {
  if (crCount == 0 || releaseAltmap == LOOKUP_ALTMAP || faultsArmed()) return false;
  const f = pmd >> 12;
  const i = crFind(f);
  if (i < 0 || crBase(i) != f || crExplicit(i)) return false;
  const n = crFrameCount(i);
  if (runTablesBacked(i)) return false;
  const cs = crCsShift(i);
  const shares = crTails(i) * <u64>crTailShares(i);
  // the run's frames after the PMD table go back as one free of Memmap pages: its 512 PTE tables counted so first
  shareImplicit(-<i64>shares);
  crDelete(i);
  purposeMove(f + 1, 512, PURPOSE_PAGE_TABLE, PURPOSE_MEMMAP);
  if (freePagesRun(f + 1, n - 1, PURPOSE_MEMMAP) < 0) {
    // not all allocated (not reached: the run's pages stay allocated while it exists): the walk, as before
    purposeMove(f + 1, 512, PURPOSE_MEMMAP, PURPOSE_PAGE_TABLE);
    crCreate(f, cs);
    shareImplicit(<i64>shares);
    return false;
  }
  return true;
}

/** remove_pagetable over the virtual range [start, start + len); vmemmap leaves go as `altmapId` says. */
export function removePagetable(start: u64, len: u64, direct: bool, altmapId: i32): i32 {
  if (len == 0) return 0;
  releaseAltmap = altmapId;
  return removeTable(rootPhys, topShift(), start, start + (len - 1), direct);
}

/** kernel_physical_mapping_remove(startPfn, endPfn). 0, or -EFAULT after a Bug event. */
export function kernelPhysicalMappingRemove(startPfn: u64, endPfn: u64): i32 {
  if (endPfn <= startPfn) return 0;
  return removePagetable(cfgPageOffset + (startPfn << 12), (endPfn - startPfn) << 12, true, NO_ALTMAP);
}
