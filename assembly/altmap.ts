/**
 * struct vmem_altmap and its bump allocator (docs/core.md "vmem_altmap", kernel.md §1.2, §2.9), plus the
 * pgmap lookup free_pagetable consults. All arithmetic is u64, modulo 2^64, as in the kernel.
 */
import {
  ALTMAP_FIELD_ALIGN,
  ALTMAP_FIELD_ALLOC,
  ALTMAP_FIELD_BASE_PFN,
  ALTMAP_FIELD_COUNT,
  ALTMAP_FIELD_FREE,
  ALTMAP_FIELD_RESERVE,
  ENOMEM,
  EVENT_ALTMAP_ALLOC,
  FAULT_ALTMAP_ALLOC,
} from './abi';
import { ALTMAP_DIR, ALTMAP_DIR_MAX, ALTMAP_PER_CHUNK, ALTMAP_REC, IO, LOOKUP, LOOKUP_MAX, LOOKUP_REC, RES } from './layout';
import { slotAddr, slotAlloc, slotFree } from './pool';
import { cfgDebug, emit, ensureMemory, faultFires, faultsArmed, hostFailure } from './state';

/** struct vmem_altmap, its u64 fields in ALTMAP_FIELD order (abi.ts), then whether the id is live. */
@unmanaged
class Altmap {
  basePfn: u64;
  reserve: u64;
  free: u64;
  align: u64;
  alloc: u64;
  inUse: u32;
  pad: u32;
}
if (offsetof<Altmap>() != ALTMAP_REC) ERROR('class Altmap must be ALTMAP_REC bytes');
if (
  offsetof<Altmap>('basePfn') != ALTMAP_FIELD_BASE_PFN << 3 ||
  offsetof<Altmap>('reserve') != ALTMAP_FIELD_RESERVE << 3 ||
  offsetof<Altmap>('free') != ALTMAP_FIELD_FREE << 3 ||
  offsetof<Altmap>('align') != ALTMAP_FIELD_ALIGN << 3 ||
  offsetof<Altmap>('alloc') != ALTMAP_FIELD_ALLOC << 3
)
  ERROR('class Altmap: field f must sit at 8 * f');

/** vmem_altmap_alloc's failure sentinel (ULONG_MAX). */
export const ALTMAP_FAIL: u64 = ~(<u64>0);

/** One past the highest id in use. */
let altmapTop: u32 = 0;
/** Every id below it is in use: the lowest-free-id search starts here (one record per memory block with memmap_on_memory would make it O(n^2) from 0). */
let altmapFreeHint: u32 = 0;
/** Chunks (pool slots of ALTMAP_PER_CHUNK records) held: those of ids below altmapTop, so the table grows and shrinks with use. */
let altmapChunks: u32 = 0;

/** The record of id; its chunk must be held (id < altmapChunks * ALTMAP_PER_CHUNK). */
@inline
function altmapAt(id: u32): Altmap {
  const slot = load<u32>(ALTMAP_DIR + (<usize>(id / ALTMAP_PER_CHUNK) << 2)) - 1;
  return changetype<Altmap>(slotAddr(slot) + <usize>(id % ALTMAP_PER_CHUNK) * ALTMAP_REC);
}

@inline
function altmapValid(id: i32): bool {
  return id >= 0 && <u32>id < altmapTop && altmapAt(<u32>id).inUse != 0;
}

/** Hold the chunk of id (a zeroed pool slot); false when the pool or the directory is out of room. */
function altmapChunkFor(id: u32): bool {
  const c = id / ALTMAP_PER_CHUNK;
  if (c < altmapChunks) return true;
  if (c >= ALTMAP_DIR_MAX) return false;
  const s = slotAlloc(true);
  if (s == 0) return false;
  store<u32>(ALTMAP_DIR + (<usize>c << 2), s);
  altmapChunks = c + 1;
  return true;
}

/** A new altmap with these fields: the lowest free id, or -ENOMEM (the host's memory is full). */
export function altmapCreate(base: u64, reserve: u64, free: u64, align: u64, alloc: u64): i32 {
  let id: u32 = altmapFreeHint;
  while (id < altmapTop && altmapAt(id).inUse != 0) id++;
  if (id > <u32>i32.MAX_VALUE || !altmapChunkFor(id)) return ENOMEM;
  if (id == altmapTop) altmapTop++;
  altmapFreeHint = id + 1;
  const m = altmapAt(id);
  m.basePfn = base;
  m.reserve = reserve;
  m.free = free;
  m.align = align;
  m.alloc = alloc;
  m.inUse = 1;
  return <i32>id;
}

export function altmapRelease(id: i32): void {
  if (!altmapValid(id)) return;
  altmapAt(<u32>id).inUse = 0;
  if (<u32>id < altmapFreeHint) altmapFreeHint = <u32>id;
  while (altmapTop > 0 && altmapAt(altmapTop - 1).inUse == 0) altmapTop--;
  // chunks above the top go back to the pool (a freed chunk must read as zero when held again: slotAlloc(true))
  const need = (altmapTop + ALTMAP_PER_CHUNK - 1) / ALTMAP_PER_CHUNK;
  while (altmapChunks > need) {
    altmapChunks--;
    const at = ALTMAP_DIR + (<usize>altmapChunks << 2);
    slotFree(load<u32>(at) - 1);
    store<u32>(at, 0);
  }
}

/** The fields of altmap id into RES as u64, in ALTMAP_FIELD order (zeros when id is not a live altmap). */
export function altmapReadToRes(id: i32): void {
  const valid = altmapValid(id);
  const at = valid ? changetype<usize>(altmapAt(<u32>id)) : 0;
  for (let f: u32 = 0; f < ALTMAP_FIELD_COUNT; f++) {
    store<u64>(RES + (<usize>f << 3), valid ? load<u64>(at + (<usize>f << 3)) : 0);
  }
}

/** Set field f (ALTMAP_FIELD_*) of altmap id; nothing when id is not a live altmap or f no field. */
export function altmapWrite(id: i32, f: u32, v: u64): void {
  if (!altmapValid(id) || f >= ALTMAP_FIELD_COUNT) return;
  store<u64>(changetype<usize>(altmapAt(<u32>id)) + (<usize>f << 3), v);
}

/** vmem_altmap_next_pfn: base + reserve + alloc + align. */
@inline
function nextPfn(m: Altmap): u64 {
  return m.basePfn + m.reserve + m.alloc + m.align;
}

/** vmem_altmap_nr_free: free > alloc + align ? free - (alloc + align) : 0. */
@inline
function nrFree(m: Altmap): u64 {
  const used = m.alloc + m.align;
  return m.free > used ? m.free - used : 0;
}

/**
 * vmem_altmap_alloc(altmap, n): the next pfn, naturally aligned to the lowest set bit of n; pfn or
 * ALTMAP_FAIL with no state change. Debug: an AltmapAlloc event (pfn, alloc, align after the update,
 * the request n: the kernel's pr_debug prints it as `nr`), on success and on failure.
 */
export function altmapAlloc(id: i32, n: u64): u64 {
  if (!altmapValid(id)) return ALTMAP_FAIL;
  const m = altmapAt(<u32>id);
  let result = ALTMAP_FAIL;
  if (!faultFires(FAULT_ALTMAP_ALLOC)) {
    const pfn = nextPfn(m);
    const unit: u64 = n == 0 ? 1 : n & (~n + 1);
    const pad = ((pfn + unit - 1) & ~(unit - 1)) - pfn;
    if (!(n + pad > nrFree(m))) {
      m.alloc += n;
      m.align += pad;
      result = pfn + pad;
    }
  }
  if (cfgDebug) emit(EVENT_ALTMAP_ALLOC, result, m.alloc, m.align, n);
  return result;
}

/**
 * `count` calls of vmem_altmap_alloc(altmap, n) in one step (a run table's 512 blocks), when all of them
 * succeed: only the first can pad (n is a multiple of its own unit, so each later next_pfn is aligned),
 * so they do exactly when pad + n * count <= nr_free. Returns the first pfn (the blocks follow it, n
 * apart), or ALTMAP_FAIL with no change: the caller runs the single calls for the exact partial result.
 * Only with debug off (no events) and no fault armed (each call is an attempt): else ALTMAP_FAIL.
 */
export function altmapAllocRun(id: i32, n: u64, count: u64): u64 {
  if (!altmapValid(id) || cfgDebug || faultsArmed() || n == 0 || count == 0) return ALTMAP_FAIL;
  const m = altmapAt(<u32>id);
  const pfn = nextPfn(m);
  const unit: u64 = n & (~n + 1);
  const pad = ((pfn + unit - 1) & ~(unit - 1)) - pfn;
  const free = nrFree(m);
  // free - pad >= n * count, without overflow (nr_free > 0 means free > alloc + align: no wrap below)
  if (pad > free || (free - pad) / n < count) return ALTMAP_FAIL;
  m.alloc += n * count;
  m.align += pad;
  return pfn + pad;
}

/** vmem_altmap_free: alloc -= n, modulo 2^64. */
export function altmapFree(id: i32, n: u64): void {
  if (!altmapValid(id)) return;
  altmapAt(<u32>id).alloc -= n;
}

// ---- the pgmap lookup table: sorted by startPfn, adjacent entries of the same pgmap and altmap merged ----
/** A range of pfns whose struct pages resolve to one dev_pagemap: the host's id for it, and its altmap's (or -1). */
@unmanaged
class LookupEntry {
  startPfn: u64;
  endPfn: u64;
  id: i32;
  pgmap: i32;
}
if (offsetof<LookupEntry>() != LOOKUP_REC) ERROR('class LookupEntry must be LOOKUP_REC bytes');

/** An entry as the host writes it into IO (src/core/wasm.ts setAltmapLookup). */
@unmanaged
class LookupInput {
  startPfn: f64;
  endPfn: f64;
  id: f64;
  pgmap: f64;
}
/** Bytes per entry in IO. */
export const LOOKUP_INPUT: usize = offsetof<LookupInput>();

let lookupCount: u32 = 0;
let lookupLast: u32 = 0;

@inline
function entryAt(i: u32): LookupEntry {
  return changetype<LookupEntry>(LOOKUP + <usize>i * LOOKUP_REC);
}

/** Start a new table. */
export function lookupReset(): void {
  lookupCount = 0;
  lookupLast = 0;
}

/**
 * Append n entries given in IO (LookupInput). Adjacent entries of the same id are merged on the way.
 * -ENOMEM when the table is full.
 */
export function lookupAppend(n: u32): i32 {
  for (let k: u32 = 0; k < n; k++) {
    const input = changetype<LookupInput>(IO + <usize>k * LOOKUP_INPUT);
    const fs = input.startPfn;
    const fe = input.endPfn;
    const id = <i32>input.id;
    const pgmap = <i32>input.pgmap;
    if (!(fs >= 0) || !(fe > fs)) continue;
    const s = <u64>fs;
    const e = <u64>fe;
    if (lookupCount > 0) {
      const last = entryAt(lookupCount - 1);
      if (last.id == id && last.pgmap == pgmap && last.endPfn == s) {
        last.endPfn = e;
        continue;
      }
    }
    if (lookupCount >= LOOKUP_MAX) {
      hostFailure();
      return ENOMEM;
    }
    if (!ensureMemory(<u64>changetype<usize>(entryAt(lookupCount)) + LOOKUP_REC)) return ENOMEM;
    const r = entryAt(lookupCount);
    r.startPfn = s;
    r.endPfn = e;
    r.id = id;
    r.pgmap = pgmap;
    lookupCount++;
  }
  return 0;
}

function lookupSwap(i: u32, j: u32): void {
  const a = entryAt(i);
  const b = entryAt(j);
  const s = a.startPfn;
  const e = a.endPfn;
  const id = a.id;
  const pgmap = a.pgmap;
  a.startPfn = b.startPfn;
  a.endPfn = b.endPfn;
  a.id = b.id;
  a.pgmap = b.pgmap;
  b.startPfn = s;
  b.endPfn = e;
  b.id = id;
  b.pgmap = pgmap;
}

function lookupSiftDown(root: u32, n: u32): void {
  while (true) {
    let child = root * 2 + 1;
    if (child >= n) return;
    if (child + 1 < n && entryAt(child + 1).startPfn > entryAt(child).startPfn) child++;
    if (entryAt(root).startPfn >= entryAt(child).startPfn) return;
    lookupSwap(root, child);
    root = child;
  }
}

/** Finish the table: sort by startPfn (heapsort, only when needed), merge adjacent same-id entries. */
export function lookupCommit(): void {
  const n = lookupCount;
  let sorted = true;
  for (let i: u32 = 1; i < n; i++) {
    if (entryAt(i).startPfn < entryAt(i - 1).startPfn) {
      sorted = false;
      break;
    }
  }
  if (!sorted) {
    for (let i = <i32>(n >> 1) - 1; i >= 0; i--) lookupSiftDown(<u32>i, n);
    for (let end = n - 1; end > 0; end--) {
      lookupSwap(0, end);
      lookupSiftDown(0, end);
    }
  }
  if (n == 0) return;
  let w: u32 = 0;
  for (let i: u32 = 1; i < n; i++) {
    const a = entryAt(w);
    const b = entryAt(i);
    if (a.id == b.id && a.pgmap == b.pgmap && a.endPfn == b.startPfn) {
      a.endPfn = b.endPfn;
    } else {
      w++;
      if (w != i) memory.copy(changetype<usize>(entryAt(w)), changetype<usize>(b), LOOKUP_REC);
    }
  }
  lookupCount = w + 1;
  lookupLast = 0;
}

/** The entry covering pfn (the one with the highest start <= pfn, if it contains pfn), or -1. */
function lookupIndex(pfn: u64): i32 {
  const n = lookupCount;
  if (n == 0) return -1;
  let r = entryAt(lookupLast);
  if (lookupLast < n && r.startPfn <= pfn && pfn < r.endPfn) {
    // the next entry may start inside this one only for overlapping tables; keep to the rule below
    if (lookupLast + 1 >= n || entryAt(lookupLast + 1).startPfn > pfn) return <i32>lookupLast;
  }
  let lo: u32 = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (entryAt(mid).startPfn <= pfn) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return -1;
  r = entryAt(lo - 1);
  if (pfn >= r.endPfn) return -1;
  lookupLast = lo - 1;
  return <i32>(lo - 1);
}

/** The altmap whose pgmap covers pfn, or -1 (v4.5's free_pagetable: to_vmem_altmap on the block). */
export function lookupAltmap(pfn: u64): i32 {
  const i = lookupIndex(pfn);
  return i < 0 ? -1 : entryAt(<u32>i).id;
}

/** find_dev_pagemap: the host's id of the pgmap covering pfn, or -1. */
export function lookupPgmap(pfn: u64): i32 {
  const i = lookupIndex(pfn);
  return i < 0 ? -1 : entryAt(<u32>i).pgmap;
}
