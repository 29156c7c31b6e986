/**
 * Compound runs (docs/core.md "Compound runs"): one GiB of a compound devmap's vmemmap as
 * vmemmap_populate_compound_pages leaves it when its pages come from one contiguous run of DRAM, kept as
 * one record instead of 513 backed table frames and a share count per tail page.
 *
 * The loop takes its pages in this order: the PMD table, then per 2 MiB of vmemmap its PTE table and
 * each compound page's head and first-tail vmemmap pages (compound pages of 2 MiB of vmemmap or less), or
 * per compound page its first PTE table, head, tail, then its further PTE tables (larger ones). So every
 * entry of those tables and every tail's share count is a function of the run's first frame and the
 * compound size: they are drawn on read (physmem.ts) and a write backs the table from the drawing
 * (backed bytes win). Share counts stay implicit until a share of the run changes (shares.ts makes
 * them explicit); a discard of part of the run dissolves it into ordinary backed tables (physmem.ts);
 * vmemmapFree of the whole GiB releases it at once (pgtable.ts).
 *
 * Records live in pool slots, sorted by first frame, doubled when full.
 */
import { PAGE_LEAF_BITS, TABLE_BITS } from './pgtable';
import { slotsMove } from './pool';

/** frames [base, base + frames): base is the PMD table; a compound page has 1 << csShift bytes of vmemmap. */
@unmanaged
class CompoundRun {
  base: u64;
  frames: u64;
  csShift: u32;
  /** 1 once its tails' share counts are in the share tree. */
  explicit: u32;
}
const CR_REC: usize = offsetof<CompoundRun>();
if (CR_REC != 24) ERROR('class CompoundRun must be 24 bytes');

const PMD_SHIFT: u32 = 21;
const PUD_SHIFT: u32 = 30;

export let crCount: u32 = 0;
let crTable: usize = 0;
let crCap: u32 = 0;
let crSlots: u32 = 0;
/** The last run crFind hit (reads come in bursts over one run). */
let crLast: u32 = 0;

@inline
function runAt(i: u32): CompoundRun {
  return changetype<CompoundRun>(crTable + <usize>i * CR_REC);
}

/** Frames a run of 1 GiB of vmemmap takes, compound pages of 1 << csShift bytes of vmemmap. */
export function crFrames(csShift: u32): u64 {
  if (csShift <= PMD_SHIFT) return 1 + 512 * (1 + (<u64>2 << (PMD_SHIFT - csShift)));
  return 1 + (<u64>1 << (PUD_SHIFT - csShift)) * ((<u64>1 << (csShift - PMD_SHIFT)) + 2);
}

/** Frames of one unit: a PTE table and its compound pages' two vmemmap pages (small), or one compound page's tables and pages (large). */
@inline
function unitFrames(cs: u32): u64 {
  return cs <= PMD_SHIFT ? 1 + (<u64>2 << (PMD_SHIFT - cs)) : (<u64>1 << (cs - PMD_SHIFT)) + 2;
}

/** Index of the run holding frame f, or -1. */
export function crFind(f: u64): i32 {
  if (crCount == 0) return -1;
  let r = runAt(crLast < crCount ? crLast : 0);
  if (f >= r.base && f < r.base + r.frames) return <i32>crLast;
  let lo: u32 = 0;
  let hi = crCount;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (runAt(mid).base <= f) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return -1;
  r = runAt(lo - 1);
  if (f >= r.base + r.frames) return -1;
  crLast = lo - 1;
  return <i32>(lo - 1);
}

/** Frame of the run's PTE table i (0..511). */
function tableFrame(r: CompoundRun, i: u64): u64 {
  const cs = r.csShift;
  const u = unitFrames(cs);
  if (cs <= PMD_SHIFT) return r.base + 1 + i * u;
  const t = <u64>1 << (cs - PMD_SHIFT);
  const c = i / t;
  const j = i % t;
  return r.base + 1 + c * u + (j == 0 ? 0 : 2 + j);
}

/**
 * The PTE table index of frame f of run r, or -1 for the PMD table, or -2 for a vmemmap page (head or
 * tail: data, not a table).
 */
function tableIndex(r: CompoundRun, f: u64): i64 {
  const o = f - r.base;
  if (o == 0) return -1;
  const cs = r.csShift;
  const u = unitFrames(cs);
  const k = (o - 1) / u;
  const m = (o - 1) % u;
  if (cs <= PMD_SHIFT) return m == 0 ? <i64>k : -2;
  const t = <u64>1 << (cs - PMD_SHIFT);
  if (m == 0) return <i64>(k * t);
  if (m <= 2) return -2;
  return <i64>(k * t + m - 2);
}

/** Is frame f of run i one of its tables (PMD or PTE)? */
export function crIsTable(i: i32, f: u64): bool {
  return tableIndex(runAt(<u32>i), f) != -2;
}

/** Entry e (0..511) of table frame f of run i. */
export function crEntry(i: i32, f: u64, e: u64): u64 {
  const r = runAt(<u32>i);
  const ti = tableIndex(r, f);
  if (ti == -1) return (tableFrame(r, e) << 12) | TABLE_BITS;
  const cs = r.csShift;
  const u = unitFrames(cs);
  let leaf: u64;
  if (cs <= PMD_SHIFT) {
    const per = <u64>1 << (cs - 12);
    leaf = r.base + 1 + <u64>ti * u + 1 + ((e / per) << 1) + (e % per == 0 ? 0 : 1);
  } else {
    const t = <u64>1 << (cs - PMD_SHIFT);
    const c = <u64>ti / t;
    leaf = r.base + 1 + c * u + (<u64>ti % t == 0 && e == 0 ? 1 : 2);
  }
  return (leaf << 12) | PAGE_LEAF_BITS;
}

/** Write table frame f of run i (a table: crIsTable) to dst, 4 KiB. */
export function crSynth(i: i32, f: u64, dst: usize): void {
  for (let e: u64 = 0; e < 512; e++) store<u64>(dst + (<usize>e << 3), crEntry(i, f, e));
}

/** Tail pages of run i and the shares each holds (the entries of its compound page but the first two). */
export function crTails(i: i32): u64 {
  const cs = runAt(<u32>i).csShift;
  return <u64>1 << (PUD_SHIFT - cs);
}
export function crTailShares(i: i32): u32 {
  return (<u32>1 << (runAt(<u32>i).csShift - 12)) - 2;
}

/** Frame of run i's tail page k (0 .. crTails - 1), in allocation order. */
export function crTail(i: i32, k: u64): u64 {
  const r = runAt(<u32>i);
  const cs = r.csShift;
  const u = unitFrames(cs);
  if (cs > PMD_SHIFT) return r.base + 1 + k * u + 2;
  const m = <u64>1 << (PMD_SHIFT - cs);
  return r.base + 1 + (k / m) * u + 2 + ((k % m) << 1);
}

/** Is frame f of run i a tail page whose shares are still implicit? */
export function crImplicitTail(i: i32, f: u64): bool {
  const r = runAt(<u32>i);
  if (r.explicit != 0) return false;
  const o = f - r.base;
  if (o == 0) return false;
  const cs = r.csShift;
  const m = (o - 1) % unitFrames(cs);
  return cs <= PMD_SHIFT ? m != 0 && (m & 1) == 0 : m == 2;
}

export function crBase(i: i32): u64 {
  return runAt(<u32>i).base;
}
export function crFrameCount(i: i32): u64 {
  return runAt(<u32>i).frames;
}
export function crCsShift(i: i32): u32 {
  return runAt(<u32>i).csShift;
}
export function crExplicit(i: i32): bool {
  return runAt(<u32>i).explicit != 0;
}
export function crSetExplicit(i: i32, on: bool): void {
  runAt(<u32>i).explicit = on ? 1 : 0;
}

/** Record a run over frames [base, base + crFrames(csShift)): its index, or -1 when the table has no room to grow. */
export function crCreate(base: u64, csShift: u32): i32 {
  if (crCount == crCap) {
    const cap = crCap == 0 ? <u32>(4096 / <u32>CR_REC) : crCap * 2;
    const ns = <u32>((<u64>cap * CR_REC + 4095) >> 12);
    const a = slotsMove(crTable, crSlots, <usize>crCount * CR_REC, ns);
    // not a host failure: the caller takes the single steps, which succeed or fail on their own
    if (a == 0) return -1;
    crTable = a;
    crCap = cap;
    crSlots = ns;
  }
  let i = crCount;
  while (i > 0 && runAt(i - 1).base > base) i--;
  if (i < crCount) memory.copy(crTable + <usize>(i + 1) * CR_REC, crTable + <usize>i * CR_REC, <usize>(crCount - i) * CR_REC);
  crCount++;
  const r = runAt(i);
  r.base = base;
  r.frames = crFrames(csShift);
  r.csShift = csShift;
  r.explicit = 0;
  crLast = i;
  return <i32>i;
}

/** Forget run i (its frames are freed or dissolved by the caller). */
export function crDelete(i: i32): void {
  const k = <u32>i;
  if (k + 1 < crCount) memory.copy(crTable + <usize>k * CR_REC, crTable + <usize>(k + 1) * CR_REC, <usize>(crCount - k - 1) * CR_REC);
  crCount--;
  crLast = 0;
}

/** Index of the first run whose frames end above f (runs are disjoint and sorted). */
export function crFirstEndingAbove(f: u64): u32 {
  let lo: u32 = 0;
  let hi = crCount;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const r = runAt(mid);
    if (r.base + r.frames <= f) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
