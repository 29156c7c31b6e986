/**
 * struct vmem_altmap and its bump allocator (docs/core.md "vmem_altmap", kernel.md §1.2, §2.9), plus the
 * pgmap lookup free_pagetable consults. All arithmetic is u64, modulo 2^64, as in the kernel.
 *
 *   record: +0 base_pfn, +8 reserve, +16 free, +24 align, +32 alloc, +40 in-use (u32)
 *   lookup: +0 startPfn, +8 endPfn, +16 altmap id (i32); sorted by startPfn, adjacent same-id merged
 */
import { ALTMAPS, ALTMAP_MAX, ALTMAP_REC, IO, LOOKUP, LOOKUP_MAX, LOOKUP_REC } from './layout';
import { cfgDebug, emit, ensureMemory, EV_ALTMAP_ALLOC, FAULT_ALTMAP, faultFires } from './state';

export const F_BASE: u32 = 0;
export const F_RESERVE: u32 = 1;
export const F_FREE: u32 = 2;
export const F_ALIGN: u32 = 3;
export const F_ALLOC: u32 = 4;

/** vmem_altmap_alloc's failure sentinel (ULONG_MAX). */
export const ALTMAP_FAIL: u64 = ~(<u64>0);

/** One past the highest id ever handed out. */
let altmapTop: u32 = 0;

@inline
function aAt(id: u32): usize {
  return ALTMAPS + <usize>id * ALTMAP_REC;
}

@inline
export function altmapValid(id: i32): bool {
  return id >= 0 && <u32>id < altmapTop && load<u32>(aAt(<u32>id), 40) != 0;
}

/** A new altmap with these fields: the lowest free id, or -ENOMEM. */
export function altmapCreate(base: u64, reserve: u64, free: u64, align: u64, alloc: u64): i32 {
  let id: u32 = 0;
  while (id < altmapTop && load<u32>(aAt(id), 40) != 0) id++;
  if (id >= ALTMAP_MAX) return -12;
  if (!ensureMemory(<u64>aAt(id) + ALTMAP_REC)) return -12;
  if (id == altmapTop) altmapTop++;
  const a = aAt(id);
  store<u64>(a, base);
  store<u64>(a, reserve, 8);
  store<u64>(a, free, 16);
  store<u64>(a, align, 24);
  store<u64>(a, alloc, 32);
  store<u32>(a, 1, 40);
  return <i32>id;
}

export function altmapRelease(id: i32): void {
  if (!altmapValid(id)) return;
  store<u32>(aAt(<u32>id), 0, 40);
  while (altmapTop > 0 && load<u32>(aAt(altmapTop - 1), 40) == 0) altmapTop--;
}

/** Field f of altmap id (0 when id is not a live altmap). */
export function altmapGet(id: i32, f: u32): u64 {
  if (!altmapValid(id) || f > 4) return 0;
  return load<u64>(aAt(<u32>id) + (<usize>f << 3));
}

export function altmapSet(id: i32, f: u32, v: u64): void {
  if (!altmapValid(id) || f > 4) return;
  store<u64>(aAt(<u32>id) + (<usize>f << 3), v);
}

/** nr_free = free > alloc + align ? free - (alloc + align) : 0 */
@inline
function nrFree(a: usize): u64 {
  const used = load<u64>(a, 32) + load<u64>(a, 24);
  const free = load<u64>(a, 16);
  return free > used ? free - used : 0;
}

/**
 * vmem_altmap_alloc(altmap, n): the next pfn, naturally aligned to the lowest set bit of n; pfn or
 * ALTMAP_FAIL with no state change. Debug: an AltmapAlloc event (pfn, alloc, align after the update,
 * the request n: the kernel's pr_debug prints it as `nr`), on success and on failure.
 */
export function altmapAlloc(id: i32, n: u64): u64 {
  if (!altmapValid(id)) return ALTMAP_FAIL;
  const a = aAt(<u32>id);
  let result = ALTMAP_FAIL;
  if (!faultFires(FAULT_ALTMAP)) {
    const pfn = load<u64>(a) + load<u64>(a, 8) + load<u64>(a, 32) + load<u64>(a, 24);
    const unit: u64 = n == 0 ? 1 : n & (~n + 1);
    const pad = ((pfn + unit - 1) & ~(unit - 1)) - pfn;
    if (!(n + pad > nrFree(a))) {
      store<u64>(a, load<u64>(a, 32) + n, 32);
      store<u64>(a, load<u64>(a, 24) + pad, 24);
      result = pfn + pad;
    }
  }
  if (cfgDebug) emit(EV_ALTMAP_ALLOC, result, load<u64>(a, 32), load<u64>(a, 24), n);
  return result;
}

/** vmem_altmap_free: alloc -= n, modulo 2^64. */
export function altmapFree(id: i32, n: u64): void {
  if (!altmapValid(id)) return;
  const a = aAt(<u32>id);
  store<u64>(a, load<u64>(a, 32) - n, 32);
}

// ---- the pgmap lookup table ----
let lookupCount: u32 = 0;
let lookupLast: u32 = 0;

@inline
function lAt(i: u32): usize {
  return LOOKUP + <usize>i * LOOKUP_REC;
}

/** Start a new table. */
export function lookupReset(): void {
  lookupCount = 0;
  lookupLast = 0;
}

/**
 * Append n entries given in IO as f64 triples (startPfn, endPfn, id). Adjacent entries of the same id
 * are merged on the way. -ENOMEM when the table is full.
 */
export function lookupAppend(n: u32): i32 {
  for (let k: u32 = 0; k < n; k++) {
    const p = IO + <usize>k * 24;
    const fs = load<f64>(p);
    const fe = load<f64>(p, 8);
    const id = <i32>load<f64>(p, 16);
    if (!(fs >= 0) || !(fe > fs)) continue;
    const s = <u64>fs;
    const e = <u64>fe;
    if (lookupCount > 0) {
      const last = lAt(lookupCount - 1);
      if (load<i32>(last, 16) == id && load<u64>(last, 8) == s) {
        store<u64>(last, e, 8);
        continue;
      }
    }
    if (lookupCount >= LOOKUP_MAX || !ensureMemory(<u64>lAt(lookupCount) + LOOKUP_REC)) return -12;
    const r = lAt(lookupCount);
    store<u64>(r, s);
    store<u64>(r, e, 8);
    store<i32>(r, id, 16);
    store<i32>(r, 0, 20);
    lookupCount++;
  }
  return 0;
}

function lookupSwap(i: u32, j: u32): void {
  const a = lAt(i);
  const b = lAt(j);
  const s = load<u64>(a);
  const e = load<u64>(a, 8);
  const id = load<u64>(a, 16);
  store<u64>(a, load<u64>(b));
  store<u64>(a, load<u64>(b, 8), 8);
  store<u64>(a, load<u64>(b, 16), 16);
  store<u64>(b, s);
  store<u64>(b, e, 8);
  store<u64>(b, id, 16);
}

function lookupSiftDown(root: u32, n: u32): void {
  while (true) {
    let child = root * 2 + 1;
    if (child >= n) return;
    if (child + 1 < n && load<u64>(lAt(child + 1)) > load<u64>(lAt(child))) child++;
    if (load<u64>(lAt(root)) >= load<u64>(lAt(child))) return;
    lookupSwap(root, child);
    root = child;
  }
}

/** Finish the table: sort by startPfn (heapsort, only when needed), merge adjacent same-id entries. */
export function lookupCommit(): void {
  const n = lookupCount;
  let sorted = true;
  for (let i: u32 = 1; i < n; i++) {
    if (load<u64>(lAt(i)) < load<u64>(lAt(i - 1))) {
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
    const a = lAt(w);
    const b = lAt(i);
    if (load<i32>(a, 16) == load<i32>(b, 16) && load<u64>(a, 8) == load<u64>(b)) {
      store<u64>(a, load<u64>(b, 8), 8);
    } else {
      w++;
      if (w != i) memory.copy(lAt(w), b, LOOKUP_REC);
    }
  }
  lookupCount = w + 1;
  lookupLast = 0;
}

/** The altmap whose pgmap covers pfn (the entry with the highest start <= pfn, if it contains pfn), or -1. */
export function lookupAltmap(pfn: u64): i32 {
  const n = lookupCount;
  if (n == 0) return -1;
  let r = lAt(lookupLast);
  if (lookupLast < n && load<u64>(r) <= pfn && pfn < load<u64>(r, 8)) {
    // the next entry may start inside this one only for overlapping tables; keep to the rule below
    if (lookupLast + 1 >= n || load<u64>(lAt(lookupLast + 1)) > pfn) return load<i32>(r, 16);
  }
  let lo: u32 = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (load<u64>(lAt(mid)) <= pfn) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return -1;
  r = lAt(lo - 1);
  if (pfn >= load<u64>(r, 8)) return -1;
  lookupLast = lo - 1;
  return load<i32>(r, 16);
}
