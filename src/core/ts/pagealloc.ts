/**
 * The DRAM page allocator (twin of assembly/pagealloc.ts; docs/core.md "DRAM page allocator"):
 * lowest-addressed, naturally aligned free block first, inside one RAM range, on the first node of the
 * zonelist (setZonelist) that has one.
 *
 * Its host memory and set-up time do not grow with the RAM: each range holds one free count per 1 GiB
 * chunk (2^18 pages). A chunk wholly free or wholly used is just its count; only a chunk partly used has
 * a materialised bitmap (1 = in use or outside the range) and free counts per 2 MiB block, and drops them
 * when it becomes wholly free or wholly used again. Per node, class (movable or not) and order, a hint
 * (a pfn no free block of that order lies below) keeps repeated searches short.
 */
import { ALLOC_MOVABLE, EBUSY, EFAULT, EINVAL, ENOMEM, EventType, FaultKind, MAX_NUMNODES, PURPOSES, type DramStats, type Purpose } from '../core.ts';
import type { PhysMem } from './physmem.ts';
import type { Events, Faults } from './state.ts';

/** Orders above this are refused (-ENOMEM), as in the Wasm core. */
export const MAX_ORDER = 30;
/** Pages a chunk spans (1 GiB), and a 2 MiB block. */
const CHUNK_SHIFT = 18;
const CHUNK = 2 ** CHUNK_SHIFT;
const BLOCK = 512;
/** Pfns at or above this are not RAM the allocator can hold (52-bit physical addresses). */
export const MAX_PFN = 2 ** 40;
/** Zone classes: ZONE_NORMAL (everything the kernel allocates for itself) and ZONE_MOVABLE. */
const CLASSES = 2;
/** The classes an allocation searches, in order: a movable one ZONE_MOVABLE first (the zonelist lists it above ZONE_NORMAL). */
const MOVABLE_FIRST = [1, 0] as const;
const NORMAL_ONLY = [0] as const;

/** A partly used chunk's bitmap and per-block free counts. */
class Mat {
  readonly bits = new Uint32Array(CHUNK / 32);
  readonly blockFree = new Uint16Array(CHUNK / BLOCK);
}

const alignUp = (x: number, a: number) => Math.ceil(x / a) * a;

/** Set (used) or clear bits [a, b) of a bitmap, whole words at a time. */
function setBits(bits: Uint32Array, a: number, b: number, used: boolean): void {
  let k = a;
  for (; k < b && k & 31; k++) bits[k >>> 5] = used ? bits[k >>> 5] | (1 << (k & 31)) : bits[k >>> 5] & ~(1 << (k & 31));
  const w = (b - k) >>> 5;
  if (w > 0) bits.fill(used ? 0xffffffff : 0, k >>> 5, (k >>> 5) + w);
  for (k += w * 32; k < b; k++) bits[k >>> 5] = used ? bits[k >>> 5] | (1 << (k & 31)) : bits[k >>> 5] & ~(1 << (k & 31));
}

/** The end of the range pfn is in: its record's, or its block's in a run. */
function blockEnd(r: RamRange, pfn: number): number {
  return r.shift === 0 ? r.end : Math.min(r.end, (Math.floor(pfn / 2 ** r.shift) + 1) * 2 ** r.shift);
}

/** The start of the range pfn is in: its record's, or its block's past the gap in a run. */
function blockStart(r: RamRange, pfn: number): number {
  return r.shift === 0 ? r.start : Math.floor(pfn / 2 ** r.shift) * 2 ** r.shift + r.gap;
}

/** A copy of a partly used chunk's bitmap masked to pages [lo, hi) (the rest reads as used), recounted; and its free pages. */
function matClip(m: Mat, lo: number, hi: number): { mat: Mat; free: number } {
  const c = new Mat();
  c.bits.set(m.bits);
  setBits(c.bits, 0, lo, true);
  setBits(c.bits, hi, CHUNK, true);
  let free = 0;
  for (let b = 0; b < CHUNK / BLOCK; b++) {
    let used = 0;
    for (let w = b * 16; w < b * 16 + 16; w++) {
      let v = c.bits[w];
      v = v - ((v >>> 1) & 0x55555555);
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
      used += (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
    }
    c.blockFree[b] = BLOCK - used;
    free += BLOCK - used;
  }
  return { mat: c, free };
}

class RamRange {
  /** Chunk index (pfn >> 18) of the first chunk. */
  readonly c0: number;
  /** Free pages per chunk: equal to the chunk's pages in the range = wholly free, 0 = wholly used. */
  readonly free: Uint32Array;
  readonly mats = new Map<number, Mat>();

  constructor(
    readonly start: number,
    readonly end: number,
    readonly node: number,
    readonly movable: boolean,
    /** A run of memory blocks of 2^shift pages (start aligned to them), one record for as many ranges; 0: one range. */
    readonly shift = 0,
    /** A gapped run: the first `gap` pages of every block (whole 2 MiB blocks) are not the allocator's; the ranges are [b + gap, b + 2^shift). */
    readonly gap = 0,
  ) {
    this.c0 = Math.floor(start / CHUNK);
    const n = Math.floor((end - 1) / CHUNK) - this.c0 + 1;
    this.free = new Uint32Array(n);
    this.free.fill(CHUNK);
    this.free[0] = this.cap(0);
    this.free[n - 1] = this.cap(n - 1);
    if (gap !== 0) for (let c = 0; c < n; c++) this.free[c] = this.cap(c);
  }

  /** Gap pages of a gapped run in [start, x) (x inside it). */
  gapBelow(x: number): number {
    const off = x - this.start;
    const bs = 2 ** this.shift;
    return Math.floor(off / bs) * this.gap + Math.min(off % bs, this.gap);
  }

  /** The allocator's pages: the span less a gapped run's gaps. */
  pages(): number {
    return this.end - this.start - (this.gap === 0 ? 0 : this.gapBelow(this.end));
  }

  /** First pfn of chunk c. */
  base(c: number): number {
    return (this.c0 + c) * CHUNK;
  }
  /** Pages of chunk c inside the range (a gapped run's gaps apart). */
  cap(c: number): number {
    const b = this.base(c);
    const lo = Math.max(this.start, b);
    const hi = Math.min(this.end, b + CHUNK);
    return hi - lo - (this.gap === 0 ? 0 : this.gapBelow(hi) - this.gapBelow(lo));
  }

  /** Chunk c's bitmap, made from its count if it has none (wholly free or wholly used). */
  mat(c: number): Mat {
    let m = this.mats.get(c);
    if (m) return m;
    m = new Mat();
    const b = this.base(c);
    const lo = Math.max(this.start, b) - b;
    const hi = Math.min(this.end, b + CHUNK) - b;
    if (this.free[c] === 0) {
      m.bits.fill(0xffffffff);
    } else {
      // wholly free: only the pages outside the range count as used
      setBits(m.bits, 0, lo, true);
      setBits(m.bits, hi, CHUNK, true);
      for (let blk = 0; blk < CHUNK / BLOCK; blk++) m.blockFree[blk] = Math.max(0, Math.min(hi, (blk + 1) * BLOCK) - Math.max(lo, blk * BLOCK));
      // a gapped run's gaps (whole 2 MiB blocks) read as used
      const bs = 2 ** this.shift;
      if (this.gap !== 0)
        for (let blk = Math.max(this.start, Math.floor(b / bs) * bs); blk < b + hi; blk += bs) {
          const g0 = Math.max(blk, b) - b;
          const g1 = Math.min(blk + this.gap, b + hi) - b;
          if (g1 <= g0) continue;
          setBits(m.bits, g0, g1, true);
          m.blockFree.fill(0, g0 / BLOCK, g1 / BLOCK);
        }
    }
    this.mats.set(c, m);
    return m;
  }

  /** f(c, lo, hi) for each chunk c that pages [pfn, pfn + n) touch, lo..hi their offsets in it; stops when f returns false. */
  private eachChunk(pfn: number, n: number, f: (c: number, lo: number, hi: number) => boolean): boolean {
    for (let p = pfn; p < pfn + n; ) {
      const c = Math.floor(p / CHUNK) - this.c0;
      const b = this.base(c);
      const q = Math.min(pfn + n, b + CHUNK);
      if (!f(c, p - b, q - b)) return false;
      p = q;
    }
    return true;
  }

  /** Mark pages [pfn, pfn + n) (inside the range) used or free, chunk by chunk. */
  mark(pfn: number, n: number, used: boolean): void {
    this.eachChunk(pfn, n, (c, lo, hi) => {
      const cap = this.cap(c);
      if (hi - lo === cap) {
        // the whole chunk: its count says it all
        this.mats.delete(c);
        this.free[c] = used ? 0 : cap;
        return true;
      }
      const m = this.mat(c);
      setBits(m.bits, lo, hi, used);
      for (let blk = Math.floor(lo / BLOCK); blk * BLOCK < hi; blk++) {
        const d = Math.min(hi, (blk + 1) * BLOCK) - Math.max(lo, blk * BLOCK);
        m.blockFree[blk] += used ? -d : d;
      }
      this.free[c] += used ? lo - hi : hi - lo;
      if (this.free[c] === 0 || this.free[c] === cap) this.mats.delete(c);
      return true;
    });
  }

  /** Are all pages [pfn, pfn + n) (inside the range) used (or, with `used` false, free)? */
  all(pfn: number, n: number, used: boolean): boolean {
    return this.eachChunk(pfn, n, (c, lo, hi) => {
      const f = this.free[c];
      if (f === (used ? 0 : this.cap(c))) return true;
      if (f === (used ? this.cap(c) : 0)) return false;
      const { bits, blockFree } = this.mats.get(c)!;
      const want = used ? 0xffffffff : 0;
      // whole 2 MiB blocks by their free counts (inside the range: 512 free or 0), the ends by the bitmap
      const bitsAre = (a: number, b: number) => {
        let k = a;
        for (; k < b && k & 31; k++) if (((bits[k >>> 5] >>> (k & 31)) & 1) !== (used ? 1 : 0)) return false;
        for (; k + 32 <= b; k += 32) if (bits[k >>> 5] >>> 0 !== want) return false;
        for (; k < b; k++) if (((bits[k >>> 5] >>> (k & 31)) & 1) !== (used ? 1 : 0)) return false;
        return true;
      };
      const b0 = Math.ceil(lo / BLOCK);
      const b1 = Math.floor(hi / BLOCK);
      if (b1 <= b0) return bitsAre(lo, hi);
      const full = used ? 0 : BLOCK;
      for (let blk = b0; blk < b1; blk++) if (blockFree[blk] !== full) return false;
      return bitsAre(lo, b0 * BLOCK) && bitsAre(b1 * BLOCK, hi);
    });
  }

  /** The lowest free naturally aligned block of 2^order pages at or above pfn `from`, or -1. */
  find(order: number, from: number): number {
    const n = 2 ** order;
    const lo0 = Math.max(this.start, from);
    if (lo0 >= this.end) return -1;
    // a gapped run's blocks hold no aligned 2^order pages past their gap
    const bs = 2 ** this.shift;
    if (this.gap !== 0 && alignUp(this.gap, n) + n > bs) return -1;
    if (order > CHUNK_SHIFT) {
      // runs of whole free chunks, aligned in pfns
      const nc = n / CHUNK;
      for (let c = alignUp(Math.ceil(lo0 / CHUNK), nc) - this.c0; c + nc <= this.free.length; ) {
        let j = 0;
        while (j < nc && this.free[c + j] === CHUNK) j++;
        if (j === nc) return this.base(c);
        c = alignUp(this.c0 + c + j + 1, nc) - this.c0;
      }
      return -1;
    }
    for (let c = Math.floor(lo0 / CHUNK) - this.c0; c < this.free.length; c++) {
      const f = this.free[c];
      if (f < n) continue;
      const b = this.base(c);
      const lo = Math.max(lo0, b);
      const hi = Math.min(this.end, b + CHUNK);
      if (f === this.cap(c)) {
        if (this.gap === 0) {
          const p = alignUp(lo, n);
          if (p + n <= hi) return p;
          continue;
        }
        // a gapped run: past the gap of lo's block, else the next block's first fit
        for (let bb = Math.floor(lo / bs) * bs; bb < hi; bb += bs) {
          const p = alignUp(Math.max(lo, bb + this.gap), n);
          if (p + n <= Math.min(hi, bb + bs)) return p;
        }
        continue;
      }
      const m = this.mats.get(c)!;
      const at = order <= 9 ? findSmall(m, Math.floor((lo - b) / BLOCK), order) : findLarge(m, Math.floor((lo - b) / BLOCK), n / BLOCK);
      if (at >= 0) return b + at;
    }
    return -1;
  }
}

/** Offset in the chunk of the lowest free aligned 2^order (<= 9) pages in a block from blk on, or -1. */
function findSmall(m: Mat, blk: number, order: number): number {
  const n = 2 ** order;
  for (let b = blk; b < CHUNK / BLOCK; b++) {
    if (m.blockFree[b] < n) continue;
    const w0 = b * 16;
    if (order === 0) {
      for (let w = w0; w < w0 + 16; w++) {
        const v = m.bits[w];
        if (v !== 0xffffffff) return w * 32 + (31 - Math.clz32(~v & (v + 1)));
      }
    } else if (order < 5) {
      // bit j of f: pages j .. j + 2^order - 1 all free; keep only aligned j
      const aligned = [0, 0x55555555, 0x11111111, 0x01010101, 0x00010001][order];
      for (let w = w0; w < w0 + 16; w++) {
        let f = ~m.bits[w];
        for (let s = 1; s < n; s <<= 1) f &= f >>> s;
        f &= aligned;
        if (f !== 0) return w * 32 + (31 - Math.clz32(f & -f));
      }
    } else {
      // runs of 1, 2, 4, 8 or 16 zero words
      const nw = n / 32;
      for (let w = w0; w < w0 + 16; w += nw) {
        let k = 0;
        while (k < nw && m.bits[w + k] === 0) k++;
        if (k === nw) return w * 32;
      }
    }
  }
  return -1;
}

/** Offset of the lowest run of nb (aligned) wholly free blocks from block blk on, or -1. */
function findLarge(m: Mat, blk: number, nb: number): number {
  for (let b = alignUp(blk, nb); b + nb <= CHUNK / BLOCK; ) {
    let j = 0;
    while (j < nb && m.blockFree[b + j] === BLOCK) j++;
    if (j === nb) return b * BLOCK;
    b = alignUp(b + j + 1, nb);
  }
  return -1;
}

/** Are all pages of gapped run r's blocks in [a, b) (on its block grid) free? Chunks by their counts, blocks where a chunk is cut. */
function runFree(r: RamRange, a: number, b: number): boolean {
  const bs = 2 ** r.shift;
  for (let p = a; p < b; ) {
    const c = Math.floor(p / CHUNK) - r.c0;
    const cb = r.base(c);
    const q = Math.min(b, cb + CHUNK);
    if (p <= Math.max(cb, r.start) && q >= Math.min(cb + CHUNK, r.end)) {
      if (r.free[c] !== r.cap(c)) return false;
    } else {
      for (let bb = p; bb < q; bb += bs) if (!r.all(bb + r.gap, bs - r.gap, false)) return false;
    }
    p = q;
  }
  return true;
}

interface NodeCounts {
  totalPages: number;
  freePages: number;
  byPurpose: number[];
  /** Per class and order: no free block of that order in the node's ranges of that class below this pfn. */
  hints: Float64Array;
}

const newNode = (): NodeCounts => ({ totalPages: 0, freePages: 0, byPurpose: new Array<number>(PURPOSES).fill(0), hints: new Float64Array(CLASSES * (MAX_ORDER + 1)) });

/** The u64 the Wasm core makes of an f64 argument: truncated, saturated to i64, two's complement. */
function u64Of(x: number): bigint {
  if (Number.isNaN(x)) return 0n;
  if (x >= 2 ** 63) return (1n << 63n) - 1n;
  return BigInt.asUintN(64, BigInt(Math.trunc(Math.max(x, -(2 ** 63)))));
}

const isPfn = (x: number) => Number.isInteger(x) && x >= 0 && x <= MAX_PFN;
const orderOk = (order: number) => Number.isInteger(order) && order >= 0 && order <= MAX_ORDER;
const flagsOk = (flags: number) => flags === 0 || flags === ALLOC_MOVABLE;

export class PageAlloc {
  /** Sorted by start, disjoint. */
  private readonly ranges: RamRange[] = [];
  private totalPages = 0;
  private nrFree = 0;
  private readonly byPurpose = new Array<number>(PURPOSES).fill(0);
  /** Per node id up to the highest node a range was ever given. */
  private readonly nodes: NodeCounts[] = [newNode()];
  private zonelist: number[];

  constructor(
    ramRanges: Array<[number, number]>,
    ramNodes: readonly number[],
    private readonly mem: PhysMem,
    private readonly faults: Faults,
    private readonly events: Events,
  ) {
    // empty ranges are dropped (and their node ids not counted), as the Wasm core's dramInit drops them
    ramRanges.forEach(([s, e], i) => {
      if (e > s) this.insert(new RamRange(s, e, ramNodes[i] ?? 0, false));
    });
    this.zonelist = this.nodes.map((_, i) => i);
  }

  private insert(r: RamRange): void {
    let i = this.ranges.length;
    while (i > 0 && this.ranges[i - 1].start > r.start) i--;
    this.ranges.splice(i, 0, r);
    while (this.nodes.length <= r.node) this.nodes.push(newNode());
    const nc = this.nodes[r.node];
    const pages = r.pages();
    nc.totalPages += pages;
    nc.freePages += pages;
    this.totalPages += pages;
    this.nrFree += pages;
    // its free blocks may lie below any hint of its class
    const k = r.movable ? 1 : 0;
    for (let o = 0; o <= MAX_ORDER; o++) nc.hints[k * (MAX_ORDER + 1) + o] = Math.min(nc.hints[k * (MAX_ORDER + 1) + o], r.start);
  }

  /** The zonelist allocations walk from now on: distinct node ids with a record. 0 or -EINVAL (unchanged). */
  setZonelist(nodes: readonly number[]): number {
    if (!Array.isArray(nodes) || nodes.length === 0 || nodes.length > Math.min(MAX_NUMNODES, this.nodes.length)) return EINVAL;
    if (!nodes.every((v, i) => Number.isInteger(v) && v >= 0 && v < this.nodes.length && nodes.indexOf(v) === i)) return EINVAL;
    this.zonelist = [...nodes];
    return 0;
  }

  /** The range and pfn the next allocPages(order, flags) would take (searching, and moving hints), or null. */
  private search(order: number, flags: number): { r: RamRange; pfn: number } | null {
    const classes = flags & ALLOC_MOVABLE ? MOVABLE_FIRST : NORMAL_ONLY;
    for (const nid of this.zonelist) {
      const hints = this.nodes[nid].hints;
      for (const k of classes) {
        const h = k * (MAX_ORDER + 1) + order;
        const from = hints[h];
        for (let i = this.firstEndingAbove(from); i < this.ranges.length; i++) {
          const r = this.ranges[i];
          if (r.node !== nid || (r.movable ? 1 : 0) !== k) continue;
          // a run's blocks are ranges of their own: nothing larger than a block comes from it
          if (r.shift !== 0 && order > r.shift) continue;
          const pfn = r.find(order, from);
          if (pfn >= 0) {
            hints[h] = pfn;
            return { r, pfn };
          }
        }
        hints[h] = Infinity;
      }
    }
    return null;
  }

  /** Index of the first range ending above pfn. */
  private firstEndingAbove(pfn: number): number {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ranges[mid].end <= pfn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private take(r: RamRange, pfn: number, n: number, purpose: Purpose): void {
    r.mark(pfn, n, true);
    this.nrFree -= n;
    // allocated pages read as zero, whatever the host wrote into free RAM
    this.mem.discardFrames(pfn, pfn + n);
    const nc = this.nodes[r.node];
    nc.freePages -= n;
    if (Number.isInteger(purpose) && purpose >= 0 && purpose < PURPOSES) {
      this.byPurpose[purpose] += n;
      nc.byPurpose[purpose] += n;
    }
  }

  /** alloc_pages: the zonelist's first node with a free aligned block, its lowest one; the pfn or -ENOMEM. */
  allocPages(order: number, purpose: Purpose, flags = 0): number {
    if (!flagsOk(flags)) return EINVAL;
    if (this.faults.faultFires(FaultKind.DramAlloc)) return ENOMEM;
    if (!orderOk(order)) return ENOMEM;
    const at = this.search(order, flags);
    if (!at) return ENOMEM;
    this.take(at.r, at.pfn, 2 ** order, purpose);
    return at.pfn;
  }

  /**
   * `count` allocPages(order, purpose, flags) at once when they would return one contiguous run p,
   * p + 2^order, ...: p; else -1 and nothing changes (the caller loops). No fault injection.
   */
  allocPagesRun(order: number, count: number, purpose: Purpose, flags = 0): number {
    if (!orderOk(order) || !Number.isInteger(count) || count < 1 || count * 2 ** order > MAX_PFN || !flagsOk(flags)) return EINVAL;
    // with a fault armed each single call is an attempt: the caller makes them
    if (this.faults.anyArmed()) return -1;
    const at = this.search(order, flags);
    if (!at) return -1;
    const n = count * 2 ** order;
    if (at.pfn + n > blockEnd(at.r, at.pfn) || !at.r.all(at.pfn, n, false)) return -1;
    this.take(at.r, at.pfn, n, purpose);
    return at.pfn;
  }

  /** __free_pages: 0, or -EFAULT and a Bug event when the block is not allocated DRAM. */
  freePages(pfn: number, order: number, purpose: Purpose): number {
    const n = 2 ** order;
    const r = orderOk(order) && isPfn(pfn) ? this.ranges[this.firstEndingAbove(pfn)] : undefined;
    if (!r || pfn < r.start || pfn < blockStart(r, pfn) || pfn + n > blockEnd(r, pfn) || !r.all(pfn, n, true)) {
      this.events.emit(EventType.Bug, u64Of(pfn), BigInt.asUintN(64, BigInt(order | 0)));
      return EFAULT;
    }
    r.mark(pfn, n, false);
    this.nrFree += n;
    const nc = this.nodes[r.node];
    nc.freePages += n;
    if (Number.isInteger(purpose) && purpose >= 0 && purpose < PURPOSES) {
      this.byPurpose[purpose] -= n;
      nc.byPurpose[purpose] -= n;
    }
    // a free can only complete a block of order o that starts at pfn aligned down to 2^o; past the freed
    // order, none of 2 MiB or more while its 2 MiB block (or of 1 GiB and more while its chunk) is partly used
    const k = (r.movable ? 1 : 0) * (MAX_ORDER + 1);
    const c = Math.floor(pfn / CHUNK) - r.c0;
    const b0 = pfn - (pfn % BLOCK);
    const wholeBlock = order >= 9 || (b0 >= r.start && b0 + BLOCK <= r.end && r.all(b0, BLOCK, false));
    const wholeChunk = order >= CHUNK_SHIFT || (r.free[c] === CHUNK);
    for (let o = 0; o <= MAX_ORDER; o++) {
      if ((o >= 9 && !wholeBlock) || (o >= CHUNK_SHIFT && !wholeChunk)) break;
      const s = pfn - (pfn % 2 ** o);
      if (nc.hints[k + o] > s) nc.hints[k + o] = s;
    }
    this.mem.discardFrames(pfn, pfn + n);
    return 0;
  }

  /**
   * n order-0 pages [pfn, pfn + n) back at once (as assembly/pagealloc.ts freePagesRun): 0, or -EFAULT
   * with nothing changed and no Bug event when any is not allocated DRAM of one range.
   */
  freePagesRun(pfn: number, n: number, purpose: Purpose): number {
    const r = n > 0 && isPfn(pfn) ? this.ranges[this.firstEndingAbove(pfn)] : undefined;
    if (!r || pfn < r.start || pfn < blockStart(r, pfn) || pfn + n > blockEnd(r, pfn) || !r.all(pfn, n, true)) return EFAULT;
    r.mark(pfn, n, false);
    this.nrFree += n;
    const nc = this.nodes[r.node];
    nc.freePages += n;
    this.byPurpose[purpose] -= n;
    nc.byPurpose[purpose] -= n;
    const k = (r.movable ? 1 : 0) * (MAX_ORDER + 1);
    for (let o = 0; o <= MAX_ORDER; o++) {
      const s = pfn - (pfn % 2 ** o);
      if (nc.hints[k + o] > s) nc.hints[k + o] = s;
    }
    this.mem.discardFrames(pfn, pfn + n);
    return 0;
  }

  /** n allocated pages of the range holding pfn move from one purpose's count to another's. */
  purposeMove(pfn: number, n: number, from: Purpose, to: Purpose): void {
    const r = this.ranges[this.firstEndingAbove(pfn)];
    if (!r) return;
    const nc = this.nodes[r.node];
    this.byPurpose[from] -= n;
    nc.byPurpose[from] -= n;
    this.byPurpose[to] += n;
    nc.byPurpose[to] += n;
  }

  /** Hot-add: RAM [startPfn, endPfn) of node `node` joins the allocator, all free (ZONE_MOVABLE with `movable`). 0 or -EINVAL. */
  dramAddRange(startPfn: number, endPfn: number, node: number, movable: boolean): number {
    if (!isPfn(startPfn) || !isPfn(endPfn) || !(endPfn > startPfn)) return EINVAL;
    if (!Number.isInteger(node) || node < 0 || node >= MAX_NUMNODES || typeof movable !== 'boolean') return EINVAL;
    const i = this.firstEndingAbove(startPfn);
    if (i < this.ranges.length && this.ranges[i].start < endPfn) {
      if (this.heldIn(startPfn, endPfn)) return EINVAL;
      // it meets only the gap of a gapped run's block (one at most): that block a record of its own first
      this.openGap(i, Math.max(startPfn, this.ranges[i].start));
    }
    this.insert(new RamRange(startPfn, endPfn, node, movable));
    return 0;
  }

  /** Does any range held meet [s, e) (a gapped run's gaps are none)? */
  private heldIn(s: number, e: number): boolean {
    for (let k = this.firstEndingAbove(s); k < this.ranges.length; k++) {
      const r = this.ranges[k];
      if (r.start >= e) return false;
      if (r.gap === 0) return true;
      const a = Math.max(s, r.start);
      const b = Math.min(e, r.end);
      if (b - a > r.gapBelow(b) - r.gapBelow(a)) return true;
    }
    return false;
  }

  /** The block of gapped run i holding gap pfn x made a range record of its own, [b + gap, b + 2^shift); nothing an allocation sees changes. */
  private openGap(i: number, x: number): void {
    const bs = 2 ** this.ranges[i].shift;
    const b = Math.floor(x / bs) * bs;
    const k = this.isolate(i, b, b + bs);
    const o = this.ranges[k];
    const r = new RamRange(b + o.gap, b + bs, o.node, o.movable);
    // the chunks wholly in the gap (free 0, no bitmap) leave; the rest reads alike (gap pages as used)
    const d = r.c0 - o.c0;
    for (let c = 0; c < r.free.length; c++) {
      r.free[c] = o.free[c + d];
      const m = o.mats.get(c + d);
      if (m) r.mats.set(c, m);
    }
    this.ranges[k] = r;
  }

  /**
   * Hot-add `count` ranges at once, [startPfn + i * stride, + nrPages) for i < count, as count dramAddRange
   * calls in address order would; all or nothing: 0, or -EINVAL (bad arguments, nrPages > stride, or a
   * range the allocator holds inside the span).
   */
  dramAddRanges(startPfn: number, nrPages: number, count: number, stride: number, node: number, movable: boolean): number {
    if (!isPfn(startPfn) || !Number.isInteger(nrPages) || !Number.isInteger(count) || !Number.isInteger(stride) || nrPages < 1 || count < 1 || stride < nrPages) return EINVAL;
    if (!Number.isInteger(node) || node < 0 || node >= MAX_NUMNODES || typeof movable !== 'boolean') return EINVAL;
    if (count - 1 > (MAX_PFN - startPfn) / stride) return EINVAL;
    const last = startPfn + (count - 1) * stride;
    if (last + nrPages > MAX_PFN) return EINVAL;
    if (this.heldIn(startPfn, last + nrPages)) return EINVAL;
    const i = this.firstEndingAbove(startPfn);
    if (i < this.ranges.length && this.ranges[i].start < last + nrPages) {
      // only gaps of gapped runs inside the span: range by range, each opening its block
      for (let k = 0; k < count; k++) this.dramAddRange(startPfn + k * stride, startPfn + k * stride + nrPages, node, movable);
      return 0;
    }
    if (count === 1) return this.dramAddRange(startPfn, startPfn + nrPages, node, movable);
    const pow2 = Number.isInteger(Math.log2(stride));
    if (nrPages === stride && stride >= 2 && pow2 && startPfn % stride === 0) {
      // one record for the run
      this.insert(new RamRange(startPfn, startPfn + count * stride, node, movable, Math.log2(stride)));
      return 0;
    }
    const gap = stride - nrPages;
    if (gap !== 0 && startPfn >= gap && pow2 && gap % BLOCK === 0 && (startPfn - gap) % stride === 0 && (i === 0 || this.ranges[i - 1].end <= startPfn - gap)) {
      // one record for the run, each block's first gap pages (its memmap, memmap_on_memory) left out: a gapped run
      this.insert(new RamRange(startPfn - gap, last + nrPages, node, movable, Math.log2(stride), gap));
      return 0;
    }
    // the table opens count places at i in one move (no spread: a run may be a million blocks)
    const rs = this.ranges;
    const tail = rs.length - i;
    rs.length += count;
    for (let j = tail - 1; j >= 0; j--) rs[i + count + j] = rs[i + j];
    for (let k = 0; k < count; k++) rs[i + k] = new RamRange(startPfn + k * stride, startPfn + k * stride + nrPages, node, movable);
    while (this.nodes.length <= node) this.nodes.push(newNode());
    const nc = this.nodes[node];
    const pages = count * nrPages;
    nc.totalPages += pages;
    nc.freePages += pages;
    this.totalPages += pages;
    this.nrFree += pages;
    // their free blocks may lie below any hint of their class: the first one's start is the lowest
    const k = movable ? 1 : 0;
    for (let o = 0; o <= MAX_ORDER; o++) nc.hints[k * (MAX_ORDER + 1) + o] = Math.min(nc.hints[k * (MAX_ORDER + 1) + o], startPfn);
    return 0;
  }

  /** Where range [s, e) is held: the index of its record (one range, or a block of a run), or -1. */
  private rangeAt(s: number, e: number): number {
    const i = this.firstEndingAbove(s);
    const r = this.ranges[i];
    if (!r) return -1;
    const block = r.shift === 0 ? 0 : 2 ** r.shift;
    if (r.gap === 0 && r.start === s && r.end === e && (r.shift === 0 || e - s === block)) return i;
    // a block of a run: [b + gap, b + 2^shift)
    if (r.shift === 0 || e - s + r.gap !== block || s < r.start + r.gap || e > r.end || (s - r.gap - r.start) % block !== 0) return -1;
    return i;
  }

  /** Run i split at pfn x (inside it, on its block grid) into [start, x) at i and [x, end) at i + 1; nothing an allocation sees changes. */
  private split(i: number, x: number): void {
    const o = this.ranges[i];
    const l = new RamRange(o.start, x, o.node, o.movable, o.shift, o.gap);
    const r = new RamRange(x, o.end, o.node, o.movable, o.shift, o.gap);
    const co = Math.floor(x / CHUNK) - o.c0;
    for (let c = 0; c < l.free.length; c++) {
      l.free[c] = o.free[c];
      const m = o.mats.get(c);
      if (m) l.mats.set(c, m);
    }
    for (let c = 0; c < r.free.length; c++) {
      r.free[c] = o.free[co + c];
      const m = o.mats.get(co + c);
      if (m) r.mats.set(c, m);
    }
    if (co === l.free.length - 1) {
      // the chunk both keep: each side's part of it
      const cb = o.base(co);
      const m = o.mats.get(co);
      const lc = l.free.length - 1;
      if (!m) {
        const used = o.free[co] === 0;
        l.free[lc] = used ? 0 : l.cap(lc);
        r.free[0] = used ? 0 : r.cap(0);
      } else {
        const a = matClip(m, Math.max(o.start, cb) - cb, x - cb);
        const b = matClip(m, x - cb, Math.min(o.end, cb + CHUNK) - cb);
        l.free[lc] = a.free;
        r.free[0] = b.free;
        if (a.free === 0 || a.free === l.cap(lc)) l.mats.delete(lc);
        else l.mats.set(lc, a.mat);
        if (b.free === 0 || b.free === r.cap(0)) r.mats.delete(0);
        else r.mats.set(0, b.mat);
      }
    }
    this.ranges.splice(i, 1, l, r);
  }

  /** Record i cut so that [s, e) (on its grid) is a record of its own; its index. */
  private isolate(i: number, s: number, e: number): number {
    let k = i;
    if (this.ranges[k].start < s) this.split(k++, s);
    if (this.ranges[k].end > e) this.split(k, e);
    return k;
  }

  /** How many of n blocks [p + i * stride, + len) from p the gapped run holding p holds (it holds p's): 1 when it is no such run. */
  private heldBlocks(p: number, len: number, stride: number, n: number): number {
    const r = this.ranges[this.firstEndingAbove(p)];
    if (!r || r.gap === 0 || r.gap !== stride - len || 2 ** r.shift !== stride || p < r.start + r.gap) return 1;
    return Math.max(1, Math.min(n, (r.end - (p - r.gap)) / stride));
  }

  /** Drop record i, wholly free, and its pages from the counts. */
  private drop(i: number): void {
    const r = this.ranges[i];
    const n = r.pages();
    this.ranges.splice(i, 1);
    this.totalPages -= n;
    this.nrFree -= n;
    this.nodes[r.node].totalPages -= n;
    this.nodes[r.node].freePages -= n;
  }

  /**
   * Hot-remove `count` ranges at once, each exactly as held (a range, or a block of a run),
   * [startPfn + i * stride, + nrPages); all or nothing: 0, -EINVAL or -EBUSY.
   */
  dramRemoveRanges(startPfn: number, nrPages: number, count: number, stride: number): number {
    if (!isPfn(startPfn) || !Number.isInteger(nrPages) || !Number.isInteger(count) || !Number.isInteger(stride) || nrPages < 1 || count < 1 || stride < nrPages) return EINVAL;
    if (count - 1 > (MAX_PFN - startPfn) / stride) return EINVAL;
    const end = startPfn + (count - 1) * stride + nrPages;
    if (end > MAX_PFN) return EINVAL;
    if (nrPages !== stride) {
      // apart: each its own record, checked first, then removed; a gapped run's blocks among them at once
      const gap = stride - nrPages;
      for (let k = 0; k < count; k += this.heldBlocks(startPfn + k * stride, nrPages, stride, count - k)) if (this.rangeAt(startPfn + k * stride, startPfn + k * stride + nrPages) < 0) return EINVAL;
      for (let k = 0; k < count; ) {
        const p = startPfn + k * stride;
        const r = this.ranges[this.rangeAt(p, p + nrPages)];
        const n = this.heldBlocks(p, nrPages, stride, count - k);
        if (n > 1 ? !runFree(r, p - gap, p - gap + n * stride) : !r.all(p, nrPages, false)) return EBUSY;
        k += n;
      }
      const i1 = this.firstEndingAbove(startPfn + (count - 1) * stride);
      const i0g = this.firstEndingAbove(startPfn);
      if (this.ranges.slice(i0g, i1 + 1).some((r) => r.gap !== 0) && Number.isInteger(Math.log2(stride)) && startPfn >= gap) {
        for (let k = i1; k >= i0g; k--) {
          const r = this.ranges[k];
          if (r.gap === 0) {
            // a range of its own: one of them, or another in a hole between them
            if (r.start >= startPfn && (r.start - startPfn) % stride === 0 && r.end === r.start + nrPages) this.drop(k);
            continue;
          }
          if (r.gap !== gap || 2 ** r.shift !== stride) continue;
          this.drop(this.isolate(k, Math.max(r.start, startPfn - gap), Math.min(r.end, end)));
        }
        return 0;
      }
      // records of their own, one after the other in the table (memory blocks with memmap_on_memory): one move
      const i0 = this.firstEndingAbove(startPfn);
      let own = i0 + count <= this.ranges.length;
      for (let k = 0; own && k < count; k++) {
        const r = this.ranges[i0 + k];
        own = r.start === startPfn + k * stride && r.end === startPfn + k * stride + nrPages && r.shift === 0;
      }
      if (own) {
        for (let k = 0; k < count; k++) {
          const r = this.ranges[i0 + k];
          this.nodes[r.node].totalPages -= nrPages;
          this.nodes[r.node].freePages -= nrPages;
        }
        this.ranges.splice(i0, count);
        this.totalPages -= count * nrPages;
        this.nrFree -= count * nrPages;
        return 0;
      }
      for (let k = 0; k < count; k++) this.dramRemoveRange(startPfn + k * stride, startPfn + k * stride + nrPages);
      return 0;
    }
    // adjacent: the records from startPfn to end, each a range of nrPages or a run of nrPages-page blocks
    const i0 = this.firstEndingAbove(startPfn);
    let pos = startPfn;
    let i = i0;
    while (pos < end) {
      const r = this.ranges[i];
      if (!r || r.start > pos) return EINVAL;
      if (r.shift === 0) {
        if (r.start !== pos || r.end - r.start !== nrPages || r.end > end) return EINVAL;
      } else if (r.gap !== 0 || 2 ** r.shift !== nrPages || (pos - r.start) % nrPages !== 0) return EINVAL;
      pos = Math.min(r.end, end);
      i++;
    }
    pos = startPfn;
    for (let k = i0; k < i; k++) {
      const to = Math.min(this.ranges[k].end, end);
      if (!this.ranges[k].all(pos, to - pos, false)) return EBUSY;
      pos = to;
    }
    // the first and the last record may reach past the span: cut them there
    const first = this.isolate(i0, startPfn, Math.min(this.ranges[i0].end, end));
    const last = first + (i - 1 - i0);
    if (this.ranges[last].end > end) this.split(last, end);
    for (let k = last; k >= first; k--) this.drop(k);
    return 0;
  }

  /** Hot-remove exactly the range [startPfn, endPfn) (a range, or a block of a run): 0, -EINVAL (no such range) or -EBUSY (a page of it in use). */
  dramRemoveRange(startPfn: number, endPfn: number): number {
    if (!isPfn(startPfn) || !(endPfn > startPfn)) return EINVAL;
    const at = this.rangeAt(startPfn, endPfn);
    if (at < 0) return EINVAL;
    if (!this.ranges[at].all(startPfn, endPfn - startPfn, false)) return EBUSY;
    this.drop(this.isolate(at, startPfn - this.ranges[at].gap, endPfn));
    return 0;
  }

  /** Bytes of host memory the allocator's tables take: ranges' chunk counts and materialised chunks. */
  hostBytes(): number {
    return this.ranges.reduce((a, r) => a + r.free.byteLength + r.mats.size * (CHUNK / 8 + (CHUNK / BLOCK) * 2), 0) + this.nodes.length * 8 * (PURPOSES + 2 + CLASSES * (MAX_ORDER + 1));
  }

  dramStats(): DramStats {
    return { totalPages: this.totalPages, freePages: this.nrFree, byPurpose: [...this.byPurpose], byNode: this.nodes.map((c) => ({ totalPages: c.totalPages, freePages: c.freePages, byPurpose: [...c.byPurpose] })) };
  }
}
