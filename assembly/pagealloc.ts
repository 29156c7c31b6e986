/**
 * The DRAM page allocator (docs/core.md "DRAM page allocator").
 *
 * allocPages(order) returns the lowest-addressed naturally aligned block of 2^order free pages wholly
 * inside one RAM range, on the first node of the zonelist (dramSetZonelist) that has one.
 *
 * Host memory and set-up time do not grow with the RAM. Each range has one record per 1 GiB chunk
 * (2^18 pages, aligned in pfns): its free pages and, only while it is partly used, a materialised unit:
 *
 *   bitmap   1 bit per page, 1 = in use or outside the range          32 KiB
 *   counts   free pages per 2 MiB block (u16), to skip full blocks     1 KiB
 *
 * A block's bits are kept only while its count is neither 0 (all used, or outside the range) nor 512 (all
 * free): those two say it all, so making a unit and marking whole blocks write counts, not 32 KiB of bits.
 *
 * A chunk that becomes wholly free (free = its pages in the range) or wholly used (0) gives its unit back.
 * Per node, zone class (ZONE_NORMAL, ZONE_MOVABLE) and order a hint: a pfn no free block of that order of
 * the node's ranges of that class lies below.
 *
 * Everything lives in pool slots (pool.ts): the range table, each range's chunk records, the node table
 * and zonelist, the units (9 slots each, recycled through their own free list).
 */
import { ALLOC_MOVABLE, EBUSY, EFAULT, EINVAL, ENOMEM, EVENT_BUG, FAULT_DRAM_ALLOC, MAX_NUMNODES, PURPOSES } from './abi';
import { CTL_PURPOSE, DRAM_MAX_PFN, DYN, IO, NODE_REC, RANGE_IO, RANGE_REC, RES, STAGE_REC } from './layout';
import { discardFrames } from './physmem';
import { slotAddr, slotAllocRun, slotFree, slotsMove } from './pool';
import { emit, ensureMemory, faultFires, faultsArmed, hostFailure } from './state';

const MAX_ORDER: i32 = 30;
const CHUNK_SHIFT: u64 = 18;
const CHUNK: u64 = 1 << CHUNK_SHIFT;
const BLOCKS: u32 = 512; // 2 MiB blocks a chunk
const UNIT_SLOTS: u32 = 9;
const UNIT_COUNTS: usize = 32768;
const NO_HINT: u64 = ~(<u64>0);

// ---- the range table ----
/** A RAM range [start, end): its chunk records (8 B each: u32 free pages, u32 unit address or 0), its node and zone class. */
@unmanaged
class Range {
  start: u64;
  end: u64;
  chunks: u32;
  nChunks: u32;
  node: u32;
  movable: u32;
  slots: u32;
  /**
   * A run of memory blocks of 2^shift pages each (shift > 0; start aligned to them), one record standing
   * for as many ranges: no allocation crosses a block, and each block leaves on its own (rangeSplit). 0: one range.
   */
  shift: u32;
  /**
   * A gapped run (shift > 0): the first `gap` pages of every block (a multiple of 512: whole 2 MiB blocks,
   * each count 0) are not the allocator's, so the record stands for the ranges [b + gap, b + 2^shift).
   */
  gap: u32;
  pad: u32;
  /** The chunk table of a range of at most INLINE_CHUNKS chunks (slots 0): a memory block's needs no slot of its own. */
  inline0: u64;
  inline1: u64;
}
if (offsetof<Range>() != RANGE_REC) ERROR('class Range must be RANGE_REC bytes');

/** A RAM range as the host writes it into IO (src/core/wasm.ts). */
@unmanaged
class RangeInput {
  start: f64;
  end: f64;
  node: f64;
}
if (offsetof<RangeInput>() != RANGE_IO) ERROR('class RangeInput must be RANGE_IO bytes');

/** A staged boot range (at DYN until dramInit). */
@unmanaged
class Staged {
  start: u64;
  end: u64;
  node: u64;
}
if (offsetof<Staged>() != STAGE_REC) ERROR('class Staged must be STAGE_REC bytes');

// A node's record (NODE_REC bytes): hints per class and order (u64 pfns), its pages, free pages and pages in use by purpose.
const NODE_HINTS: usize = 0; // 2 x 32 x u64
const NODE_TOTAL: usize = 512; // u64
const NODE_FREE: usize = 520; // u64
const NODE_PURPOSE: usize = 528; // PURPOSES x i64
if (NODE_PURPOSE + <usize>PURPOSES * 8 > NODE_REC) ERROR('a node record must fit NODE_REC bytes');

let ranges: usize = 0;
let nRanges: u32 = 0;
let rangeCap: u32 = 0;
let rangeSlots: u32 = 0;
let totalPages: u64 = 0;
let freeCount: u64 = 0;
let nodes: usize = 0;
let nNodes: u32 = 1;
let zonelist: usize = 0;
let zlLen: u32 = 1;
/** Free units (word 0 links to the next, 0 ends), and how many units exist. */
let unitFree: usize = 0;
let unitCount: u32 = 0;
let unitFreeCount: u32 = 0;
/** Pool slots held by the tables (range table, chunk records, node table, zonelist); units apart. */
let metaSlots: u64 = 0;

@inline
function range(i: u32): Range {
  return changetype<Range>(ranges + <usize>i * RANGE_REC);
}
@inline
function nodeAt(nid: u32): usize {
  return nodes + <usize>nid * NODE_REC;
}
@inline
function hintAt(nid: u32, cls: u32, order: i32): usize {
  return nodeAt(nid) + NODE_HINTS + ((<usize>cls * 32 + <usize>order) << 3);
}
@inline
function chunkAt(r: Range, c: u32): usize {
  // an inline table moves with its record (the range table is kept sorted by memory.copy)
  if (r.slots == 0) return changetype<usize>(r) + offsetof<Range>('inline0') + (<usize>c << 3);
  return <usize>r.chunks + (<usize>c << 3);
}
const INLINE_CHUNKS: u32 = 2;
@inline
function chunkFree(r: Range, c: u32): u64 {
  return <u64>load<u32>(chunkAt(r, c));
}
@inline
function chunkUnit(r: Range, c: u32): usize {
  return <usize>load<u32>(chunkAt(r, c), 4);
}
/** First pfn of chunk c of r. */
@inline
function chunkBase(r: Range, c: u32): u64 {
  return ((r.start >> CHUNK_SHIFT) + <u64>c) << CHUNK_SHIFT;
}
/** Pages of chunk c inside r (a gapped run's gaps apart). */
@inline
function chunkCap(r: Range, c: u32): u64 {
  const b = chunkBase(r, c);
  const lo = max<u64>(r.start, b);
  const hi = min<u64>(r.end, b + CHUNK);
  return hi - lo - (r.gap == 0 ? 0 : gapBelow(r, hi) - gapBelow(r, lo));
}

/** Gap pages of a gapped run r in [r.start, x) (x inside it). */
@inline
function gapBelow(r: Range, x: u64): u64 {
  const off = x - r.start;
  return (off >> <u64>r.shift) * <u64>r.gap + min<u64>(off & ((<u64>1 << <u64>r.shift) - 1), <u64>r.gap);
}

/** The allocator's pages of r: its span less a gapped run's gaps. */
@inline
function rangePages(r: Range): u64 {
  return r.end - r.start - (r.gap == 0 ? 0 : gapBelow(r, r.end));
}

/** The start of the range pfn is in: its record's, or its block's past the gap in a run. */
@inline
function blockStart(r: Range, pfn: u64): u64 {
  return r.shift == 0 ? r.start : ((pfn >> <u64>r.shift) << <u64>r.shift) + <u64>r.gap;
}
@inline
function chunkOf(r: Range, pfn: u64): u32 {
  return <u32>((pfn >> CHUNK_SHIFT) - (r.start >> CHUNK_SHIFT));
}
@inline
function alignUp(x: u64, a: u64): u64 {
  return (x + a - 1) & ~(a - 1);
}

/** Index of the first range ending above pfn (nRanges if none). */
function firstEndingAbove(pfn: u64): u32 {
  let lo: u32 = 0;
  let hi = nRanges;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (range(mid).end <= pfn) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// ---- units ----
/** Make sure n units can be had without failing (a mark needs at most 2). False (a host failure) when out of room. */
function unitsReserve(n: u32): bool {
  while (unitFreeCount < n) {
    const s = slotAllocRun(UNIT_SLOTS);
    if (s == 0) {
      hostFailure();
      return false;
    }
    const a = slotAddr(s - 1);
    store<usize>(a, unitFree);
    unitFree = a;
    unitFreeCount++;
    unitCount++;
  }
  return true;
}

function unitTake(): usize {
  const a = unitFree;
  unitFree = load<usize>(a);
  unitFreeCount--;
  return a;
}

function unitGive(a: usize): void {
  store<usize>(a, unitFree);
  unitFree = a;
  unitFreeCount++;
}

/** The bits of [pos, end) in pos's 64-bit word. */
@inline
function wordMask(pos: u64, end: u64): u64 {
  const bo = pos & 63;
  const n = min<u64>(64 - bo, end - pos);
  return (n == 64 ? ~(<u64>0) : (<u64>1 << n) - 1) << bo;
}

/** Set (used) or clear bits [a, b) of the bitmap at bm. */
function setBits(bm: usize, a: u64, b: u64, used: bool): void {
  let pos = a;
  while (pos < b) {
    const bo = pos & 63;
    if (bo == 0 && b - pos >= 64) {
      const words = (b - pos) >> 6;
      memory.fill(bm + (<usize>(pos >> 6) << 3), used ? 0xff : 0, <usize>(words << 3));
      pos += words << 6;
      continue;
    }
    const mask = wordMask(pos, b);
    const w = bm + (<usize>(pos >> 6) << 3);
    store<u64>(w, used ? load<u64>(w) | mask : load<u64>(w) & ~mask);
    pos = (pos | 63) + 1;
  }
}

/** Pages of block k in [lo, hi) (offsets in its chunk). */
@inline
function blockPart(k: u32, lo: u64, hi: u64): u64 {
  return min<u64>(hi, (<u64>k + 1) << 9) - max<u64>(lo, <u64>k << 9);
}

/** Block k's free count less (used) or plus d. */
@inline
function countAdd(cnt: usize, k: u32, d: u64, used: bool): void {
  const ca = cnt + (<usize>k << 1);
  store<u16>(ca, used ? <u16>(<u64>load<u16>(ca) - d) : <u16>(<u64>load<u16>(ca) + d));
}

/** Free counts of blocks [a, b) set to v, eight at a time. */
function fillCounts(cnt: usize, a: u32, b: u32, v: u16): void {
  if (v == 0) {
    memory.fill(cnt + (<usize>a << 1), 0, <usize>(b - a) << 1);
    return;
  }
  const v8 = i16x8.splat(<i16>v);
  let k = a;
  for (; k + 8 <= b; k += 8) v128.store(cnt + (<usize>k << 1), v8);
  for (; k < b; k++) store<u16>(cnt + (<usize>k << 1), v);
}

/** A wholly free chunk's block k as it materialises: its count its pages in [lo, hi) (the range), and bits kept when that is part of it (1 outside). */
function edgeBlock(u: usize, k: u32, lo: u64, hi: u64): void {
  const n = blockPart(k, lo, hi);
  store<u16>(u + UNIT_COUNTS + (<usize>k << 1), <u16>n);
  if (n == 0 || n == 512) return;
  const s = <u64>k << 9;
  memory.fill(u + (<usize>k << 6), 0, 64);
  setBits(u, s, max<u64>(lo, s), true);
  setBits(u, min<u64>(hi, s + 512), s + 512, true);
}

/** Block k's bits as its count says when they are not kept (count 0: all set, 512: all clear), before a part of it changes. */
@inline
function keepBits(u: usize, k: u32): void {
  const n = load<u16>(u + UNIT_COUNTS + (<usize>k << 1));
  if (n == 0 || n == 512) memory.fill(u + (<usize>k << 6), n == 0 ? 0xff : 0, 64);
}

/** Chunk c's unit, made from its count if it has none (wholly free or wholly used); a unit must be reserved. */
function materialise(r: Range, c: u32): usize {
  const have = chunkUnit(r, c);
  if (have != 0) return have;
  const u = unitTake();
  const cnt = u + UNIT_COUNTS;
  // wholly used: every count 0 (no bits kept)
  memory.fill(cnt, 0, <usize>BLOCKS << 1);
  if (chunkFree(r, c) != 0) {
    const b = chunkBase(r, c);
    const lo = max<u64>(r.start, b) - b;
    const hi = min<u64>(r.end, b + CHUNK) - b;
    // each block's pages in the range: none outside it, all for those wholly inside, the two end blocks their part
    const k0 = <u32>(lo >> 9);
    const k1 = <u32>((hi + 511) >> 9);
    fillCounts(cnt, k0, k1, 512);
    edgeBlock(u, k0, lo, hi);
    if (k1 - 1 != k0) edgeBlock(u, k1 - 1, lo, hi);
    if (r.gap != 0) gapCounts(r, cnt, b);
  }
  store<u32>(chunkAt(r, c), <u32>u, 4);
  return u;
}

/** A gapped run's gaps in the chunk at pfn b (whole 2 MiB blocks) counted 0: none of their pages is free. */
function gapCounts(r: Range, cnt: usize, b: u64): void {
  const bs = <u64>1 << <u64>r.shift;
  // the first block meeting the chunk, then one gap a block (blocks align to 2^shift, chunks to 2^18)
  let blk = max<u64>(r.start, (b >> <u64>r.shift) << <u64>r.shift);
  const e = min<u64>(r.end, b + CHUNK);
  while (blk < e) {
    const g0 = max<u64>(blk, b);
    const g1 = min<u64>(blk + <u64>r.gap, e);
    if (g1 > g0) fillCounts(cnt, <u32>((g0 - b) >> 9), <u32>((g1 - b) >> 9), 0);
    blk += bs;
  }
}

/** Block k's part of [lo, hi) marked used or free: its count, and its bits unless the whole block changes. */
function markBlock(u: usize, k: u32, lo: u64, hi: u64, used: bool): void {
  const d = blockPart(k, lo, hi);
  if (d != 512) {
    keepBits(u, k);
    setBits(u, max<u64>(lo, <u64>k << 9), min<u64>(hi, (<u64>k + 1) << 9), used);
  }
  countAdd(u + UNIT_COUNTS, k, d, used);
}

/** Mark pages [pfn, pfn + n) of r used or free, chunk by chunk (units reserved: at most the two end chunks materialise). */
function mark(r: Range, pfn: u64, n: u64, used: bool): void {
  let p = pfn;
  const end = pfn + n;
  while (p < end) {
    const c = chunkOf(r, p);
    const b = chunkBase(r, c);
    const q = min<u64>(end, b + CHUNK);
    const cap = chunkCap(r, c);
    const at = chunkAt(r, c);
    const f = used ? chunkFree(r, c) - (q - p) : chunkFree(r, c) + (q - p);
    if (f == 0 || f == cap) {
      // wholly used or wholly free now: its count says it all
      const u = chunkUnit(r, c);
      if (u != 0) unitGive(u);
      store<u32>(at, <u32>f);
      store<u32>(at, 0, 4);
    } else {
      const u = materialise(r, c);
      const cnt = u + UNIT_COUNTS;
      const lo = p - b;
      const hi = q - b;
      const k0 = <u32>(lo >> 9);
      const k1 = <u32>((hi + 511) >> 9);
      // the blocks between the two end ones change wholly (they were all free, or all used): counts alone
      if (k1 > k0 + 2) fillCounts(cnt, k0 + 1, k1 - 1, used ? 0 : 512);
      markBlock(u, k0, lo, hi, used);
      if (k1 - 1 != k0) markBlock(u, k1 - 1, lo, hi, used);
      store<u32>(at, <u32>f);
    }
    p = q;
  }
}

/** Are all pages [pfn, pfn + n) of r used (or, with `used` false, free)? */
function allAre(r: Range, pfn: u64, n: u64, used: bool): bool {
  let p = pfn;
  const end = pfn + n;
  while (p < end) {
    const c = chunkOf(r, p);
    const b = chunkBase(r, c);
    const q = min<u64>(end, b + CHUNK);
    const f = chunkFree(r, c);
    const cap = chunkCap(r, c);
    if (f != (used ? 0 : cap)) {
      if (f == (used ? cap : 0)) return false;
      if (!unitAllAre(chunkUnit(r, c), p - b, q - b, used)) return false;
    }
    p = q;
  }
  return true;
}

/** Are bits [a, e) of unit u all set (used) or all clear? Blocks by their counts (whole ones eight at a time), bits only for part of a block whose bits are kept. */
function unitAllAre(u: usize, a: u64, e: u64, used: bool): bool {
  const cnt = u + UNIT_COUNTS;
  const want: u64 = used ? 0 : 512;
  const want8 = i16x8.splat(<i16>want);
  let pos = a;
  while (pos < e) {
    if ((pos & 511) == 0 && e - pos >= 512) {
      let k = pos >> 9;
      const kEnd = e >> 9;
      for (; k + 8 <= kEnd; k += 8) if (v128.any_true(v128.xor(v128.load(cnt + (<usize>k << 1)), want8))) return false;
      for (; k < kEnd; k++) if (<u64>load<u16>(cnt + (<usize>k << 1)) != want) return false;
      pos = kEnd << 9;
      continue;
    }
    // part of a block: its count when its bits are not kept, else its bits
    const be = min<u64>(e, ((pos >> 9) + 1) << 9);
    const n = load<u16>(cnt + (<usize>(pos >> 9) << 1));
    if (n == 0 || n == 512) {
      if ((n == 0) != used) return false;
      pos = be;
      continue;
    }
    while (pos < be) {
      const mask = wordMask(pos, be);
      const v = load<u64>(u + (<usize>(pos >> 6) << 3)) & mask;
      if (used ? v != mask : v != 0) return false;
      pos = (pos | 63) + 1;
    }
  }
  return true;
}

/** Offset in the chunk of the lowest free aligned 2^order (<= 9) pages in a block from blk on, or -1. */
function findSmall(u: usize, blk: u32, order: i32): i64 {
  const need = <u32>(1 << order);
  const cnt = u + UNIT_COUNTS;
  for (let b = blk; b < BLOCKS; b++) {
    const nf = <u32>load<u16>(cnt + (<usize>b << 1));
    if (nf < need) continue;
    const base = <i64>b << 9;
    // all free: its bits are not kept, and its first page starts the lowest block of any order up to 9
    if (nf == 512) return base;
    const w = u + (<usize>b << 6);
    if (order == 0) {
      for (let i: i32 = 0; i < 8; i++) {
        const v = load<u64>(w + (<usize>i << 3));
        if (v != ~(<u64>0)) return base + (<i64>i << 6) + <i64>ctz<u64>(~v);
      }
    } else if (order < 6) {
      // bit j of m: pages j .. j + 2^order - 1 all free; keep only aligned j
      let aligned: u64 = 0x5555555555555555;
      if (order == 2) aligned = 0x1111111111111111;
      else if (order == 3) aligned = 0x0101010101010101;
      else if (order == 4) aligned = 0x0001000100010001;
      else if (order == 5) aligned = 0x0000000100000001;
      for (let i: i32 = 0; i < 8; i++) {
        let m = ~load<u64>(w + (<usize>i << 3));
        for (let s: u32 = 1; s < need; s <<= 1) m &= m >> <u64>s;
        m &= aligned;
        if (m != 0) return base + (<i64>i << 6) + <i64>ctz<u64>(m);
      }
    } else {
      // runs of 1, 2, 4, 8 zero words
      const nw = 1 << (order - 6);
      for (let i: i32 = 0; i < 8; i += nw) {
        let j: i32 = 0;
        while (j < nw && load<u64>(w + (<usize>(i + j) << 3)) == 0) j++;
        if (j == nw) return base + (<i64>i << 6);
      }
    }
  }
  return -1;
}

/** Offset of the lowest run of nb (aligned) wholly free blocks from block blk on, or -1. */
function findLarge(u: usize, blk: u32, nb: u32): i64 {
  const cnt = u + UNIT_COUNTS;
  let b = <u32>alignUp(<u64>blk, <u64>nb);
  while (b + nb <= BLOCKS) {
    let j: u32 = 0;
    while (j < nb && load<u16>(cnt + (<usize>(b + j) << 1)) == 512) j++;
    if (j == nb) return <i64>b << 9;
    b = <u32>alignUp(<u64>(b + j + 1), <u64>nb);
  }
  return -1;
}

/** The lowest free naturally aligned block of 2^order pages of r at or above pfn `from`, or -1. */
function findIn(r: Range, order: i32, from: u64): i64 {
  const n = <u64>1 << <u64>order;
  const lo0 = max<u64>(r.start, from);
  if (lo0 >= r.end) return -1;
  // a gapped run's blocks hold no aligned 2^order pages past their gap
  if (r.gap != 0 && alignUp(<u64>r.gap, n) + n > <u64>1 << <u64>r.shift) return -1;
  if (<u64>order > CHUNK_SHIFT) {
    // runs of whole free chunks, aligned in pfns
    const nc = n >> CHUNK_SHIFT;
    const c0 = r.start >> CHUNK_SHIFT;
    let c = alignUp((lo0 + CHUNK - 1) >> CHUNK_SHIFT, nc) - c0;
    while (c + nc <= <u64>r.nChunks) {
      let j: u64 = 0;
      while (j < nc && chunkFree(r, <u32>(c + j)) == CHUNK) j++;
      if (j == nc) return <i64>chunkBase(r, <u32>c);
      c = alignUp(c0 + c + j + 1, nc) - c0;
    }
    return -1;
  }
  for (let c = chunkOf(r, lo0); c < r.nChunks; c++) {
    const f = chunkFree(r, c);
    if (f < n) continue;
    const b = chunkBase(r, c);
    const lo = max<u64>(lo0, b);
    const hi = min<u64>(r.end, b + CHUNK);
    if (f == chunkCap(r, c)) {
      if (r.gap == 0) {
        const p = alignUp(lo, n);
        if (p + n <= hi) return <i64>p;
        continue;
      }
      // a gapped run: past the gap of lo's block, else the next block's first fit (the order fits a block)
      const bs = <u64>1 << <u64>r.shift;
      for (let bb = (lo >> <u64>r.shift) << <u64>r.shift; bb < hi; bb += bs) {
        const p = alignUp(max<u64>(lo, bb + <u64>r.gap), n);
        if (p + n <= min<u64>(hi, bb + bs)) return <i64>p;
      }
      continue;
    }
    const u = chunkUnit(r, c);
    const blk = <u32>((lo - b) >> 9);
    const at = order <= 9 ? findSmall(u, blk, order) : findLarge(u, blk, <u32>(n >> 9));
    if (at >= 0) return <i64>b + at;
  }
  return -1;
}

/** The end of the range pfn is in: its record's, or its block's in a run. */
@inline
function blockEnd(r: Range, pfn: u64): u64 {
  return r.shift == 0 ? r.end : min<u64>(r.end, ((pfn >> <u64>r.shift) + 1) << <u64>r.shift);
}

/** The range index found by the last search. */
let foundRange: u32 = 0;

/** The pfn the next allocPages(order, flags) would take (its range in foundRange), moving hints; or -1. */
function search(order: i32, flags: u32): i64 {
  for (let i: u32 = 0; i < zlLen; i++) {
    const nid = load<u32>(zonelist + (<usize>i << 2));
    // a movable allocation tries the node's ZONE_MOVABLE first, then ZONE_NORMAL
    for (let pass: u32 = 0; pass < ((flags & ALLOC_MOVABLE) != 0 ? <u32>2 : <u32>1); pass++) {
      const cls: u32 = (flags & ALLOC_MOVABLE) != 0 ? 1 - pass : 0;
      const h = hintAt(nid, cls, order);
      const from = load<u64>(h);
      if (from != NO_HINT) {
        for (let k = firstEndingAbove(from); k < nRanges; k++) {
          const r = range(k);
          if (r.node != nid || r.movable != cls) continue;
          // a run's blocks are ranges of their own: nothing larger than a block comes from it
          if (r.shift != 0 && <u32>order > r.shift) continue;
          const pfn = findIn(r, order, from);
          if (pfn >= 0) {
            store<u64>(h, <u64>pfn);
            foundRange = k;
            return pfn;
          }
        }
      }
      store<u64>(h, NO_HINT);
    }
  }
  return -1;
}

@inline
function purposeAdd(purpose: i32, delta: i64, nid: u32): void {
  const nt = nodeAt(nid);
  store<u64>(nt + NODE_FREE, load<u64>(nt + NODE_FREE) - <u64>delta);
  freeCount -= <u64>delta;
  if (purpose >= 0 && purpose < PURPOSES) {
    const at = CTL_PURPOSE + (<usize>purpose << 3);
    store<i64>(at, load<i64>(at) + delta);
    const an = nt + NODE_PURPOSE + (<usize>purpose << 3);
    store<i64>(an, load<i64>(an) + delta);
  }
}

/** Take [pfn, pfn + n) of range k for purpose (units reserved). */
function take(k: u32, pfn: u64, n: u64, purpose: i32): void {
  const r = range(k);
  mark(r, pfn, n, true);
  purposeAdd(purpose, <i64>n, r.node);
  // Frees discard; this also covers bytes a host wrote into free RAM.
  discardFrames(pfn, pfn + n);
}

/** pfn of the lowest free naturally aligned block of 2^order pages, or -ENOMEM (-EINVAL for bad flags). The block reads as zero. */
export function allocPages(order: i32, purpose: i32, flags: u32 = 0): i64 {
  if ((flags & ~ALLOC_MOVABLE) != 0) return EINVAL;
  if (faultFires(FAULT_DRAM_ALLOC)) return ENOMEM;
  if (order < 0 || order > MAX_ORDER) return ENOMEM;
  if (!unitsReserve(2)) return ENOMEM;
  const pfn = search(order, flags);
  if (pfn < 0) return ENOMEM;
  take(foundRange, <u64>pfn, <u64>1 << <u64>order, purpose);
  return pfn;
}

/**
 * `count` allocPages(order, purpose, flags) at once when they would return one contiguous run p,
 * p + 2^order, ... (p the lowest block and the run free, in p's range): p; else -1 and nothing changes
 * (the caller loops), also while a fault is armed (each single call is then an attempt). -EINVAL for bad
 * arguments. O(chunks spanned).
 */
export function allocPagesRun(order: i32, count: u64, purpose: i32, flags: u32): i64 {
  if ((flags & ~ALLOC_MOVABLE) != 0 || order < 0 || order > MAX_ORDER || count == 0 || count > (DRAM_MAX_PFN >> <u64>order)) return EINVAL;
  // with a fault armed each single call is an attempt: the caller makes them
  if (faultsArmed() || !unitsReserve(2)) return -1;
  const pfn = search(order, flags);
  if (pfn < 0) return -1;
  const n = count << <u64>order;
  const r = range(foundRange);
  if (<u64>pfn + n > blockEnd(r, <u64>pfn) || !allAre(r, <u64>pfn, n, false)) return -1;
  take(foundRange, <u64>pfn, n, purpose);
  return pfn;
}

/** Give a block back: 0, or a Bug event and -EFAULT when any page is not allocated DRAM (nothing changes); -ENOMEM when out of host room. */
export function freePages(pfn: u64, order: i32, purpose: i32): i32 {
  const k = <u64>1 << <u64>(order & 63);
  const i = order >= 0 && order <= MAX_ORDER ? firstEndingAbove(pfn) : nRanges;
  if (i >= nRanges || pfn < range(i).start || pfn < blockStart(range(i), pfn) || pfn + k > blockEnd(range(i), pfn) || pfn + k < pfn || !allAre(range(i), pfn, k, true)) {
    emit(EVENT_BUG, pfn, <u64>order, 0, 0);
    return EFAULT;
  }
  if (!unitsReserve(2)) return ENOMEM;
  const r = range(i);
  mark(r, pfn, k, false);
  const nid = r.node;
  purposeAdd(purpose, -<i64>k, nid);
  // a free can only complete a block of order o that starts at pfn aligned down to 2^o; past the freed order,
  // none of 2 MiB or more while its 2 MiB block (of 1 GiB or more while its chunk) is partly used
  const b0 = pfn & ~(<u64>511);
  const wholeBlock = order >= 9 || (b0 >= r.start && b0 + 512 <= r.end && allAre(r, b0, 512, false));
  const wholeChunk = <u64>order >= CHUNK_SHIFT || chunkFree(r, chunkOf(r, pfn)) == CHUNK;
  for (let o: i32 = 0; o <= MAX_ORDER; o++) {
    if ((o >= 9 && !wholeBlock) || (<u64>o >= CHUNK_SHIFT && !wholeChunk)) break;
    const s = pfn & ~((<u64>1 << <u64>o) - 1);
    const at = hintAt(nid, r.movable, o);
    if (load<u64>(at) > s) store<u64>(at, s);
  }
  discardFrames(pfn, pfn + k);
  return 0;
}

/**
 * n order-0 pages [pfn, pfn + n) back at once, as n freePages(p, 0, purpose) calls that all succeed
 * would leave the allocator (its hints only ever lower bounds): 0; -EFAULT, nothing changed and no Bug
 * event, when any page is not allocated DRAM of one range (the caller frees them one by one, as the
 * kernel does); -ENOMEM when out of host room. A compound run's release (compoundrun.ts).
 */
export function freePagesRun(pfn: u64, n: u64, purpose: i32): i32 {
  const i = n != 0 ? firstEndingAbove(pfn) : nRanges;
  if (i >= nRanges || pfn < range(i).start || pfn < blockStart(range(i), pfn) || pfn + n > blockEnd(range(i), pfn) || !allAre(range(i), pfn, n, true)) return EFAULT;
  if (!unitsReserve(2)) return ENOMEM;
  const r = range(i);
  mark(r, pfn, n, false);
  purposeAdd(purpose, -<i64>n, r.node);
  for (let o: i32 = 0; o <= MAX_ORDER; o++) {
    const s = pfn & ~((<u64>1 << <u64>o) - 1);
    const at = hintAt(r.node, r.movable, o);
    if (load<u64>(at) > s) store<u64>(at, s);
  }
  discardFrames(pfn, pfn + n);
  return 0;
}

/** n allocated pages of the range holding pfn move from one purpose's count to another's (an allocPagesRun that served two purposes). */
export function purposeMove(pfn: u64, n: u64, from: i32, to: i32): void {
  const i = firstEndingAbove(pfn);
  if (i >= nRanges) return;
  const nid = range(i).node;
  purposeAdd(from, -<i64>n, nid);
  purposeAdd(to, <i64>n, nid);
}

// ---- ranges: boot, hot-add, hot-remove ----
/** Insert the range [s, e) (disjoint from all; a run of 2^shift-page blocks, gapped by gap) with all pages free. 0 or -ENOMEM (nothing changes). */
function insertRange(s: u64, e: u64, nid: u32, movable: u32, shift: u32 = 0, gap: u32 = 0): i32 {
  const nChunks = <u32>(((e - 1) >> CHUNK_SHIFT) - (s >> CHUNK_SHIFT) + 1);
  const slots = nChunks <= INLINE_CHUNKS ? 0 : <u32>((<u64>nChunks * 8 + 4095) >> 12);
  if (!rangeTableRoom(1)) return ENOMEM;
  const cs = slots ? slotAllocRun(slots) : 1;
  if (cs == 0) {
    hostFailure();
    return ENOMEM;
  }
  metaSlots += slots;
  const i = firstEndingAbove(s);
  if (i < nRanges) memory.copy(ranges + <usize>(i + 1) * RANGE_REC, ranges + <usize>i * RANGE_REC, <usize>(nRanges - i) * RANGE_REC);
  nRanges++;
  const r = range(i);
  r.start = s;
  r.end = e;
  r.chunks = slots ? <u32>slotAddr(cs - 1) : 0;
  r.nChunks = nChunks;
  r.node = nid;
  r.movable = movable;
  r.slots = slots;
  r.shift = shift;
  r.gap = gap;
  r.pad = 0;
  // free count and no unit (an inline table's words still hold the record that was shifted up): every
  // chunk whole, two records at a time, then the two end ones as the range cuts them
  const t = chunkAt(r, 0);
  const whole = i64x2.splat(<i64>CHUNK);
  let c: u32 = 0;
  for (; c + 2 <= nChunks; c += 2) v128.store(t + (<usize>c << 3), whole);
  if (c < nChunks) store<u64>(t + (<usize>c << 3), CHUNK);
  store<u64>(t, chunkCap(r, 0));
  store<u64>(t + (<usize>(nChunks - 1) << 3), chunkCap(r, nChunks - 1));
  // a gapped run's gaps in every chunk they meet
  if (gap != 0) for (c = 0; c < nChunks; c++) store<u64>(t + (<usize>c << 3), chunkCap(r, c));
  const pages = rangePages(r);
  if (nid >= nNodes) nNodes = nid + 1;
  const nt = nodeAt(nid);
  store<u64>(nt + NODE_TOTAL, load<u64>(nt + NODE_TOTAL) + pages);
  store<u64>(nt + NODE_FREE, load<u64>(nt + NODE_FREE) + pages);
  totalPages += pages;
  freeCount += pages;
  // its free blocks may lie below any hint of its class
  for (let o: i32 = 0; o <= MAX_ORDER; o++) {
    const at = hintAt(nid, movable, o);
    if (load<u64>(at) > s) store<u64>(at, s);
  }
  return 0;
}

/**
 * Stage n RAM ranges [start, end) and their nodes given as f64 triples in IO as boot ranges first.. (at
 * DYN), before dramInit: the host sends as many batches as the machine has ranges. 0, -ENOMEM, or
 * -EINVAL for a node that is not an integer below MAX_NUMNODES.
 */
export function dramStageRanges(first: u32, n: u32): i32 {
  if (!ensureMemory(<u64>DYN + (<u64>first + <u64>n) * STAGE_REC)) return ENOMEM;
  for (let k: u32 = 0; k < n; k++) {
    const input = changetype<RangeInput>(IO + <usize>k * offsetof<RangeInput>());
    const fs = input.start;
    const fe = input.end;
    const fn = input.node;
    if (!(fn >= 0 && fn < <f64>MAX_NUMNODES && fn == Math.floor(fn))) return EINVAL;
    const ok = fs >= 0 && fe > fs && fe <= 1.8446744073709552e19;
    const a = changetype<Staged>(DYN + <usize>(first + k) * STAGE_REC);
    a.start = ok ? <u64>fs : 0;
    a.end = ok ? <u64>fe : 0;
    a.node = <u64>fn;
  }
  return 0;
}

/** The first byte after n staged ranges, page-aligned (the pool starts there). */
export function dramStagedEnd(n: u32): usize {
  return (DYN + <usize>n * STAGE_REC + 4095) & ~(<usize>4095);
}

/**
 * Set up the allocator over the n RAM ranges staged by dramStageRanges (empty ones are dropped), its
 * tables from the pool (poolInit first). 0, or -ENOMEM (unsorted or overlapping ranges, RAM at or above
 * DRAM_MAX_PFN, no room).
 */
export function dramInit(n: u32): i32 {
  if (!ensureMemory(<u64>DYN + <u64>n * STAGE_REC)) return ENOMEM;
  const ns = <u32>((<u64>MAX_NUMNODES * NODE_REC + 4095) >> 12);
  const t = slotAllocRun(ns + 1);
  if (t == 0) return ENOMEM;
  metaSlots += ns + 1;
  nodes = slotAddr(t - 1);
  zonelist = nodes + (<usize>ns << 12);
  let maxNode: u32 = 0;
  let end: u64 = 0;
  for (let k: u32 = 0; k < n; k++) {
    const a = changetype<Staged>(DYN + <usize>k * STAGE_REC);
    if (!(a.end > a.start)) continue;
    if (a.start < end || a.end > DRAM_MAX_PFN) return ENOMEM;
    end = a.end;
    if (<u32>a.node > maxNode) maxNode = <u32>a.node;
    if (insertRange(a.start, a.end, <u32>a.node, 0) < 0) return ENOMEM;
  }
  nNodes = maxNode + 1;
  // until the host sets one: every node, by id
  for (let i: u32 = 0; i < nNodes; i++) store<u32>(zonelist + (<usize>i << 2), i);
  zlLen = nNodes;
  return 0;
}

/** Does any range the allocator holds meet [s, e) (a gapped run's gaps are none)? */
function heldIn(s: u64, e: u64): bool {
  for (let k = firstEndingAbove(s); k < nRanges; k++) {
    const r = range(k);
    if (r.start >= e) return false;
    if (r.gap == 0) return true;
    const a = max<u64>(s, r.start);
    const b = min<u64>(e, r.end);
    if (b - a > gapBelow(r, b) - gapBelow(r, a)) return true;
  }
  return false;
}

/**
 * The block of gapped run i holding gap pfn x made a range record of its own, [b + gap, b + 2^shift): room
 * for a range hot-added into its gap. Nothing an allocation sees changes. 0, or -ENOMEM.
 */
function openGap(i: u32, x: u64): i32 {
  const r0 = range(i);
  const b = (x >> <u64>r0.shift) << <u64>r0.shift;
  const k = rangeIsolate(i, b, b + (<u64>1 << <u64>r0.shift));
  if (k < 0) return ENOMEM;
  const r = range(<u32>k);
  const s = b + <u64>r.gap;
  // the chunks wholly in the gap (free 0, no unit) leave its table; the rest reads alike (gap pages as used)
  const d = <u32>((s >> CHUNK_SHIFT) - (b >> CHUNK_SHIFT));
  if (d != 0) {
    memory.copy(chunkAt(r, 0), chunkAt(r, d), <usize>(r.nChunks - d) << 3);
    r.nChunks -= d;
  }
  r.start = s;
  r.shift = 0;
  r.gap = 0;
  return 0;
}

/** Hot-add: RAM [s, e) of node nid joins the allocator, all free (ZONE_MOVABLE when movable). 0, -EINVAL, or -ENOMEM (host room). */
export function dramAddRange(s: u64, e: u64, nid: u32, movable: u32): i32 {
  if (!(e > s) || e > DRAM_MAX_PFN || nid >= MAX_NUMNODES || movable > 1) return EINVAL;
  const i = firstEndingAbove(s);
  if (i < nRanges && range(i).start < e) {
    if (heldIn(s, e)) return EINVAL;
    // it meets only the gap of a gapped run's block (one at most): that block a record of its own first
    if (openGap(i, max<u64>(s, range(i).start)) != 0) return ENOMEM;
  }
  return insertRange(s, e, nid, movable);
}

/** Room in the range table for n more records (grown by doubling). False (a host failure) when out of room; nothing changes. */
function rangeTableRoom(n: u32): bool {
  if (nRanges + n <= rangeCap) return true;
  let cap = rangeCap == 0 ? <u32>(4096 / <u32>RANGE_REC) : rangeCap;
  while (cap < nRanges + n) cap *= 2;
  const ns = <u32>((<u64>cap * RANGE_REC + 4095) >> 12);
  const a = slotsMove(ranges, rangeSlots, <usize>nRanges * RANGE_REC, ns);
  if (a == 0) {
    hostFailure();
    return false;
  }
  metaSlots += <u64>ns - <u64>rangeSlots;
  ranges = a;
  rangeCap = cap;
  rangeSlots = ns;
  return true;
}

/**
 * Hot-add `count` ranges at once: [s + i * stride, s + i * stride + len) for i < count, of node nid, all
 * free, as count dramAddRange calls in address order would (a run of memory blocks onlined together).
 * Adjacent blocks of 2^k pages (len = stride, s aligned to it) are one record, a run (Range.shift); others
 * one record each. All or nothing: 0, -EINVAL (bad arguments, len > stride, or any range the allocator
 * holds inside the span), -ENOMEM (host room).
 */
export function dramAddRanges(s: u64, len: u64, count: u64, stride: u64, nid: u32, movable: u32): i32 {
  if (count == 0 || len == 0 || len > stride || nid >= MAX_NUMNODES || movable > 1) return EINVAL;
  if (s >= DRAM_MAX_PFN || (count - 1) > (DRAM_MAX_PFN - s) / stride) return EINVAL;
  const last = s + (count - 1) * stride;
  if (last + len > DRAM_MAX_PFN) return EINVAL;
  if (heldIn(s, last + len)) return EINVAL;
  const i = firstEndingAbove(s);
  if (i < nRanges && range(i).start < last + len) {
    // only gaps of gapped runs inside the span: range by range, each opening its block (dramAddRange)
    for (let k: u64 = 0; k < count; k++) {
      const err = dramAddRange(s + k * stride, s + k * stride + len, nid, movable);
      if (err != 0) {
        for (let j: u64 = 0; j < k; j++) dramRemoveRange(s + j * stride, s + j * stride + len);
        return err;
      }
    }
    return 0;
  }
  if (count == 1) return insertRange(s, s + len, nid, movable);
  if (len == stride && stride >= 2 && popcnt<u64>(stride) == 1 && (s & (stride - 1)) == 0) {
    // one record for the run
    return insertRange(s, s + count * stride, nid, movable, <u32>ctz<u64>(stride));
  }
  const gap = stride - len;
  if (gap != 0 && s >= gap && popcnt<u64>(stride) == 1 && (gap & 511) == 0 && ((s - gap) & (stride - 1)) == 0 && stride <= DRAM_MAX_PFN && (i == 0 || range(i - 1).end <= s - gap)) {
    // one record for the run, each block's first gap pages (its memmap, memmap_on_memory) left out: a gapped run
    return insertRange(s - gap, last + len, nid, movable, <u32>ctz<u64>(stride), <u32>gap);
  }
  // the most chunks one of them spans: the first's when every start sits alike in its chunk
  const maxChunks = stride % CHUNK == 0 ? ((s + len - 1) >> CHUNK_SHIFT) - (s >> CHUNK_SHIFT) + 1 : ((len + CHUNK - 2) >> CHUNK_SHIFT) + 1;
  if (<u64>nRanges + count > 0x7fffffff) {
    hostFailure();
    return ENOMEM;
  }
  // ranges whose chunk table needs a slot of its own go one by one
  if (maxChunks > <u64>INLINE_CHUNKS) {
    for (let k: u64 = 0; k < count; k++) {
      const err = insertRange(s + k * stride, s + k * stride + len, nid, movable);
      if (err != 0) {
        for (let j: u64 = 0; j < k; j++) dramRemoveRange(s + j * stride, s + j * stride + len);
        return err;
      }
    }
    return 0;
  }
  const n = <u32>count;
  if (!rangeTableRoom(n)) return ENOMEM;
  if (i < nRanges) memory.copy(ranges + <usize>(i + n) * RANGE_REC, ranges + <usize>i * RANGE_REC, <usize>(nRanges - i) * RANGE_REC);
  nRanges += n;
  for (let k: u32 = 0; k < n; k++) {
    const r = range(i + k);
    const rs = s + <u64>k * stride;
    r.start = rs;
    r.end = rs + len;
    r.chunks = 0;
    r.nChunks = <u32>(((rs + len - 1) >> CHUNK_SHIFT) - (rs >> CHUNK_SHIFT) + 1);
    r.node = nid;
    r.movable = movable;
    r.slots = 0;
    r.shift = 0;
    r.inline0 = 0;
    r.inline1 = 0;
    for (let c: u32 = 0; c < r.nChunks; c++) store<u32>(chunkAt(r, c), <u32>chunkCap(r, c));
  }
  if (nid >= nNodes) nNodes = nid + 1;
  const pages = <u64>n * len;
  const nt = nodeAt(nid);
  store<u64>(nt + NODE_TOTAL, load<u64>(nt + NODE_TOTAL) + pages);
  store<u64>(nt + NODE_FREE, load<u64>(nt + NODE_FREE) + pages);
  totalPages += pages;
  freeCount += pages;
  // their free blocks may lie below any hint of their class: the first one's start is the lowest
  for (let o: i32 = 0; o <= MAX_ORDER; o++) {
    const at = hintAt(nid, movable, o);
    if (load<u64>(at) > s) store<u64>(at, s);
  }
  return 0;
}

/** Mask a unit to pages [lo, hi) of its chunk (the rest reads as used) and recount its 2 MiB blocks; its free pages. */
function unitClip(u: usize, lo: u64, hi: u64): u64 {
  // the bits of whole blocks first (a block of count 0 or 512 keeps none): the recount below reads bits
  for (let k: u32 = 0; k < BLOCKS; k++) keepBits(u, k);
  setBits(u, 0, lo, true);
  setBits(u, hi, CHUNK, true);
  const cnt = u + UNIT_COUNTS;
  let free: u64 = 0;
  for (let b: u32 = 0; b < BLOCKS; b++) {
    const w = u + (<usize>b << 6);
    let used: u64 = 0;
    for (let k: u32 = 0; k < 8; k++) used += popcnt<u64>(load<u64>(w + (<usize>k << 3)));
    store<u16>(cnt + (<usize>b << 1), <u16>(512 - used));
    free += 512 - used;
  }
  return free;
}

/**
 * Split run i at pfn x (inside it, on its block grid) into two runs, [start, x) at i and [x, end) at i + 1:
 * what a hot-remove of blocks inside a run leaves. Nothing an allocation sees changes. 0, or -ENOMEM (host
 * room; nothing changes).
 */
function rangeSplit(i: u32, x: u64): i32 {
  const r0 = range(i);
  const start = r0.start;
  const end = r0.end;
  const nChunks = r0.nChunks;
  const c0 = start >> CHUNK_SHIFT;
  // left: chunks [0, cl); right: chunks [co, nChunks) of the old table (co = cl - 1 when they share one)
  const cl = <u32>(((x - 1) >> CHUNK_SHIFT) - c0 + 1);
  const co = <u32>((x >> CHUNK_SHIFT) - c0);
  const cr = nChunks - co;
  const shared = co + 1 == cl;
  const sharedUnit = shared ? chunkUnit(r0, co) : 0;
  // everything that can fail first
  if (!rangeTableRoom(1)) return ENOMEM;
  if (sharedUnit != 0 && !unitsReserve(1)) return ENOMEM;
  const rslots = cr <= INLINE_CHUNKS ? 0 : <u32>((<u64>cr * 8 + 4095) >> 12);
  const rs = rslots ? slotAllocRun(rslots) : 1;
  if (rs == 0) {
    hostFailure();
    return ENOMEM;
  }
  metaSlots += rslots;
  // open place i + 1 (inline tables move with their records)
  if (i + 1 < nRanges) memory.copy(ranges + <usize>(i + 2) * RANGE_REC, ranges + <usize>(i + 1) * RANGE_REC, <usize>(nRanges - i - 1) * RANGE_REC);
  nRanges++;
  const l = range(i);
  const r = range(i + 1);
  r.start = x;
  r.end = end;
  r.nChunks = cr;
  r.node = l.node;
  r.movable = l.movable;
  r.shift = l.shift;
  r.gap = l.gap;
  r.pad = 0;
  r.slots = rslots;
  r.chunks = rslots ? <u32>slotAddr(rs - 1) : 0;
  r.inline0 = 0;
  r.inline1 = 0;
  for (let c: u32 = 0; c < cr; c++) store<u64>(chunkAt(r, c), load<u64>(chunkAt(l, co + c)));
  // the left keeps its table (a prefix), inline when it now fits and the old one was its own slots
  l.end = x;
  l.nChunks = cl;
  if (l.slots != 0 && cl <= INLINE_CHUNKS) {
    const t = <usize>l.chunks;
    const first = <u32>((t - slotAddr(0)) >> 12);
    const n = l.slots;
    l.inline0 = load<u64>(t);
    l.inline1 = cl > 1 ? load<u64>(t, 8) : 0;
    l.slots = 0;
    l.chunks = 0;
    for (let j: u32 = 0; j < n; j++) slotFree(first + j);
    metaSlots -= n;
  }
  if (shared) {
    const cb = (c0 + <u64>co) << CHUNK_SHIFT;
    const la = chunkAt(l, cl - 1);
    const ra = chunkAt(r, 0);
    if (sharedUnit == 0) {
      // wholly free or wholly used: each side's part of it alike
      const used = load<u32>(la) == 0;
      store<u32>(la, used ? 0 : <u32>chunkCap(l, cl - 1));
      store<u32>(ra, used ? 0 : <u32>chunkCap(r, 0));
    } else {
      const u2 = unitTake();
      memory.copy(u2, sharedUnit, <usize>(CHUNK >> 3) + (<usize>BLOCKS << 1));
      const lf = unitClip(sharedUnit, max<u64>(start, cb) - cb, x - cb);
      const rf = unitClip(u2, x - cb, min<u64>(end, cb + CHUNK) - cb);
      store<u32>(la, <u32>lf);
      store<u32>(ra, <u32>rf);
      if (lf == 0 || lf == chunkCap(l, cl - 1)) {
        unitGive(sharedUnit);
        store<u32>(la, 0, 4);
      }
      if (rf == 0 || rf == chunkCap(r, 0)) unitGive(u2);
      else store<u32>(ra, <u32>u2, 4);
      if (rf == 0 || rf == chunkCap(r, 0)) store<u32>(ra, 0, 4);
    }
  }
  return 0;
}

/** Where range [s, e) is held: the index of its record (one range, or a block of a run), or -1. */
function rangeAt(s: u64, e: u64): i64 {
  const i = firstEndingAbove(s);
  if (i >= nRanges) return -1;
  const r = range(i);
  if (r.gap == 0 && r.start == s && r.end == e && (r.shift == 0 || e - s == <u64>1 << <u64>r.shift)) return i;
  // a block of a run: [b + gap, b + 2^shift)
  const g = <u64>r.gap;
  const bs = <u64>1 << <u64>r.shift;
  if (r.shift == 0 || e - s + g != bs || s < r.start + g || e > r.end || ((s - g - r.start) & (bs - 1)) != 0) return -1;
  return i;
}

/** How many of n blocks [p + i * stride, + len) from p the gapped run holding p holds (it holds p's): 1 when it is no such run. */
function heldBlocks(p: u64, len: u64, stride: u64, n: u64): u64 {
  const i = firstEndingAbove(p);
  if (i >= nRanges) return 1;
  const r = range(i);
  if (r.gap == 0 || <u64>r.gap != stride - len || <u64>1 << <u64>r.shift != stride || p < r.start + <u64>r.gap) return 1;
  return max<u64>(1, min<u64>(n, (r.end - (p - <u64>r.gap)) >> <u64>r.shift));
}

/** Are all pages of gapped run r's blocks in [a, b) (on its block grid) free? Chunks by their counts, blocks where a chunk is cut. */
function runFree(r: Range, a: u64, b: u64): bool {
  const bs = <u64>1 << <u64>r.shift;
  let p = a;
  while (p < b) {
    const c = chunkOf(r, p);
    const cb = chunkBase(r, c);
    const q = min<u64>(b, cb + CHUNK);
    if (p <= max<u64>(cb, r.start) && q >= min<u64>(cb + CHUNK, r.end)) {
      if (chunkFree(r, c) != chunkCap(r, c)) return false;
    } else {
      for (let bb = p; bb < q; bb += bs) if (!allAre(r, bb + <u64>r.gap, bs - <u64>r.gap, false)) return false;
    }
    p = q;
  }
  return true;
}

/** Drop record i, wholly free: its slots, its pages from the counts. */
function rangeDrop(i: u32): void {
  const r = range(i);
  const pages = rangePages(r);
  if (r.slots != 0) {
    const first = <u32>((<usize>r.chunks - slotAddr(0)) >> 12);
    for (let j: u32 = 0; j < r.slots; j++) slotFree(first + j);
    metaSlots -= r.slots;
  }
  const nt = nodeAt(r.node);
  store<u64>(nt + NODE_TOTAL, load<u64>(nt + NODE_TOTAL) - pages);
  store<u64>(nt + NODE_FREE, load<u64>(nt + NODE_FREE) - pages);
  totalPages -= pages;
  freeCount -= pages;
  if (i + 1 < nRanges) memory.copy(ranges + <usize>i * RANGE_REC, ranges + <usize>(i + 1) * RANGE_REC, <usize>(nRanges - i - 1) * RANGE_REC);
  nRanges--;
}

/** Record i cut so that [s, e) (on its grid) is a record of its own; its index, or -ENOMEM. */
function rangeIsolate(i: u32, s: u64, e: u64): i64 {
  let k = i;
  if (range(k).start < s) {
    if (rangeSplit(k, s) != 0) return ENOMEM;
    k++;
  }
  if (range(k).end > e && rangeSplit(k, e) != 0) return ENOMEM;
  return k;
}

/**
 * Hot-remove `count` ranges at once, each exactly as held (a range, or a block of a run):
 * [s + i * stride, s + i * stride + len) for i < count. All or nothing: 0, -EINVAL (not those ranges),
 * -EBUSY (a page of one in use), -ENOMEM (host room: runs may be left split, nothing else changes).
 */
export function dramRemoveRanges(s: u64, len: u64, count: u64, stride: u64): i32 {
  if (count == 0 || len == 0 || len > stride) return EINVAL;
  if (s >= DRAM_MAX_PFN || (count - 1) > (DRAM_MAX_PFN - s) / stride) return EINVAL;
  const end = s + (count - 1) * stride + len;
  if (end > DRAM_MAX_PFN) return EINVAL;
  if (len != stride) {
    // apart: each its own record, checked first, then removed; a gapped run's blocks among them at once
    const gap = stride - len;
    for (let k: u64 = 0; k < count; k += heldBlocks(s + k * stride, len, stride, count - k)) if (rangeAt(s + k * stride, s + k * stride + len) < 0) return EINVAL;
    for (let k: u64 = 0; k < count; ) {
      const p = s + k * stride;
      const r = range(<u32>rangeAt(p, p + len));
      const n = heldBlocks(p, len, stride, count - k);
      if (n > 1 ? !runFree(r, p - gap, p - gap + n * stride) : !allAre(r, p, len, false)) return EBUSY;
      k += n;
    }
    const i1 = firstEndingAbove(s + (count - 1) * stride);
    let gapped = false;
    for (let k = firstEndingAbove(s); k <= i1; k++) gapped = gapped || range(k).gap != 0;
    if (gapped && popcnt<u64>(stride) == 1 && s >= gap) {
      // room for the cuts first: a split takes a record (a drop gives one back) and at most a unit
      if (!rangeTableRoom(2) || !unitsReserve(2)) return ENOMEM;
      for (let k = i1 + 1; k > firstEndingAbove(s); k--) {
        const r = range(k - 1);
        if (r.gap == 0) {
          // a range of its own: one of them, or another in a hole between them
          if (r.start >= s && (r.start - s) % stride == 0 && r.end == r.start + len) rangeDrop(k - 1);
          continue;
        }
        if (<u64>r.gap != gap || <u64>1 << <u64>r.shift != stride) continue;
        const a = max<u64>(r.start, s - gap);
        const b = min<u64>(r.end, end);
        const at = rangeIsolate(k - 1, a, b);
        if (at < 0) return ENOMEM;
        rangeDrop(<u32>at);
      }
      return 0;
    }
    // records of their own, one after the other in the table (memory_blocks with memmap_on_memory): one move
    const i0 = firstEndingAbove(s);
    let own = <u64>i0 + count <= <u64>nRanges;
    for (let k: u64 = 0; own && k < count; k++) {
      const r = range(i0 + <u32>k);
      own = r.start == s + k * stride && r.end == s + k * stride + len && r.shift == 0;
    }
    if (own) {
      const n = <u32>count;
      for (let k: u32 = 0; k < n; k++) {
        const r = range(i0 + k);
        if (r.slots != 0) {
          const first = <u32>((<usize>r.chunks - slotAddr(0)) >> 12);
          for (let j: u32 = 0; j < r.slots; j++) slotFree(first + j);
          metaSlots -= r.slots;
        }
        const nt = nodeAt(r.node);
        store<u64>(nt + NODE_TOTAL, load<u64>(nt + NODE_TOTAL) - len);
        store<u64>(nt + NODE_FREE, load<u64>(nt + NODE_FREE) - len);
      }
      totalPages -= <u64>n * len;
      freeCount -= <u64>n * len;
      if (i0 + n < nRanges) memory.copy(ranges + <usize>i0 * RANGE_REC, ranges + <usize>(i0 + n) * RANGE_REC, <usize>(nRanges - i0 - n) * RANGE_REC);
      nRanges -= n;
      return 0;
    }
    for (let k: u64 = 0; k < count; k++) {
      const err = dramRemoveRange(s + k * stride, s + k * stride + len);
      if (err != 0) return err;
    }
    return 0;
  }
  // adjacent: the records from s to end, each a range of len pages or a run of len-page blocks
  const i0 = firstEndingAbove(s);
  let pos = s;
  let i = i0;
  while (pos < end) {
    if (i >= nRanges) return EINVAL;
    const r = range(i);
    if (r.start > pos) return EINVAL;
    let to: u64;
    if (r.shift == 0) {
      if (r.start != pos || r.end - r.start != len || r.end > end) return EINVAL;
      to = r.end;
    } else {
      if (r.gap != 0 || <u64>1 << <u64>r.shift != len || ((pos - r.start) & (len - 1)) != 0) return EINVAL;
      to = min<u64>(r.end, end);
    }
    pos = to;
    i++;
  }
  pos = s;
  for (let k = i0; k < i; k++) {
    const r = range(k);
    const to = min<u64>(r.end, end);
    if (!allAre(r, pos, to - pos, false)) return EBUSY;
    pos = to;
  }
  // the first and the last record may reach past the span: cut them there
  const first = rangeIsolate(i0, s, min<u64>(range(i0).end, end));
  if (first < 0) return ENOMEM;
  const last = <u32>first + (i - 1 - i0);
  if (range(last).end > end && rangeSplit(last, end) != 0) return ENOMEM;
  for (let k = last + 1; k > <u32>first; k--) rangeDrop(k - 1);
  return 0;
}

/** Hot-remove exactly the range [s, e) (a range, or a block of a run): 0, -EINVAL (no such range), -EBUSY (a page of it in use; nothing changes), -ENOMEM (host room). */
export function dramRemoveRange(s: u64, e: u64): i32 {
  const at = rangeAt(s, e);
  if (at < 0) return EINVAL;
  if (!allAre(range(<u32>at), s, e - s, false)) return EBUSY;
  const k = rangeIsolate(<u32>at, s - <u64>range(<u32>at).gap, e);
  if (k < 0) return ENOMEM;
  rangeDrop(<u32>k);
  return 0;
}

/** Bytes of host memory the allocator's tables and units hold. */
export function dramHostBytes(): u64 {
  return (metaSlots + <u64>unitCount * UNIT_SLOTS) << 12;
}

/** The zonelist allocations walk from now on: n distinct node ids (u32) in IO. 0, or -EINVAL (unchanged). */
export function dramSetZonelist(n: u32): i32 {
  if (n == 0 || n > nNodes) return EINVAL;
  for (let i: u32 = 0; i < n; i++) {
    const v = load<u32>(IO + (<usize>i << 2));
    if (v >= nNodes) return EINVAL;
    for (let j: u32 = 0; j < i; j++) if (load<u32>(IO + (<usize>j << 2)) == v) return EINVAL;
  }
  memory.copy(zonelist, IO, <usize>n << 2);
  zlLen = n;
  return 0;
}

/** Node ids below this have a node record (the highest node a range was ever given, plus one). */
export function dramNodeCount(): u32 {
  return nNodes;
}

/** dramStats' result in RES (src/core/wasm.ts reads it): f64 pages in all, free, then in use per purpose. */
@unmanaged
class DramStats {
  totalPages: f64;
  freePages: f64;
  byPurpose0: f64; // PURPOSES of them
}

export function dramStatsToRes(): void {
  const r = changetype<DramStats>(RES);
  r.totalPages = <f64>totalPages;
  r.freePages = <f64>freeCount;
  const by = RES + offsetof<DramStats>('byPurpose0');
  for (let p: i32 = 0; p < PURPOSES; p++) store<f64>(by + (<usize>p << 3), <f64>load<i64>(CTL_PURPOSE + (<usize>p << 3)));
}

/** The same for node nid (zeros for an id without a record): its pages, free pages and pages in use per purpose. */
export function dramNodeStatsToRes(nid: u32): void {
  const r = changetype<DramStats>(RES);
  const by = RES + offsetof<DramStats>('byPurpose0');
  const known = nid < nNodes;
  const nt = nodeAt(known ? nid : 0);
  r.totalPages = known ? <f64>load<u64>(nt + NODE_TOTAL) : 0;
  r.freePages = known ? <f64>load<u64>(nt + NODE_FREE) : 0;
  for (let p: i32 = 0; p < PURPOSES; p++) store<f64>(by + (<usize>p << 3), known ? <f64>load<i64>(nt + NODE_PURPOSE + (<usize>p << 3)) : 0);
}
