/**
 * The DRAM page allocator (docs/core.md "DRAM page allocator").
 *
 * allocPages(order) returns the lowest-addressed naturally aligned block of 2^order free pages wholly
 * inside one RAM range. RAM ranges are packed into one bit space (layout.ts): range r's pfn s sits at
 * bit base + (s - start) with base ≡ start (mod 512), so each 512-bit block is one naturally aligned
 * 2 MiB of one range and natural alignment below 2 MiB is the same in pfns and in bits.
 *
 *   bitmap   1 bit per page, 1 = in use (or not RAM: the parts of a range's first/last block outside it)
 *   counts   free pages per 512-page block (u16), to skip full blocks without reading the bitmap
 *   hints    per order, a block below which no free block of that order exists (lowered by frees)
 *
 * Orders 0..9 search inside one block at a time (bit tricks on its 8 words); orders 10..MAX_ORDER look
 * for runs of whole free blocks, aligned in pfn space.
 *
 * NUMA: each range belongs to a node (the SRAT's). An allocation walks the zonelist the host set
 * (dramSetZonelist: the preferred node, then its fallbacks by distance, as build_zonelists orders them)
 * and takes the lowest free block of the first node that has one. Hints and counters are per node, in
 * the node table after the range table.
 */
import { EFAULT, EINVAL, ENOMEM, EVENT_BUG, FAULT_DRAM_ALLOC, MAX_NUMNODES, PURPOSES } from './abi';
import { CTL_PURPOSE, DYN, IO, MEMORY_LIMIT, NODE_REC, RANGE_REC, RANGE_IO, RES } from './layout';
import { discardFrames } from './physmem';
import { emit, ensureMemory, faultFires, faultsArmed } from './state';

const MAX_ORDER: i32 = 30;

let nRanges: u32 = 0;
let nBlocks: u32 = 0;
let counts: usize = 0;
let bitmap: usize = 0;
let totalPages: u64 = 0;
let freeCount: u64 = 0;
/** The node table (NODE_REC bytes a node id below nNodes), then the zonelist (zlLen node ids, u32). */
let nodes: usize = 0;
let nNodes: u32 = 1;
let zonelist: usize = 0;
let zlLen: u32 = 1;

// ---- range table ----
/** A RAM range [start, end), the bit of its first pfn (`base`) and its 512-page blocks [b0, b1). */
@unmanaged
class Range {
  start: u64;
  end: u64;
  base: u64;
  b0: u32;
  b1: u32;
  node: u32;
  pad: u32;
}
if (offsetof<Range>() != RANGE_REC) ERROR('class Range must be RANGE_REC bytes');

// A node's record (NODE_REC bytes): search hints per order (no free block of that order below this block
// in the node), its pages, its free pages and its pages in use by purpose.
const NODE_HINTS: usize = 0; // 32 x u32
const NODE_TOTAL: usize = 128; // u64
const NODE_FREE: usize = 136; // u64
const NODE_PURPOSE: usize = 144; // PURPOSES x i64
if (NODE_PURPOSE + <usize>PURPOSES * 8 > NODE_REC) ERROR('a node record must fit NODE_REC bytes');

/** A RAM range as the host writes it into IO for init (src/core/wasm.ts). */
@unmanaged
class RangeInput {
  start: f64;
  end: f64;
  node: f64;
}
if (offsetof<RangeInput>() != RANGE_IO) ERROR('class RangeInput must be RANGE_IO bytes');

@inline
function range(r: u32): Range {
  return changetype<Range>(DYN + <usize>r * RANGE_REC);
}
@inline
function rStart(r: u32): u64 {
  return range(r).start;
}
@inline
function rEnd(r: u32): u64 {
  return range(r).end;
}
@inline
function rBase(r: u32): u64 {
  return range(r).base;
}
@inline
function rB0(r: u32): u32 {
  return range(r).b0;
}
@inline
function rB1(r: u32): u32 {
  return range(r).b1;
}

/** The range holding pfn, or -1. */
function rangeOfPfn(pfn: u64): i32 {
  let lo: u32 = 0;
  let hi = nRanges;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rStart(mid) <= pfn) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return -1;
  const r = lo - 1;
  return pfn < rEnd(r) ? <i32>r : -1;
}

/** The range owning block b (blocks are never shared between ranges). */
function rangeOfBlock(b: u32): u32 {
  let lo: u32 = 0;
  let hi = nRanges;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rB0(mid) <= b) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

@inline
function countAt(b: u64): usize {
  return counts + (<usize>b << 1);
}
@inline
function wordAt(bit: u64): usize {
  return bitmap + (<usize>(bit >> 6) << 3);
}
@inline
function rNode(r: u32): u32 {
  return range(r).node;
}
@inline
function nodeAt(nid: u32): usize {
  return nodes + <usize>nid * NODE_REC;
}
@inline
function hintAt(nid: u32, order: i32): usize {
  return nodeAt(nid) + NODE_HINTS + (<usize>order << 2);
}

/**
 * Stage n RAM ranges [start, end) and their nodes given as f64 triples in IO as range records first.. (the
 * table at DYN), before dramInit: the host sends as many batches as the machine has ranges. 0, -ENOMEM, or
 * -EINVAL for a node that is not an integer below MAX_NUMNODES.
 */
export function dramStageRanges(first: u32, n: u32): i32 {
  if (!ensureMemory(<u64>DYN + (<u64>first + <u64>n) * RANGE_REC)) return ENOMEM;
  for (let k: u32 = 0; k < n; k++) {
    const input = changetype<RangeInput>(IO + <usize>k * offsetof<RangeInput>());
    const fs = input.start;
    const fe = input.end;
    const fn = input.node;
    if (!(fn >= 0 && fn < <f64>MAX_NUMNODES && fn == Math.floor(fn))) return EINVAL;
    const ok = fs >= 0 && fe > fs && fe <= 1.8446744073709552e19;
    const a = range(first + k);
    a.start = ok ? <u64>fs : 0;
    a.end = ok ? <u64>fe : 0;
    a.node = <u32>fn;
  }
  return 0;
}

/**
 * Set up the allocator over the n RAM ranges staged by dramStageRanges (empty ones are dropped; the table
 * is packed in place). Returns the first byte after the allocator's metadata (the pool starts there), or 0 (-ENOMEM).
 */
export function dramInit(n: u32): usize {
  if (!ensureMemory(<u64>DYN + <u64>n * RANGE_REC)) return 0;
  let bit: u64 = 0;
  let m: u32 = 0;
  totalPages = 0;
  let maxNode: u32 = 0;
  for (let k: u32 = 0; k < n; k++) {
    const s = range(k).start;
    const e = range(k).end;
    const nid = range(k).node;
    if (!(e > s)) continue;
    if (nid > maxNode) maxNode = nid;
    if (m > 0 && s < rEnd(m - 1)) return 0; // not sorted / overlapping
    const base = ((bit + 511) & ~(<u64>511)) + (s & 511);
    const endBit = base + (e - s);
    const a = range(m);
    a.start = s;
    a.end = e;
    a.base = base;
    a.b0 = <u32>(base >> 9);
    a.b1 = <u32>((endBit + 511) >> 9);
    a.node = nid;
    bit = endBit;
    totalPages += e - s;
    m++;
    if (bit > (<u64>1 << 36)) return 0;
  }
  nRanges = m;
  const blocks = (bit + 511) >> 9;
  nNodes = maxNode + 1;
  nodes = (DYN + <usize>n * RANGE_REC + 63) & ~(<usize>63);
  zonelist = nodes + <usize>nNodes * NODE_REC;
  counts = (zonelist + (<usize>nNodes << 2) + 63) & ~(<usize>63);
  bitmap = (counts + <usize>(blocks << 1) + 63) & ~(<usize>63);
  const end = (<u64>bitmap + (blocks << 6) + 0xffff) & ~(<u64>0xffff);
  // leave at least 64 MiB for page-table frames and the rest of the pool
  if (end + (<u64>64 << 20) > MEMORY_LIMIT) return 0;
  if (!ensureMemory(end)) return 0;
  nBlocks = <u32>blocks;
  memory.fill(nodes, 0, <usize>nNodes * NODE_REC);
  // until the host sets one: every node, by id
  for (let i: u32 = 0; i < nNodes; i++) store<u32>(zonelist + (<usize>i << 2), i);
  zlLen = nNodes;
  for (let r: u32 = 0; r < nRanges; r++) {
    const nt = nodeAt(rNode(r));
    store<u64>(nt + NODE_TOTAL, load<u64>(nt + NODE_TOTAL) + (rEnd(r) - rStart(r)));
    store<u64>(nt + NODE_FREE, load<u64>(nt + NODE_TOTAL));
  }
  for (let r: u32 = 0; r < nRanges; r++) {
    const b0 = rB0(r);
    const b1 = rB1(r);
    for (let b = b0; b < b1; b++) store<u16>(countAt(b), 512);
    const head = rBase(r) - (<u64>b0 << 9);
    const endBit = rBase(r) + (rEnd(r) - rStart(r));
    const tail = (<u64>b1 << 9) - endBit;
    if (head != 0) setBits(<u64>b0 << 9, head, true);
    if (tail != 0) setBits(endBit, tail, true);
  }
  freeCount = totalPages;
  return <usize>end;
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

/** Node ids below this have a node record (the highest node of a RAM range, plus one). */
export function dramNodeCount(): u32 {
  return nNodes;
}

/** Set (used) or clear bits [c, c + k), keeping the per-block free counts. */
function setBits(c: u64, k: u64, used: bool): void {
  // counts
  let pos = c;
  let rem = k;
  while (rem != 0) {
    const b = pos >> 9;
    const n = min<u64>(rem, ((b + 1) << 9) - pos);
    const at = countAt(b);
    store<u16>(at, used ? <u16>(<u64>load<u16>(at) - n) : <u16>(<u64>load<u16>(at) + n));
    pos += n;
    rem -= n;
  }
  // bits
  pos = c;
  const end = c + k;
  while (pos < end) {
    const bo = pos & 63;
    if (bo == 0 && end - pos >= 64) {
      const words = (end - pos) >> 6;
      memory.fill(wordAt(pos), used ? 0xff : 0, <usize>(words << 3));
      pos += words << 6;
      continue;
    }
    const n = min<u64>(64 - bo, end - pos);
    const mask = (n == 64 ? ~(<u64>0) : (<u64>1 << n) - 1) << bo;
    const w = wordAt(pos);
    store<u64>(w, used ? load<u64>(w) | mask : load<u64>(w) & ~mask);
    pos += n;
  }
}

/** All bits [c, c + k) set? */
function allSet(c: u64, k: u64): bool {
  let pos = c;
  const end = c + k;
  while (pos < end) {
    const bo = pos & 63;
    const n = min<u64>(64 - bo, end - pos);
    const mask = (n == 64 ? ~(<u64>0) : (<u64>1 << n) - 1) << bo;
    if ((load<u64>(wordAt(pos)) & mask) != mask) return false;
    pos += n;
  }
  return true;
}

/** Offset of the lowest free aligned run of 2^order (order <= 9) pages in block b, or -1. */
function findInBlock(b: u32, order: i32): i32 {
  const w = bitmap + (<usize>b << 6);
  if (order == 0) {
    for (let i: i32 = 0; i < 8; i++) {
      const v = load<u64>(w + (<usize>i << 3));
      if (v != ~(<u64>0)) return (i << 6) + <i32>ctz<u64>(~v);
    }
    return -1;
  }
  if (order < 6) {
    // bit j of m: pages j .. j + 2^order - 1 all free; keep only aligned j
    let aligned: u64 = 0x5555555555555555;
    if (order == 2) aligned = 0x1111111111111111;
    else if (order == 3) aligned = 0x0101010101010101;
    else if (order == 4) aligned = 0x0001000100010001;
    else if (order == 5) aligned = 0x0000000100000001;
    const k = 1 << order;
    for (let i: i32 = 0; i < 8; i++) {
      let m = ~load<u64>(w + (<usize>i << 3));
      for (let s = 1; s < k; s <<= 1) m &= m >> <u64>s;
      m &= aligned;
      if (m != 0) return (i << 6) + <i32>ctz<u64>(m);
    }
    return -1;
  }
  // order 6..9: runs of 1, 2, 4, 8 zero words
  const nw = 1 << (order - 6);
  for (let i: i32 = 0; i < 8; i += nw) {
    let free = true;
    for (let j: i32 = 0; j < nw; j++) {
      if (load<u64>(w + (<usize>(i + j) << 3)) != 0) {
        free = false;
        break;
      }
    }
    if (free) return i << 6;
  }
  return -1;
}

/** Bit index of node nid's lowest free block of order <= 9, or -1. */
function findSmall(order: i32, nid: u32): i64 {
  const need = <u32>(1 << order);
  const hint = hintAt(nid, order);
  const h = load<u32>(hint);
  if (h < nBlocks) {
    for (let r = rangeOfBlock(h); r < nRanges; r++) {
      if (rNode(r) != nid) continue;
      const b1 = rB1(r);
      for (let b = max<u32>(rB0(r), h); b < b1; b++) {
        if (<u32>load<u16>(countAt(b)) < need) continue;
        const off = findInBlock(b, order);
        if (off >= 0) {
          store<u32>(hint, b);
          return (<i64>b << 9) + off;
        }
      }
    }
  }
  store<u32>(hint, nBlocks);
  return -1;
}

/** Bit index of node nid's lowest free block of order > 9 (whole free 2 MiB blocks, aligned in pfns), or -1. */
function findLarge(order: i32, nid: u32): i64 {
  const nb = <u32>1 << <u32>(order - 9);
  const alignPfns = <u64>1 << <u64>order;
  const hint = hintAt(nid, order);
  const h = load<u32>(hint);
  for (let r: u32 = h < nBlocks ? rangeOfBlock(h) : nRanges; r < nRanges; r++) {
    const b1 = rB1(r);
    if (b1 <= h || rNode(r) != nid) continue;
    let b = max<u32>(rB0(r), h);
    // pfn of block b's first page (blocks are 512-aligned in pfns)
    const pfnOfBlock0 = rStart(r) - (rBase(r) - (<u64>rB0(r) << 9));
    while (<u64>b + nb <= <u64>b1) {
      const pfn = pfnOfBlock0 + (<u64>(b - rB0(r)) << 9);
      const mis = pfn & (alignPfns - 1);
      if (mis != 0) {
        b += <u32>((alignPfns - mis) >> 9);
        continue;
      }
      let j: u32 = 0;
      while (j < nb && load<u16>(countAt(b + j)) == 512) j++;
      if (j == nb) {
        store<u32>(hint, b);
        return <i64>b << 9;
      }
      b += j + 1;
    }
  }
  store<u32>(hint, nBlocks);
  return -1;
}

@inline
function purposeAdd(purpose: i32, delta: i64, nid: u32): void {
  const nt = nodeAt(nid);
  store<u64>(nt + NODE_FREE, load<u64>(nt + NODE_FREE) - <u64>delta);
  if (purpose >= 0 && purpose < PURPOSES) {
    const at = CTL_PURPOSE + (<usize>purpose << 3);
    store<i64>(at, load<i64>(at) + delta);
    const an = nt + NODE_PURPOSE + (<usize>purpose << 3);
    store<i64>(an, load<i64>(an) + delta);
  }
}

/** pfn of the lowest free naturally aligned block of 2^order pages, or -ENOMEM. The block reads as zero. */
export function allocPages(order: i32, purpose: i32): i64 {
  if (faultFires(FAULT_DRAM_ALLOC)) return ENOMEM;
  if (order < 0 || order > MAX_ORDER) return ENOMEM;
  let bit: i64 = -1;
  for (let i: u32 = 0; i < zlLen && bit < 0; i++) {
    const nid = load<u32>(zonelist + (<usize>i << 2));
    bit = order <= 9 ? findSmall(order, nid) : findLarge(order, nid);
  }
  if (bit < 0) return ENOMEM;
  const k = <u64>1 << <u64>order;
  setBits(<u64>bit, k, true);
  freeCount -= k;
  const r = rangeOfBlock(<u32>(bit >> 9));
  purposeAdd(purpose, <i64>k, rNode(r));
  const pfn = rStart(r) + (<u64>bit - rBase(r));
  // Frees discard; this also covers bytes a host wrote into free RAM.
  discardFrames(pfn, pfn + k);
  return <i64>pfn;
}

/** No bit of [c, c + k) set? */
function allClear(c: u64, k: u64): bool {
  let pos = c;
  const end = c + k;
  while (pos < end) {
    const bo = pos & 63;
    const n = min<u64>(64 - bo, end - pos);
    const mask = (n == 64 ? ~(<u64>0) : (<u64>1 << n) - 1) << bo;
    if ((load<u64>(wordAt(pos)) & mask) != 0) return false;
    pos += n;
  }
  return true;
}

/**
 * The effect of `count` allocPages(order, purpose) calls when they form one contiguous run: the first
 * block is the lowest fitting one of the first zonelist node with one, and every page up to the run's
 * end is free in the same range (then each next call finds the block after the last: nothing lower is
 * free, nor on an earlier node). The first pfn, or -1 with no change (also with a fault armed, where
 * each call is an attempt: the caller makes the single calls).
 */
export function allocPagesRun(order: i32, count: u64, purpose: i32): i64 {
  if (faultsArmed() || order < 0 || order > MAX_ORDER || count == 0 || count > (<u64>1 << 40)) return -1;
  let bit: i64 = -1;
  for (let i: u32 = 0; i < zlLen && bit < 0; i++) {
    const nid = load<u32>(zonelist + (<usize>i << 2));
    bit = order <= 9 ? findSmall(order, nid) : findLarge(order, nid);
  }
  if (bit < 0) return -1;
  const k = count << <u64>order;
  const r = rangeOfBlock(<u32>(bit >> 9));
  const pfn = rStart(r) + (<u64>bit - rBase(r));
  if (pfn + k > rEnd(r) || !allClear(<u64>bit, k)) return -1;
  setBits(<u64>bit, k, true);
  freeCount -= k;
  purposeAdd(purpose, <i64>k, rNode(r));
  discardFrames(pfn, pfn + k);
  return <i64>pfn;
}

/** Give a block back: 0, or a Bug event and -EFAULT when any page is not allocated DRAM (nothing changes). */
export function freePages(pfn: u64, order: i32, purpose: i32): i32 {
  if (order < 0 || order > MAX_ORDER) {
    emit(EVENT_BUG, pfn, <u64>order, 0, 0);
    return EFAULT;
  }
  const k = <u64>1 << <u64>order;
  const r = rangeOfPfn(pfn);
  if (r < 0 || pfn + k > rEnd(<u32>r) || pfn + k < pfn) {
    emit(EVENT_BUG, pfn, <u64>order, 0, 0);
    return EFAULT;
  }
  const c = rBase(<u32>r) + (pfn - rStart(<u32>r));
  if (!allSet(c, k)) {
    emit(EVENT_BUG, pfn, <u64>order, 0, 0);
    return EFAULT;
  }
  setBits(c, k, false);
  freeCount += k;
  const nid = rNode(<u32>r);
  purposeAdd(purpose, -<i64>k, nid);
  const b = <u32>(c >> 9);
  // a free that leaves its 2 MiB block partly used makes no new free block of order 9 or more: their hints stay
  // (HugeTLB's vmemmap pages freed one by one would otherwise send every 2 MiB search back to low memory)
  const whole = load<u16>(countAt(b)) == 512;
  for (let o: i32 = 0; o <= MAX_ORDER; o++) {
    if (o >= 9 && !whole) break;
    // a block of order > 9 the free may complete starts at the freed pfn aligned down to 2^order (within the range)
    let hb = b;
    if (o > 9) {
      const start = max<u64>(pfn & ~((<u64>1 << <u64>o) - 1), rStart(<u32>r));
      hb = <u32>((rBase(<u32>r) + (start - rStart(<u32>r))) >> 9);
    }
    const at = hintAt(nid, o);
    if (load<u32>(at) > hb) store<u32>(at, hb);
  }
  discardFrames(pfn, pfn + k);
  return 0;
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
